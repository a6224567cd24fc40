"""7SIGNAL's OAuth2: the demo client, HS256 JWTs that expire on the simulated clock, and the
RFC 6749/6750 error shapes the token endpoint and the bearer check answer with."""

import base64
import binascii
import secrets
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote

import jwt
from starlette.responses import JSONResponse

from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.sevensignal.model import to_ms

CLIENT_ID = "fleetwatch-demo"
CLIENT_SECRET = "demo-secret"
TOKEN_LIFETIME = 86_400  # simulated seconds; "cannot be changed" per the vendor docs
TOKEN_SCOPE = "read:resources write:resources"
RFC6749_URI = "https://datatracker.ietf.org/doc/html/rfc6749#section-5.2"
RFC6750_URI = "https://tools.ietf.org/html/rfc6750#section-3.1"
_MAX_VERIFIED = 4096


class Unauthorized(Exception):
    """A missing (``description`` None) or refused bearer token: a 401."""

    def __init__(self, description: str | None) -> None:
        super().__init__(description)
        self.description = description


def client_ok(client_id: str, client_secret: str) -> bool:
    """The one demo client (documented in docs/emulators/7signal.md)."""
    return client_id == CLIENT_ID and client_secret == CLIENT_SECRET


class TokenSigner:
    """Mints and verifies the JWTs; rotating the key revokes every token issued so far."""

    def __init__(self, clock: SimClock, organization: str) -> None:
        self.clock = clock
        self.organization = organization
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, dict] = {}  # token -> claims, for tokens already verified

    def issue(self, client_id: str) -> str:
        issued = to_ms(self.clock.now()) // 1000  # simulated time: expiry follows the clock
        claims = {
            "sub": client_id,
            "org": self.organization,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def subject(self, authorization: str) -> str:
        """The token's subject from an Authorization header; raises Unauthorized (a 401)."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(None)
        token = token.strip()
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = jwt.decode(
                    token,
                    self._key,
                    algorithms=["HS256"],
                    options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp"]},
                )
            except jwt.InvalidTokenError:
                raise Unauthorized("Invalid token") from None
            if len(self._verified) < _MAX_VERIFIED:  # verifying costs more than serving a page
                self._verified[token] = claims
        now = self.clock.now().timestamp()
        if claims["exp"] <= now:
            expired = datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise Unauthorized(f"Jwt expired at {expired}")
        return str(claims["sub"])

    def revoke_all(self) -> None:
        """Rotate the signing key: every token issued so far fails verification (401)."""
        self._key = secrets.token_bytes(32)
        self._verified = {}


def oauth_error(status: int, code: str, description: str) -> JSONResponse:
    """RFC 6749 §5.2 error body, uncacheable like every token endpoint answer."""
    return JSONResponse(
        {"error": code, "error_description": description, "error_uri": RFC6749_URI},
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def bearer_challenge(description: str | None) -> str:
    """The WWW-Authenticate value for a 401: bare for a missing token, RFC 6750 otherwise."""
    if description is None:
        return "Bearer"
    return (
        f'Bearer error="invalid_token", error_description="{description}", '
        f'error_uri="{RFC6750_URI}"'
    )


def basic_credentials(header: str) -> tuple[str, str] | None:
    """HTTP Basic client authentication (RFC 6749 §2.3.1), or None if absent or malformed."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote(client_id), unquote(secret)
