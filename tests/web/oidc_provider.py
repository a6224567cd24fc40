"""A small OpenID Connect provider on 127.0.0.1 for the SSO tests (a thread, no subprocess).

Discovery, an authorization endpoint that approves at once (redirecting back with a code and
the state), a token endpoint (client secret checked, PKCE S256 checked, codes single-use)
returning an RS256-signed ID token, the JWKS and userinfo. ``tamper`` spoils the next ID tokens
in one way, so a test can see the hub refuse them; ``hits`` counts requests per endpoint.
"""

import base64
import functools
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

KID = "test-key-1"


@functools.cache
def rsa_key(kid: str = KID, forged: bool = False) -> RSAKey:
    """One key per process (making a 2048-bit key takes a while); ``forged`` another one."""
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})


class LocalOIDCProvider:
    def __init__(self, client_id: str = "fleetwatch-hub", client_secret: str | None = None):
        self.client_id = client_id
        self.client_secret = client_secret or "cs-" + secrets.token_urlsafe(24)
        self.key = rsa_key()
        self.claims: dict[str, Any] = {"sub": "sub-carol", "preferred_username": "carol"}
        self.userinfo_extra: dict[str, Any] = {}
        self.tamper: str | None = None
        self.deny: str | None = None  # an OAuth error code the authorize endpoint answers with
        self.hits: Counter[str] = Counter()
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.server = ProviderServer(self)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "LocalOIDCProvider":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            **grant["claims"],
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
        }
        key = self.key
        if self.tamper == "audience":
            claims["aud"] = "some-other-app"
        elif self.tamper == "expired":
            claims.update(iat=now - 7200, exp=now - 3600)
        elif self.tamper == "issuer":
            claims["iss"] = "http://127.0.0.1:1/evil"
        elif self.tamper == "nonce":
            claims["nonce"] = "not-the-nonce"
        elif self.tamper == "key":  # signed by another key that claims to be ours
            key = rsa_key(forged=True)
        token = jwt.encode({"alg": "RS256", "kid": KID}, claims, key)
        if self.tamper == "payload":  # a valid token whose claims were changed afterwards
            header, _, signature = token.split(".")
            forged = {**claims, "sub": "sub-admin", "preferred_username": "admin"}
            payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
            token = f"{header}.{payload}.{signature}"
        return token


class ProviderServer(ThreadingHTTPServer):
    def __init__(self, provider: LocalOIDCProvider) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.provider = provider


class Handler(BaseHTTPRequestHandler):
    server: "ProviderServer"

    @property
    def provider(self) -> LocalOIDCProvider:
        return self.server.provider

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, body: Any, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.provider.hits[url.path] += 1
        if url.path == "/.well-known/openid-configuration":
            self._json(self.provider.discovery())
        elif url.path == "/jwks":
            self._json({"keys": [self.provider.key.as_dict(private=False)]})
        elif url.path == "/authorize":
            self._authorize(query)
        elif url.path == "/userinfo":
            self._userinfo()
        else:
            self._json({"error": "not_found"}, 404)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        self.provider.hits[url.path] += 1
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if url.path == "/token":
            self._token(form)
        else:
            self._json({"error": "not_found"}, 404)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _authorize(self, query: dict[str, str]) -> None:
        ok = (
            query.get("client_id") == self.provider.client_id
            and query.get("response_type") == "code"
            and "openid" in query.get("scope", "").split()
            and query.get("code_challenge_method") == "S256"
        )
        if not ok:
            self._json({"error": "invalid_request"}, 400)
            return
        back = {"state": query.get("state", "")}
        if self.provider.deny:
            back["error"] = self.provider.deny
        else:
            code = secrets.token_urlsafe(16)
            self.provider.codes[code] = {
                "redirect_uri": query["redirect_uri"],
                "nonce": query.get("nonce"),
                "challenge": query["code_challenge"],
                "claims": dict(self.provider.claims),
            }
            back["code"] = code
        self._redirect(query["redirect_uri"] + "?" + urlencode(back))

    def _client_ok(self, form: dict[str, str]) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == self.provider.client_id and secret == self.provider.client_secret

    def _token(self, form: dict[str, str]) -> None:
        self.provider.token_requests.append(form)
        if not self._client_ok(form):
            self._json({"error": "invalid_client"}, 401)
            return
        grant = self.provider.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            grant is None
            or grant["redirect_uri"] != form.get("redirect_uri")
            or grant["challenge"] != challenge
        ):
            self._json({"error": "invalid_grant"}, 400)
            return
        access = secrets.token_urlsafe(24)
        self.provider.access_tokens[access] = grant["claims"]
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.provider.id_token(grant),
        }
        self._json(body)

    def _userinfo(self) -> None:
        auth = self.headers.get("Authorization", "")
        claims = self.provider.access_tokens.get(auth.removeprefix("Bearer "))
        if claims is None:
            self._json({"error": "invalid_token"}, 401)
            return
        self._json({**claims, **self.provider.userinfo_extra})
