"""The OPSWAT MetaAccess API (gears.opswat.com/o/...) over the shared fleet and clock.

See docs/emulators/metaaccess.md for every endpoint, error and the choices made where the
vendor documentation is silent.
"""

import base64
import binascii
import random
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fleetwatch.emulators import console, ratelimit
from fleetwatch.emulators.base import ControlError, VendorEmulator, loads_json
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import Fleet
from fleetwatch.emulators.metaaccess import render
from fleetwatch.emulators.metaaccess.auth import CLIENT_ID, CLIENT_SECRET, TokenStore
from fleetwatch.emulators.metaaccess.model import (
    ACTIONS,
    APPS,
    BLOCK_RULES,
    DAY,
    SEVERITIES,
    STATUSES,
    World,
)

TOKEN_PATH = "/o/oauth/token"
RATE_LIMIT = 10  # requests ...
RATE_WINDOW = 60.0  # ... per minute, per client_id, over all /o/api/ endpoints
PREHISTORY_TICKS = 1439  # a day of history before the epoch, minus one tick (see _prehistory)
MAX_ACTIVITY_AGE_HOURS = 720
_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_QUERY_INT = re.compile(r"^-?\d+$")
_CURSOR_PREFIX = "ma36:"
CONSOLE = console.CONSOLE_PREFIX

Handler = Callable[[Request, str], Awaitable[Response]]


class ApiError(Exception):
    """A request the vendor API would refuse with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _int(body: dict, key: str, default: int, lo: int, hi: int | None, status: int = 400) -> int:
    """An integer body field; wrong type -> 400, out of [lo, hi] -> ``status``."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, f"{key} must be an integer")
    if value < lo or (hi is not None and value > hi):
        bounds = f"[{lo},{hi}]" if hi is not None else f">= {lo}"
        raise ApiError(status, f"{key} must be in {bounds}")
    return value


def _query_int(request: Request, key: str, default: int) -> int:
    """An integer query parameter (v2.x endpoints are GET); not an integer -> 400."""
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return default
    if not _QUERY_INT.match(raw.strip()):
        raise ApiError(400, f"{key} must be an integer")
    try:
        return int(raw)
    except ValueError:  # more digits than int() converts
        raise ApiError(400, f"{key} must be an integer") from None


