"""Authenticators: get credentials onto each request, cache what the vendor hands out, and
renew it before it expires or when the vendor refuses it.

The cache is a plain dict the engine keeps encrypted in ``ConnectorState`` between polls, so
every worker reuses one token or session instead of logging in per poll.
"""

import time
from abc import ABC, abstractmethod

from fleetwatch.connectors.http import AuthError, ClientError, Request, VendorHTTP


class Authenticator(ABC):
    def __init__(self, credentials: dict, cache: dict) -> None:
        self.credentials = credentials
        self.cache = cache  # mutated in place; the engine persists it

    @abstractmethod
    def apply(self, request: Request, http: VendorHTTP) -> None:
        """Put the credential on ``request`` (logging in first if needed)."""

    def invalidate(self, http: VendorHTTP) -> None:
        """The vendor refused what we sent: forget it so ``apply`` logs in again."""
        self.cache.clear()

    def secret_values(self) -> frozenset[str]:
        """Every credential and cached token or session (long enough to be one): the HTTP
        layer keeps them out of the logs."""
        values = [*self.credentials.values(), *self.cache.values()]
        return frozenset(v for v in values if isinstance(v, str) and len(v) >= 6)

    def _require(self, *names: str) -> list[str]:
        missing = [n for n in names if not self.credentials.get(n)]
        if missing:
            raise AuthError(f"the connector's credentials lack {', '.join(missing)}")
        return [self.credentials[n] for n in names]


class OAuth2ClientCredentials(Authenticator):
    """OAuth 2 client credentials: a token endpoint, a cached access token renewed
    ``renew_before`` seconds before it expires, and optionally a refresh token that is tried
    before a full login when the vendor refuses the access token (MetaAccess)."""

    def __init__(
        self,
        credentials: dict,
        cache: dict,
        *,
        token_path: str,
        placement: str = "header",  # "header" (Bearer) or "query" (?access_token=)
        renew_before: float = 300.0,
        use_refresh_token: bool = False,
        extra_form: dict | None = None,
    ) -> None:
        super().__init__(credentials, cache)
        self.token_path = token_path
        self.placement = placement
        self.renew_before = renew_before
        self.use_refresh_token = use_refresh_token
        self.extra_form = extra_form or {}

    def apply(self, request: Request, http: VendorHTTP) -> None:
        token = self.cache.get("access_token")
        if not token or time.time() >= self.cache.get("expires_at", 0) - self.renew_before:
            token = self._login(http)
        if self.placement == "query":
            request.params["access_token"] = token
        else:
            request.headers["Authorization"] = f"Bearer {token}"

    def invalidate(self, http: VendorHTTP) -> None:
        refresh = self.cache.get("refresh_token") if self.use_refresh_token else None
        self.cache.clear()
        if refresh:
            try:
                self._token_request(http, {"grant_type": "refresh_token", "refresh_token": refresh})
            except AuthError:
                self.cache.clear()  # fall back to a full login on next apply

    def _login(self, http: VendorHTTP) -> str:
        return self._token_request(http, {"grant_type": "client_credentials", **self.extra_form})

    def _token_request(self, http: VendorHTTP, form: dict) -> str:
        client_id, client_secret = self._require("client_id", "client_secret")
        try:
            _, body = http.request(
                "POST",
                self.token_path,
                data={**form, "client_id": client_id, "client_secret": client_secret},
            )
        except ClientError as exc:  # RFC 6749 errors are 400s
            raise AuthError(f"token request refused ({exc.status})", exc.status) from None
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthError("the token endpoint answered without an access_token")
        expires_in = float(body.get("expires_in") or 3600)
        self.cache.update(
            access_token=body["access_token"],
            expires_at=time.time() + expires_in,
            refresh_token=body.get("refresh_token") or self.cache.get("refresh_token"),
        )
        return body["access_token"]
