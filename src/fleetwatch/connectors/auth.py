"""Authenticators: flows the HTTP layer drives, like httpx's ``Auth.auth_flow``.

An authenticator is a generator over one request: it yields what to send — a token or login
request when it holds nothing valid, then a copy of the request with its credential — and
receives each :class:`~fleetwatch.connectors.http.Answer`. When the vendor refuses the
credential it decides the next step itself (refresh once, then a full login) and never calls
back into ``VendorHTTP.request``; the HTTP layer only sends, retries and counts. A flow ends
after yielding the caller's request; if that answer is still a refusal, the HTTP layer
raises AuthError ("credentials refused").

The cache is a plain dict the engine keeps encrypted in ``ConnectorState`` between polls, so
every worker reuses one token or session instead of logging in per poll.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Generator

from fleetwatch.connectors.http import Answer, AuthError, AuthFlow, Request

#: A sub-flow that sends token requests and returns whether it got a credential.
TokenFlow = Generator[Request, Answer, bool]


class Authenticator(ABC):
    def __init__(self, credentials: dict, cache: dict) -> None:
        self.credentials = credentials
        self.cache = cache  # mutated in place; the engine persists it

    @abstractmethod
    def auth_flow(self, request: Request) -> AuthFlow:
        """Yield the requests to send for ``request``, the last one ``request`` itself
        with the credential; each yield receives the vendor's answer."""

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
    ``renew_before`` seconds before it expires, and optionally a refresh token.

    When the vendor refuses the access token: the refresh grant once (if the vendor gave a
    refresh token and ``use_refresh_token``), and if the refreshed token is refused too — or
    the refresh itself is — a full login, the documented rule (MetaAccess; the PacketFence
    pattern). Only a refusal after a fresh login means the credentials are bad."""

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

    def valid(self) -> bool:
        return bool(self.cache.get("access_token")) and time.time() < (
            float(self.cache.get("expires_at", 0)) - self.renew_before
        )

    def auth_flow(self, request: Request) -> AuthFlow:
        if not self.valid():
            yield from self.login()
        answer = yield self.authorized(request)
        if not answer.refused:
            return
        refresh = self.cache.get("refresh_token") if self.use_refresh_token else None
        self.cache.pop("access_token", None)
        if refresh:
            grant = {"grant_type": "refresh_token", "refresh_token": refresh}
            if (yield from self.token_request(grant, refusal_is_fatal=False)):
                answer = yield self.authorized(request)
                if not answer.refused:
                    return
        # Refused again (or no refresh token): a full login before calling the credentials
        # bad. If the vendor refuses the request after this too, the HTTP layer says so.
        self.cache.clear()
        yield from self.login()
        yield self.authorized(request)

    def authorized(self, request: Request) -> Request:
        sent = request.copy()
        token = self.cache["access_token"]
        if self.placement == "query":
            sent.params["access_token"] = token
        else:
            sent.headers["Authorization"] = f"Bearer {token}"
        return sent

    def login(self) -> TokenFlow:
        grant = {"grant_type": "client_credentials", **self.extra_form}
        return (yield from self.token_request(grant, refusal_is_fatal=True))

    def token_request(self, form: dict, *, refusal_is_fatal: bool) -> TokenFlow:
        """One token request; True when it gave a token. A refused login is an AuthError; a
        refused refresh (``refusal_is_fatal`` False) is False, so the caller logs in."""
        client_id, client_secret = self._require("client_id", "client_secret")
        answer = yield Request(
            "POST",
            self.token_path,
            data={**form, "client_id": client_id, "client_secret": client_secret},
        )
        body = answer.body
        if answer.status >= 400 or answer.refused:  # RFC 6749 errors are 400s (or 401)
            if not refusal_is_fatal:
                return False
            raise AuthError(f"token request refused ({answer.status})", answer.status)
        if not isinstance(body, dict) or not body.get("access_token"):
            if not refusal_is_fatal:
                return False
            raise AuthError("the token endpoint answered without an access_token")
        try:
            expires_in = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            expires_in = 3600.0
        self.cache.update(
            access_token=body["access_token"],
            expires_at=time.time() + expires_in,
            refresh_token=body.get("refresh_token") or self.cache.get("refresh_token"),
        )
        return True