async def _json_object(request: Request) -> dict:
    """The JSON body whatever the Content-Type; an empty body means all defaults."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = loads_json(raw)
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def _page(items: list, page: int, limit: int) -> list:
    """Page ``page`` (1-based) of ``items``; past the last page -> 413 (page 1 is never past)."""
    start = (page - 1) * limit
    if page > 1 and start >= len(items):
        raise ApiError(413, "the requested page exceeds the number of pages")
    return items[start : start + limit]


def _date(value: object, key: str) -> datetime:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ApiError(400, f"{key} must be a date in MM/DD/YYYY format")
    try:
        return datetime.strptime(value, "%m/%d/%Y").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(400, f"{key} is not a valid date") from None


def _check_fields(params: dict, allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ControlError(unknown[0], f"unknown field; allowed: {sorted(allowed)}")


def _string(params: dict, key: str, default: str | None = None) -> str:
    value = params.get(key, default)
    if not isinstance(value, str) or not value:
        raise ControlError(key, f"{key} must be a non-empty string")
    return value


class MetaAccessEmulator(VendorEmulator):
    """OPSWAT MetaAccess: OAuth2 tokens in the query string, page/limit paging with 406/413,
    status-change deltas, access activities, device lists, and 10 requests/minute."""

    name = "metaaccess"

    def __init__(self, fleet: Fleet, clock: SimClock, seed: int) -> None:
        super().__init__(fleet, clock, seed)
        self.world = World(fleet, clock.epoch, seed)
        self.tokens = TokenStore(clock)
        self.limiter = ratelimit.SlidingWindow(RATE_LIMIT, RATE_WINDOW)
        self.rate_limit_enabled = True
        self._prehistory()

    def _prehistory(self) -> None:
        """Run the scenario for the day before the epoch, so a first poll finds non-compliant
        devices, recent changes and blocked activities. The oldest tick is one tick later than
        epoch - 24 h, so nothing sits on the edge of a 24 h window during the first tick."""
        for k in range(-PREHISTORY_TICKS + 1, 1):
            rng = random.Random(f"{self.seed}:{self.name}:prehistory:{k}")
            self.world.tick(k * self.tick_seconds, self.tick_seconds, rng)

    def on_tick(self, at: datetime, rng: random.Random) -> None:
        self.world.tick(self.world.rel(at), self.tick_seconds, rng)

    # --- routes -------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route(TOKEN_PATH, self.token, methods=["GET", "POST"]),
            Route("/o/api/v2/account", self._api(self.account), methods=["GET"]),
            Route(
                "/o/api/v3/devices/status_changed",
                self._api(self.status_changed),
                methods=["POST"],
            ),
            Route("/o/api/v3/activities", self._api(self.activities), methods=["POST"]),
            Route("/o/api/v2.2/devices", self._api(self.devices_v22), methods=["GET"]),
            Route("/o/api/v3.6/devices", self._api(self.devices_v36), methods=["POST"]),
            Route(f"{CONSOLE}/", self.console_home, methods=["GET"]),
            Route(f"{CONSOLE}/devices/{{device_id}}", self.console_device, methods=["GET"]),
        ]

    # --- the console pages incidents link to (no token: a person's browser) ------------------
    async def console_home(self, request: Request) -> Response:
        with self.lock:
            world = self.world
            links = [
                (f"{CONSOLE}/devices/{device_id}", world.endpoints[device_id].hostname)
                for device_id in sorted(world.non_compliant)
            ]
            fields = [("Devices", world.live_count()), ("Non-compliant", len(links))]
        return console.page("MetaAccess", "Devices", fields, links)

    async def console_device(self, request: Request) -> Response:
        """Every device the account has known, deleted ones too (their incidents end, but
        the link stays)."""
        device_id = request.path_params["device_id"]
        with self.lock:
            endpoint = self.world.endpoints.get(device_id)
            if endpoint is None:
                return console.not_found("MetaAccess", f"device {device_id}")
            state = self.world.state(device_id)
            issues = [
                f"{c['severity']}: {c['issue']} ({c['name']})"
                for c in render.categories(device_id, state)
            ]
            fields = [
                ("Device", device_id),
                ("Host name", endpoint.hostname),
                ("Group", endpoint.group),
                ("OS", endpoint.os_name),
                ("MAC", endpoint.mac),
                ("Status", "deleted" if state.deleted else state.status),
                ("Severity", state.severity),
                ("Issues", issues),
                ("Last seen", render.iso_z(self.world.dt(self.world.last_seen(device_id)))),
            ]
        return console.page("MetaAccess", endpoint.hostname, fields)

    def _api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Authenticate (query ``access_token`` or a Bearer header), then rate-limit per
        client_id, then run the handler; ApiError becomes the vendor's error body."""

        async def endpoint(request: Request) -> Response:
            token = request.query_params.get("access_token")
            if not token:
                scheme, _, value = request.headers.get("authorization", "").partition(" ")
                if scheme.lower() == "bearer":
                    token = value.strip()
            with self.lock:
                client_id, problem = self.tokens.validate(token)
            if client_id is None:
                return self.error_response(request, 401, problem)
            if self.rate_limit_enabled:
                decision = self.limiter.hit(client_id)
                if not decision.allowed:
                    return self.rate_limited_response(request, decision.retry_after)
            try:
                return await handler(request, client_id)
            except ApiError as exc:
                return self.error_response(request, exc.status, exc.message)

        return endpoint

    # --- OAuth --------------------------------------------------------------------------------
    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
        return JSONResponse(
            {"error": error, "error_description": description},
            status_code=status,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    async def _token_params(self, request: Request) -> dict[str, str] | None:
        """Query string, overridden by a form or JSON body; None if the body is unreadable."""
        params = dict(request.query_params)
        if request.method == "POST":
            raw = await request.body()
            content_type = request.headers.get("content-type", "")
            if raw.strip():
                if "json" in content_type or raw.lstrip().startswith(b"{"):
                    try:
                        data = loads_json(raw)
                    except ValueError:
                        return None
                    if not isinstance(data, dict):
                        return None
                    params.update({k: str(v) for k, v in data.items() if v is not None})
                else:
                    params.update(parse_qsl(raw.decode("utf-8", "replace")))
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic" and "client_id" not in params:
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            client_id, sep, secret = decoded.partition(":")
            if sep:
                params.setdefault("client_id", client_id)
                params.setdefault("client_secret", secret)
        return params

    async def token(self, request: Request) -> Response:
        """``/o/oauth/token``: client_credentials and refresh_token grants, GET or POST."""
        params = await self._token_params(request)
        if params is None:
            return self._oauth_error(400, "invalid_request", "the request body is not valid JSON")
        grant = params.get("grant_type")
        if not grant:
            return self._oauth_error(400, "invalid_request", "grant_type is required")
        if grant not in ("client_credentials", "refresh_token"):
            return self._oauth_error(
                400, "unsupported_grant_type", f"grant_type {grant!r} is not supported"
            )
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if not client_id or not secret:
            return self._oauth_error(
                400, "invalid_request", "client_id and client_secret are required"
            )
        with self.lock:
            if not self.tokens.client_ok(client_id, secret):
                return self._oauth_error(401, "invalid_client", "client authentication failed")
            if grant == "client_credentials":
                issued = self.tokens.issue(client_id)
            else:
                refresh_token = params.get("refresh_token")
                if not refresh_token:
                    return self._oauth_error(400, "invalid_request", "refresh_token is required")
                if self.tokens.refresh_client(refresh_token) != client_id:
                    return self._oauth_error(
                        400, "invalid_grant", "the refresh token is invalid or revoked"
                    )
                issued = self.tokens.issue(client_id, refresh_token)
        return JSONResponse(issued, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    # --- API endpoints ------------------------------------------------------------------------
    async def account(self, request: Request, client_id: str) -> Response:
        """``GET /o/api/v2/account``: a cheap credentials check with fleet counters."""
        with self.lock:
            world = self.world
            return JSONResponse(
                {
                    "name": "Fleetwatch Demo",
                    "email": f"admin@{self.fleet.organization}.example",
                    "last_login": render.iso_z(self.clock.now()),
                    "date_created": render.iso_z(self.clock.epoch - timedelta(days=900)),
                    "devices_allowed": max(500, -(-world.live_count() // 500) * 500),
                    "devices_used": world.live_count(),
                    "devices_uncompliant": len(world.non_compliant),
                }
            )

    async def status_changed(self, request: Request, client_id: str) -> Response:
        """``POST /o/api/v3/devices/status_changed``: both lists paged as one, newest first."""
        body = await _json_object(request)
        age = _int(body, "age", 86400, 0, 86400)
        verbose = _int(body, "verbose", 0, 0, 1)
        limit = _int(body, "limit", 20, 1, 50, status=406)
        page = _int(body, "page", 1, 1, None)
        with self.lock:
            world = self.world
            items = _page(world.recent_changes(self.clock.elapsed() - age), page, limit)
            monitored, deleted = [], []
            for _, device_id in items:
                if world.state(device_id).deleted:
                    deleted.append(render.deleted_device(world, device_id))
                else:
                    monitored.append(render.monitored_device(world, device_id, bool(verbose)))
        return JSONResponse({"monitored_devices": monitored, "deleted_devices": deleted})

    async def activities(self, request: Request, client_id: str) -> Response:
        """``POST /o/api/v3/activities``: a top-level array, newest first."""
        body = await _json_object(request)
        limit = _int(body, "limit", 50, 1, 50, status=406)
        page = _int(body, "page", 1, 1, None)
        now = self.clock.elapsed()
        start_date, end_date = body.get("start_date"), body.get("end_date")
        if start_date is not None or end_date is not None:
            if start_date is None or end_date is None:
                raise ApiError(400, "start_date and end_date must be given together")
            start, end = _date(start_date, "start_date"), _date(end_date, "end_date")
            if end <= start:
                raise ApiError(400, "end_date must be greater than start_date")
            if end.date() == date.max:  # its end (the next midnight) is not a datetime
                raise ApiError(400, "end_date is not a valid date (the last one is 12/30/9999)")
            first = self.world.rel(start)
            last = min(self.world.rel(end + timedelta(days=1)) - 1e-6, now)
        else:
            age = _int(body, "age", 24, 0, MAX_ACTIVITY_AGE_HOURS)
            first, last = now - age * 3600, now
        actions = body.get("action")
        if isinstance(actions, str):
            actions = [actions]
        if actions is not None:
            if not isinstance(actions, list) or not all(a in ACTIONS for a in actions):
                raise ApiError(400, f"action must be a list of {list(ACTIONS)}")
        wanted = set(actions) if actions else None
        search = body.get("search")
        if search is not None and not isinstance(search, str):
            raise ApiError(400, "search must be a string")
        needle = (search or "").strip().lower()
        with self.lock:
            world = self.world
            found = [
                item
                for item in reversed(world.activities_between(first, last))
                if (wanted is None or item.action in wanted)
                and (not needle or item.matches(needle))
            ]
            return JSONResponse([render.activity(world, a) for a in _page(found, page, limit)])

    async def devices_v22(self, request: Request, client_id: str) -> Response:
        """``GET /o/api/v2.2/devices``: every live device in a stable order, page/limit."""
        limit = _query_int(request, "limit", 20)
        page = _query_int(request, "page", 1)
        if not 1 <= limit <= 50:
            raise ApiError(406, "limit must be in [1,50]")
        if page < 1:
            raise ApiError(400, "page must be >= 1")
        with self.lock:
            world = self.world
            rank = (page - 1) * limit
            if page > 1 and rank >= world.live_count():
                raise ApiError(413, "the requested page exceeds the number of pages")
            ids, _ = world.live_from(world.live_position(rank), limit)
            return JSONResponse([render.v22_device(world, d) for d in ids])

    async def devices_v36(self, request: Request, client_id: str) -> Response:
        """``POST /o/api/v3.6/devices``: cursor paging, stable under deletes and enrollments."""
        body = await _json_object(request)
        limit = _int(body, "limit", 20, 1, 50, status=406)
        cursor = body.get("token")
        with self.lock:
            world = self.world
            pos = 0 if cursor in (None, "") else self._decode_cursor(cursor)
            ids, after = world.live_from(pos, limit)
            next_token = self._encode_cursor(after) if world.has_live_from(after) else None
            return JSONResponse(
                {"next_token": next_token, "devices": [render.v36_device(world, d) for d in ids]}
            )

    def _encode_cursor(self, pos: int) -> str:
        return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{pos}".encode()).decode().rstrip("=")

    def _decode_cursor(self, cursor: object) -> int:
        if not isinstance(cursor, str):
            raise ApiError(400, "token must be a string")
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            text = ""
        prefix, _, number = text.partition(_CURSOR_PREFIX)
        # isascii: str.isdigit() accepts "²", which int() refuses
        if (
            prefix
            or not (number.isascii() and number.isdigit())
            or len(number) > 20
            or not 0 < int(number) <= len(self.world.order)
        ):
            raise ApiError(400, "token is invalid")
        return int(number)

    # --- the VendorEmulator contract ---------------------------------------------------------
    def error_response(self, request: Request, status: int, message: str) -> Response:
        """``{"error":{"code":<status>,"message":...}}`` (the 4xx shape is undocumented; this
        follows OPSWAT's sibling products). The token endpoint answers in RFC 6749 shape."""
        if request.url.path == TOKEN_PATH:
            error = {500: "server_error", 503: "temporarily_unavailable"}.get(
                status, "invalid_request"
            )
            return self._oauth_error(status, error, message)
        return JSONResponse({"error": {"code": status, "message": message}}, status_code=status)

    def rate_limited_response(self, request: Request, retry_after: float) -> Response:
        response = self.error_response(
            request,
            429,
            f"rate limit exceeded: {self.limiter.limit} requests per {self.limiter.window:g} s",
        )
        response.headers["Retry-After"] = ratelimit.retry_after_header(retry_after)
        return response

    def fleet_records(self) -> list[dict]:
        """Every device record, deleted, enrolled and re-imaged machines' old ones included."""
        world = self.world
        return [
            {
                "id": device_id,
                "name": endpoint.hostname,
                "macs": render.macs(endpoint),
                "device": endpoint.physical,
                "deleted": world.state(device_id).deleted,
            }
            for device_id in world.order
            for endpoint in [world.endpoints[device_id]]
        ]

    def physical_devices(self) -> dict[str, dict]:
        """The fleet's, and the machines enrolled since (MetaAccess is the only one to know)."""
        devices = self.fleet.physical_devices()
        for device_id in self.world.order:
            endpoint = self.world.endpoints[device_id]
            if endpoint.physical not in devices:
                devices[endpoint.physical] = {
                    "hostname": endpoint.hostname,
                    "macs": render.macs(endpoint),
                }
        return devices

    def ground_truth(self) -> dict:
        world = self.world
        now = self.clock.elapsed()
        non_compliant = []
        for device_id in sorted(world.non_compliant):
            state = world.state(device_id)
            non_compliant.append(
                {
                    "device_id": device_id,
                    "device_name": world.endpoints[device_id].hostname,
                    "status": state.status,
                    "severity": state.severity,
                }
            )
        blocked = sum(
            1 for item in world.activities_between(now - DAY, now) if item.action == "blocked"
        )
        return {
            "vendor": self.name,
            "non_compliant_devices": non_compliant,
            "exempted_devices": sorted(world.exempted),
            "deleted_devices": sorted(world.deleted_ids),
            "devices": world.live_count(),
            "blocked_activities": blocked,
        }

    def actions(self) -> dict[str, str]:
        return {
            "set_compliance": '{"device_id", "status": compliant|non-compliant|exempted, '
            '"severity"?: critical|warning|no_issues} changes a device now',
            "delete_device": '{"device_id"} removes a device (it shows in deleted_devices)',
            "block_access": '{"device_id", "app_name"?, "app_user"?, "access_rule"?} records a '
            "blocked access activity now",
        }

    def _live_device(self, params: dict) -> str:
        device_id = _string(params, "device_id")
        if not self.world.is_live(device_id):
            raise ControlError("device_id", f"no device {device_id!r}", status=404)
        return device_id

    def apply(self, action: str, params: dict) -> dict:
        """Scenario actions; each takes effect at the simulated now."""
        world = self.world
        now = self.clock.elapsed()
        if action == "set_compliance":
            _check_fields(params, {"device_id", "status", "severity"})
            status = params.get("status")
            if status not in STATUSES:
                raise ControlError("status", f"status must be one of {list(STATUSES)}")
            device_id = self._live_device(params)
            default = {"non-compliant": "critical", "compliant": "no_issues"}.get(
                status, world.state(device_id).severity
            )
            severity = params.get("severity", default)
            if severity not in SEVERITIES:
                raise ControlError("severity", f"severity must be one of {list(SEVERITIES)}")
            if status == "non-compliant" and severity == "no_issues":
                raise ControlError("severity", "a non-compliant device has issues")
            rng = random.Random(f"{self.seed}:{self.name}:control:{world.seq}:{device_id}")
            state = world.set_status(device_id, status, severity, now, rng)
            return {
                "device_id": device_id,
                "device_name": world.endpoints[device_id].hostname,
                "status": state.status,
                "severity": state.severity,
                "issue": render.issue(state),
            }
        if action == "delete_device":
            _check_fields(params, {"device_id"})
            device_id = self._live_device(params)
            world.delete(device_id, now)
            return {"deleted": device_id, "devices": world.live_count()}
        if action == "block_access":
            _check_fields(params, {"device_id", "app_name", "app_user", "access_rule"})
            device_id = self._live_device(params)
            activity = world.add_activity(
                float(int(now)),
                "blocked",
                device_id,
                _string(params, "app_name", APPS[0]),
                _string(params, "app_user", world.app_user(device_id)),
                _string(params, "access_rule", BLOCK_RULES[0]),
            )
            return render.activity(world, activity)
        raise ControlError("action", f"unknown action {action!r}; one of {sorted(self.actions())}")

    def revoke_credentials(self) -> None:
        self.tokens.revoke_all()

    def credentials(self) -> dict:
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    def rate_limit_config(self) -> dict:
        return {
            "limit": self.limiter.limit,
            "window": self.limiter.window,
            "enabled": self.rate_limit_enabled,
        }

    def configure_rate_limit(self, settings: dict) -> dict:
        """Change limit/window/enabled; every change starts a fresh window."""
        _check_fields(settings, {"limit", "window", "enabled"})
        limit = settings.get("limit", self.limiter.limit)
        window = settings.get("window", self.limiter.window)
        enabled = settings.get("enabled", self.rate_limit_enabled)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ControlError("limit", "limit must be an integer >= 1")
        if not isinstance(window, int | float) or isinstance(window, bool) or window <= 0:
            raise ControlError("window", "window must be a positive number of seconds")
        if not isinstance(enabled, bool):
            raise ControlError("enabled", "enabled must be true or false")
        self.limiter.configure(limit, window)
        self.limiter.reset()
        self.rate_limit_enabled = enabled
        return self.rate_limit_config()
