"""Talking to Sensaphone.net: the envelope, the session authenticator, JSON-mode reads.

Every answer is ``{"result": {"success", "code", "message"}, "response": {...}}`` and
application errors come as HTTP 200 with ``success: false`` (vendor-apis.md §3.4), so the
status says little: :func:`check_envelope` reads ``result`` on every answer. Code 2 is "session
expired" [C]: the session's auth flow then logs in again once and resends the request.

All reads use JSON mode (POST, credentials in the body): nothing secret or session-like ends
up in URLs, access logs or proxies.
"""

import time
from collections.abc import Generator
from typing import Any

from fleetwatch.connectors.auth import Authenticator
from fleetwatch.connectors.http import (
    Answer,
    AuthError,
    AuthFlow,
    ClientError,
    Request,
    SessionExpired,
    VendorError,
    VendorHTTP,
)

CODE_OK = 0
CODE_SESSION_EXPIRED = 2  # [C]: pysensaphone and melodywoods log in again on it
DEFAULT_SESSION_SECONDS = 86_400.0  # [F] session_expiration at login


def result_of(body: Any) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("result"), dict):
        raise VendorError("Sensaphone answered without its result envelope")
    return body["result"]


def check_envelope(body: Any) -> None:
    """``check`` for every authenticated read: code 2 → SessionExpired (log in again, retry
    once); any other failure → ClientError carrying the vendor's message."""
    result = result_of(body)
    if result.get("success") is True and result.get("code", CODE_OK) == CODE_OK:
        return
    code = result.get("code")
    if code == CODE_SESSION_EXPIRED:
        raise SessionExpired(str(result.get("message") or "session expired"))
    message = str(result.get("message") or "no message")[:300]
    raise ClientError(f"Sensaphone refused the request (code {code}): {message}")


def check_login(body: Any) -> None:
    """A refused login is a credentials problem (AuthError: the engine opens a health incident
    at once), whatever code the vendor gives it. The message never holds the password."""
    result = result_of(body)
    if result.get("success") is True and result.get("code", CODE_OK) == CODE_OK:
        return
    message = str(result.get("message") or "no message")[:300]
    raise AuthError(f"Sensaphone login refused (code {result.get('code')}): {message}")


def response_of(body: Any, *path: str) -> Any:
    """``body["response"][path...]``, or VendorError naming what is missing."""
    value = body.get("response") if isinstance(body, dict) else None
    where = "response"
    for name in path:
        if not isinstance(value, dict) or name not in value:
            raise VendorError(f"Sensaphone answered without {where}.{name}")
        value, where = value[name], f"{where}.{name}"
    return value


class SensaphoneSession(Authenticator):
    """Session login (JSON mode ``POST /login``) → ``acctid`` + ``session``, put into the
    JSON body of every read.

    The expiry is kept on OUR clock (``time.time() + session_expiration``): the vendor's
    ``login_timestamp`` is on its clock, which need not agree with ours (the emulator's is
    simulated). The session is renewed when less than ``renew_before`` (1 h, as pysensaphone
    does) remains — or half its lifetime, for sessions shorter than 2 h — and at once when
    the vendor answers code 2.
    """

    def __init__(
        self, credentials: dict, cache: dict, *, prefix: str, renew_before: float = 3600.0
    ) -> None:
        super().__init__(credentials, cache)
        self.prefix = prefix
        self.renew_before = renew_before

    def valid(self) -> bool:
        return bool(
            self.cache.get("session")
            and self.cache.get("acctid") is not None
            and time.time() < float(self.cache.get("renew_at", 0))
        )

    def auth_flow(self, request: Request) -> AuthFlow:
        """Log in when the session is missing or due for renewal; when the vendor answers
        code 2 (session expired), log in again once and resend."""
        if not self.valid():
            yield from self.login()
        answer = yield self.authorized(request)
        if answer.refused:
            self.cache.clear()
            yield from self.login()
            yield self.authorized(request)

    def authorized(self, request: Request) -> Request:
        # A new body: the caller's is reused as is when the request is sent again.
        sent = request.copy()
        sent.json = {
            **(request.json or {}),
            "acctid": self.cache["acctid"],
            "session": self.cache["session"],
        }
        return sent

    def login(self) -> Generator[Request, Answer, None]:
        user_name, password = self._require("user_name", "password")
        answer = yield Request(
            "POST",
            f"{self.prefix}/login",
            json={
                "request_type": "create",
                "resource": "login",
                "user_name": user_name,
                "password": password,
            },
            check=check_login,
        )
        if answer.status >= 400 or answer.refused:
            raise AuthError(f"Sensaphone login refused ({answer.status})", answer.status)
        body = answer.body
        login = body.get("response") if isinstance(body, dict) else None
        if not isinstance(login, dict) or not login.get("session"):
            raise AuthError("Sensaphone login answered without a session")
        if login.get("acctid") in (None, ""):
            raise AuthError("Sensaphone login answered without an acctid")
        try:
            lifetime = float(login.get("session_expiration") or DEFAULT_SESSION_SECONDS)
        except (TypeError, ValueError):
            lifetime = DEFAULT_SESSION_SECONDS
        now = time.time()
        self.cache.clear()
        self.cache.update(
            acctid=login["acctid"],
            session=str(login["session"]),
            expires_at=now + lifetime,
            renew_at=now + max(lifetime - self.renew_before, lifetime / 2),
        )


class SensaphoneAPI:
    """JSON-mode reads under one API version prefix (``/api/v1`` by default)."""

    def __init__(self, http: VendorHTTP, auth: SensaphoneSession, prefix: str) -> None:
        self.http, self.auth, self.prefix = http, auth, prefix

    def post(self, path: str, body: dict) -> Any:
        _, answer = self.http.request(
            "POST", f"{self.prefix}{path}", json=body, auth=self.auth, check=check_envelope
        )
        return answer

    def session_info(self) -> dict:
        answer = self.post("/login", {"request_type": "read"})
        info = answer.get("response")
        return info if isinstance(info, dict) else {}

    def devices(self) -> list[dict]:
        body = {"request_type": "read", "resource": "device", "device": None}  # null: all
        answer = self.post("/device", body)
        items = response_of(answer, "device")
        if not isinstance(items, list):
            raise VendorError("Sensaphone answered response.device that is not a list")
        return [item for item in items if isinstance(item, dict)]

    def history(self, log: str, filters: dict) -> Any:
        answer = self.post(f"/history/{log}", {"request_type": "read", "history": {log: filters}})
        return response_of(answer, "history", log)

    def log_page(self, log: str, filters: dict, begin: int, size: int) -> list[dict]:
        """One page of a paged log: ``begin_offset`` 0 is the newest record [F FAQ]."""
        items = self.history(log, {**filters, "begin_offset": begin, "record_offset": size})
        if not isinstance(items, list):
            raise VendorError(f"Sensaphone answered history.{log} that is not a list")
        return [item for item in items if isinstance(item, dict)]

    def log_points(self, device_id: int) -> dict[int, int]:
        """zone_id → log point, for a device whose zone read lacks ``loggable_zone``."""
        answer = self.history(
            "data_log_points", {"resource_type": "device", "device_id": device_id}
        )
        points = answer.get("log_points") if isinstance(answer, dict) else None
        out = {}
        for item in points or []:
            if isinstance(item, dict):
                zone_id, point = item.get("zone_id"), item.get("log_point")
                if isinstance(zone_id, int) and isinstance(point, int):
                    out[zone_id] = point
        return out
