"""OAuth 2.0 tokens for the MetaAccess emulator: access tokens expire on the simulated clock."""

import secrets
from dataclasses import dataclass

from fleetwatch.emulators.clock import SimClock

CLIENT_ID = "fleetwatch-demo"
CLIENT_SECRET = "demo-secret"
ACCESS_TOKEN_TTL = 3600  # simulated seconds, reported as expires_in
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_MAX_TOKENS = 10_000


def _token() -> str:
    """48 upper-case alphanumerics, the shape of the vendor's documented sample tokens."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(48))


@dataclass(slots=True)
class AccessToken:
    client_id: str
    expires_at: float  # clock.elapsed() value
    refresh_token: str


class TokenStore:
    """Issued access and refresh tokens. Refresh tokens do not expire and are not rotated;
    ``revoke_all`` (the expire_credentials fault) invalidates both kinds."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.clients = {CLIENT_ID: CLIENT_SECRET}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, str] = {}  # refresh token -> client_id

    def client_ok(self, client_id: str, client_secret: str) -> bool:
        expected = self.clients.get(client_id)
        # bytes: compare_digest refuses str with non-ASCII characters (a TypeError, i.e. a 500)
        return expected is not None and secrets.compare_digest(
            expected.encode(), client_secret.encode("utf-8", "surrogatepass")
        )

    def issue(self, client_id: str, refresh_token: str | None = None) -> dict:
        """A new access token (and a new refresh token unless one is being used)."""
        self._prune()
        if refresh_token is None:
            refresh_token = _token()
            self.refresh[refresh_token] = client_id
        access_token = _token()
        self.access[access_token] = AccessToken(
            client_id, self.clock.elapsed() + ACCESS_TOKEN_TTL, refresh_token
        )
        return {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_TTL,
            "refresh_token": refresh_token,
        }

    def refresh_client(self, refresh_token: str) -> str | None:
        """The client a refresh token was issued to, or None if unknown or revoked."""
        return self.refresh.get(refresh_token)

    def validate(self, access_token: str | None) -> tuple[str | None, str]:
        """(client_id, "") for a valid token, else (None, why)."""
        if not access_token:
            return None, "access_token is required"
        record = self.access.get(access_token)
        if record is None:
            return None, "access_token is invalid"
        if self.clock.elapsed() >= record.expires_at:
            return None, "access_token has expired"
        return record.client_id, ""

    def revoke_all(self) -> None:
        self.access.clear()
        self.refresh.clear()

    def _prune(self) -> None:
        """Bound memory for clients that fetch a token per call."""
        if len(self.access) >= _MAX_TOKENS:
            now = self.clock.elapsed()
            self.access = {k: v for k, v in self.access.items() if v.expires_at > now}
            while len(self.access) >= _MAX_TOKENS:
                del self.access[next(iter(self.access))]
        while len(self.refresh) >= _MAX_TOKENS:
            del self.refresh[next(iter(self.refresh))]
