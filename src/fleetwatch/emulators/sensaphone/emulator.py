"""Sensaphone.net REST API emulator: login, devices, zones and the History API.

Served under ``/api/v1``, ``/api/v2`` and ``/api/v3`` by one implementation; v2+ add the
``<log>_filter`` echo to history answers and zone-type metadata to device and zone answers.
Every answer is ``{"result": {"success", "code", "message"}, "response": {...}}``;
application errors are HTTP 200 with ``success: false`` (clients check ``result``), and only
transport-level problems use other statuses. See docs/emulators/sensaphone.md.
"""

import math
import random
from datetime import datetime, timedelta
from urllib.parse import unquote_to_bytes

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fleetwatch.emulators import console
from fleetwatch.emulators.base import ControlError, VendorEmulator, loads_json
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import Fleet, SensorDevice, Zone
from fleetwatch.emulators.ratelimit import SlidingWindow, retry_after_header
from fleetwatch.emulators.sensaphone import auth, history, render
from fleetwatch.emulators.sensaphone.auth import (
    DEMO_PASSWORD,
    DEMO_USER,
    SESSION_SECONDS,
    USERS,
    Session,
)
from fleetwatch.emulators.sensaphone.model import (
    ALARMABLE_KINDS,
    HISTORY_SECONDS,
    SHAPES,
    TICK_SECONDS,
    Contact,
    Timeline,
    User,
    iso,
)

# Result codes. 0 and 2 are the vendor's [F]/[C]; the rest are this emulator's choice.
CODE_OK = 0
CODE_INVALID = 1  # invalid request: unparsable body, bad filter, missing field
CODE_SESSION = 2  # session expired or invalid: log in again
CODE_LOGIN = 3  # login failed: wrong user name or password
CODE_NOT_FOUND = 4  # unknown id (or not this account's)
CODE_SERVER_ERROR = 6  # only with HTTP 5xx
CODE_RATE_LIMITED = 7  # only with HTTP 429 (rate limiting is off unless configured)

VERSIONS = ("v1", "v2", "v3")
CONSOLE = console.CONSOLE_PREFIX
CONTACTS = ["Facilities On-Call", "Night Shift", "Plant Manager", "Security Desk"]


class VersionConvertor(Convertor[str]):
    """Matches only the served API versions, so /api/v9/... is an unknown path (404)."""

    regex = "|".join(VERSIONS)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("sensaphone_version", VersionConvertor())


class ApiError(Exception):
    """An application error: HTTP 200, ``success: false``, ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


def envelope(response: dict | None = None, code: int = CODE_OK, message: str = "Success") -> dict:
    return {
        "result": {"success": code == CODE_OK, "code": code, "message": message},
        "response": response if response is not None else {},
    }


def ok(response: dict) -> JSONResponse:
    return JSONResponse(envelope(response))


def _int(name: str, value: object, code: int = CODE_INVALID) -> int:
    if isinstance(value, str):
        value = history.strip_braces(value)
        # ASCII digits only ("²".isdigit() is true but int() refuses it), and few enough of
        # them for int(): anything else is an invalid request, never a Python error
        if value.isascii() and value.isdigit() and len(value) <= history.MAX_DIGITS:
            return int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ApiError(code, f"{name} must be a non-negative integer, not {value!r}")


ACTIONS = {
    "raise_alarm": '{"device_id", "zone_id", "value"?}: the zone goes into alarm until '
    "clear_alarm (value defaults to just above alarm_high)",
    "clear_alarm": '{"device_id", "zone_id"}: the zone returns to normal',
    "ack_alarm": '{"device_id", "zone_id", "user"?}: a user acknowledges the zone\'s alarms '
    f"(user: an email or name, default {DEMO_USER})",
    "power_fail": '{"device_id"}: mains power fails until power_restore; the battery drains',
    "power_restore": '{"device_id"}: mains power returns',
    "go_offline": '{"device_id"}: the device stops reporting until go_online',
    "go_online": '{"device_id"}: the device reports again',
}
ACTION_PARAMS = {
    "raise_alarm": {"device_id", "zone_id", "value"},
    "clear_alarm": {"device_id", "zone_id"},
    "ack_alarm": {"device_id", "zone_id", "user"},
    "power_fail": {"device_id"},
    "power_restore": {"device_id"},
    "go_offline": {"device_id"},
    "go_online": {"device_id"},
}


class SensaphoneEmulator(VendorEmulator):
    """One Sensaphone.net account owning the fleet's sensor devices."""

    name = "sensaphone"
    tick_seconds = float(TICK_SECONDS)

    def __init__(self, fleet: Fleet, clock: SimClock, seed: int) -> None:
        super().__init__(fleet, clock, seed)
        rng = random.Random(f"sensaphone-account:{seed}")
        self.acctid = rng.randrange(20_000_000, 30_000_000)
        first_user = rng.randrange(10_000_000, 90_000_000)
        first_contact = rng.randrange(300_000, 400_000)
        users = [User(first_user + i, name, email) for i, (name, email) in enumerate(USERS)]
        contacts = [Contact(first_contact + i, name) for i, name in enumerate(CONTACTS)]
        devices = fleet.sensor_devices
        account_tz = devices[0].timezone if devices else "UTC"
        self.timeline = Timeline(
            devices, seed, math.floor(clock.epoch.timestamp()), users, contacts, account_tz
        )
        self._extra_users: dict[str, User] = {}
        self._sessions = auth.SessionStore(seed)
        self._rate = {"enabled": False, "limit": 60, "window": 60.0}
        self._limiter = SlidingWindow(60, 60.0)
        # Seed the logs: replay the scenario over the hours before the epoch.
        steps = HISTORY_SECONDS // TICK_SECONDS
        for n in range(1 - steps, 1):
            at = clock.epoch + timedelta(seconds=n * TICK_SECONDS)
            self.on_tick(at, random.Random(f"{seed}:{self.name}:{n}"))

    # --- the scenario -----------------------------------------------------------------------
    def on_tick(self, at: datetime, rng: random.Random) -> None:
        self.timeline.tick(math.floor(at.timestamp()), rng)

    def _now(self) -> int:
        return math.floor(self.clock.now().timestamp())

    # --- routes -----------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        v = "/api/{version:sensaphone_version}"
        s = v + "/{acctid}/{session}"
        get, post, both = ["GET"], ["POST"], ["GET", "POST"]
        return [
            Route(f"{v}/login", self._api(self._login_json), methods=post),
            Route(f"{v}/login/{{rest:path}}", self._api(self._login_uri), methods=both),
            Route(f"{v}/device", self._api(self._device_json), methods=post),
            Route(f"{v}/device/", self._api(self._device_json), methods=post),
            Route(f"{v}/device/zone", self._api(self._zone_json), methods=post),
            Route(f"{v}/device/zone/", self._api(self._zone_json), methods=post),
            Route(f"{v}/history/{{log}}", self._api(self._history_json), methods=post),
            Route(f"{v}/history/{{log}}/", self._api(self._history_json), methods=post),
            Route(f"{s}/login", self._api(self._session_uri), methods=get),
            Route(f"{s}/login/{{prop}}", self._api(self._session_uri), methods=get),
            Route(f"{s}/device", self._api(self._device_uri), methods=get),
            Route(f"{s}/device/{{device_id}}", self._api(self._device_uri), methods=get),
            Route(f"{s}/device/{{device_id}}/zone", self._api(self._zone_uri), methods=get),
            Route(
                f"{s}/device/{{device_id}}/zone/{{zone_id}}",
                self._api(self._zone_uri),
                methods=get,
            ),
            Route(f"{s}/history/{{log}}", self._api(self._history_path), methods=both),
            Route(
                f"{s}/history/{{log}}/{{filters:path}}",
                self._api(self._history_path),
                methods=both,
            ),
            Route(f"{CONSOLE}/", self._console_home, methods=get),
            Route(f"{CONSOLE}/devices/{{device_id}}", self._console_device, methods=get),
            Route(
                f"{CONSOLE}/devices/{{device_id}}/zones/{{zone_id}}",
                self._console_zone,
                methods=get,
            ),
        ]

    # --- the console pages incidents link to (no session: a person's browser) ---------------
    def _console_lookup(self, request: Request) -> tuple[SensorDevice, Zone | None] | str:
        """The device (and zone) a console path names, or what was not found."""
        raw_device = request.path_params["device_id"]
        raw_zone = request.path_params.get("zone_id")
        try:
            device = self._device(raw_device)
            zone = None if raw_zone is None else self._zone(device, raw_zone)
        except ApiError:
            return f"device {raw_device}" + ("" if raw_zone is None else f" zone {raw_zone}")
        return device, zone

    async def _console_home(self, request: Request) -> Response:
        with self.lock:
            links = [(f"{CONSOLE}/devices/{d.device_id}", d.name) for d in self.timeline.devices]
        return console.page("Sensaphone.net", "Devices", [("Devices", len(links))], links)

    async def _console_device(self, request: Request) -> Response:
        with self.lock:
            found = self._console_lookup(request)
            if isinstance(found, str):
                return console.not_found("Sensaphone.net", found)
            device, _ = found
            view = render.device_view(self.timeline, device, "v1", self._now())
        fields = [
            ("Device", device.device_id),
            ("Name", device.name),
            ("Product", device.product),
            ("Site", device.site),
            ("Time zone", device.timezone),
            ("Online", view["is_online"]),
            ("Power", view["power_value"]),
            ("Battery", view.get("battery_value")),
        ]
        links = [
            (f"{CONSOLE}/devices/{device.device_id}/zones/{z['zone_id']}", z["name"])
            for z in view["zone"]
        ]
        return console.page("Sensaphone.net", device.name, fields, links)

    async def _console_zone(self, request: Request) -> Response:
        with self.lock:
            found = self._console_lookup(request)
            if isinstance(found, str):
                return console.not_found("Sensaphone.net", found)
            device, zone = found
            view = render.zone_view(self.timeline, device, zone, self._now())
        alarm = view["alarm_zone"]
        fields = [
            ("Device", f"{device.name} ({device.device_id})"),
            ("Zone", f"{zone.name} ({zone.zone_id})"),
            ("Type", zone.kind),
            ("Value", view["value"]),
            ("Alarm limits", f"{alarm['alarm_low']} .. {alarm['alarm_high']}"),
            ("State", alarm["alarm_status_str"]),
            ("Unacknowledged alarms", alarm["unack_alarms"]),
        ]
        links = [(f"{CONSOLE}/devices/{device.device_id}", device.name)]
        return console.page("Sensaphone.net", f"{device.name}: {zone.name}", fields, links)

    def _api(self, handler):
        """Wrap a handler: unknown log → 404, application errors → envelope, rate limit → 429."""

        async def endpoint(request: Request) -> Response:
            version = request.path_params["version"]
            log = request.path_params.get("log")
            if log is not None and log not in history.LOGS:
                return self.error_response(request, 404, f"unknown history log {log!r}")
            try:
                return await handler(request, version)
            except ApiError as exc:
                return JSONResponse(envelope(None, exc.code, exc.message))
            except _RateLimited as exc:
                return self.rate_limited_response(request, exc.retry_after)

        endpoint.__name__ = handler.__name__
        return endpoint

    # --- request helpers --------------------------------------------------------------------
    @staticmethod
    async def _json(request: Request) -> dict:
        """The JSON body, whatever the Content-Type (clients send none or text/plain) [C]."""
        raw = await request.body()
        if not raw.strip():
            raise ApiError(CODE_INVALID, "JSON mode needs a JSON object in the request body")
        try:
            data = loads_json(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(CODE_INVALID, "the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(CODE_INVALID, "the request body must be a JSON object")
        return data

    @staticmethod
    def _check_read(body: dict, resource: str | None) -> None:
        if body.get("request_type") != "read":
            raise ApiError(CODE_INVALID, "request_type must be 'read'")
        if resource is not None and body.get("resource", resource) != resource:
            raise ApiError(CODE_INVALID, f"resource must be '{resource}'")

    def _rate_check(self, key: str) -> None:
        if self._rate["enabled"]:
            decision = self._limiter.hit(key)
            if not decision.allowed:
                raise _RateLimited(decision.retry_after)

    def _session(self, acctid: object, token: object) -> Session:
        """The caller's session, or code 2; counts the request against the rate limit."""
        if acctid is None or acctid == "":
            raise ApiError(CODE_INVALID, "acctid is required")
        account = _int("acctid", acctid)
        self._rate_check(f"acct:{account}")
        if not isinstance(token, str | int) or isinstance(token, bool) or str(token) == "":
            raise ApiError(CODE_INVALID, "session is required")
        session = self._sessions.get(history.strip_braces(str(token)))
        if session is None or session.acctid != account:
            raise ApiError(CODE_SESSION, "Session invalid or expired: log in again")
        if self.clock.now().timestamp() >= session.expires_at:
            self._sessions.drop(session)
            raise ApiError(CODE_SESSION, "Session expired: log in again")
        return session

    def _path_session(self, request: Request) -> Session:
        params = request.path_params
        return self._session(history.strip_braces(params["acctid"]), params["session"])

    # --- login ------------------------------------------------------------------------------
    def _login(self, user_name: object, password: object) -> JSONResponse:
        if not isinstance(user_name, str) or not isinstance(password, str):
            raise ApiError(CODE_INVALID, "user_name and password are required strings")
        if not user_name or not password:
            raise ApiError(CODE_INVALID, "user_name and password must not be empty")
        good_user = auth.demo_user(user_name)
        self._rate_check(f"acct:{self.acctid}" if good_user else f"login:{user_name.casefold()}")
        if not auth.login_ok(user_name, password):
            raise ApiError(CODE_LOGIN, "Login failed: wrong user name or password")
        session = self._sessions.create(self.acctid, self.timeline.users[0], self._now())
        return ok(
            {
                "acctid": session.acctid,
                "session": session.token,
                "login_timestamp": session.login_timestamp,
                "session_expiration": SESSION_SECONDS,
                "user_id": session.user.user_id,
            }
        )

    def _session_info(self, session: Session) -> dict:
        remaining = max(0, math.floor(session.expires_at - self.clock.now().timestamp()))
        return {
            "acctid": session.acctid,
            "session": session.token,
            "login_timestamp": session.login_timestamp,
            "session_expiration": remaining,
            "user_id": session.user.user_id,
        }

    async def _login_json(self, request: Request, version: str) -> Response:
        body = await self._json(request)
        with self.lock:
            if body.get("request_type") == "create" or "user_name" in body or "password" in body:
                if body.get("request_type") != "create":
                    raise ApiError(CODE_INVALID, "request_type must be 'create' to log in")
                if body.get("resource", "login") != "login":
                    raise ApiError(CODE_INVALID, "resource must be 'login'")
                return self._login(body.get("user_name"), body.get("password"))
            session = self._session(body.get("acctid"), body.get("session"))
            if body.get("request_type", "read") != "read":
                raise ApiError(CODE_INVALID, "request_type must be 'create' or 'read'")
            return ok(self._session_info(session))

    async def _login_uri(self, request: Request, version: str) -> Response:
        # Read the raw path: a password may hold an encoded '/', which the decoded path splits.
        raw = request.scope.get("raw_path") or request.url.path.encode()
        segments = raw.split(b"?")[0].split(b"/")[4:]
        if segments and segments[-1] == b"":
            segments.pop()
        if not segments and request.method == "POST":
            return await self._login_json(request, version)
        if len(segments) != 2:
            raise ApiError(CODE_INVALID, "URI mode login is /login/{user_name}/{password}")
        user_name, password = (
            history.strip_braces(unquote_to_bytes(s).decode("utf-8", "replace")) for s in segments
        )
        with self.lock:
            return self._login(user_name, password)

    async def _session_uri(self, request: Request, version: str) -> Response:
        with self.lock:
            info = self._session_info(self._path_session(request))
        prop = request.path_params.get("prop")
        if prop is None:
            return ok(info)
        prop = history.strip_braces(prop)
        if prop not in info:
            raise ApiError(CODE_INVALID, f"unknown login property {prop!r}")
        return ok({prop: info[prop]})

    # --- devices and zones ------------------------------------------------------------------
    def _device(self, device_id: object) -> SensorDevice:
        number = _int("device_id", device_id)
        device = self.timeline.by_id.get(number)
        if device is None:
            raise ApiError(CODE_NOT_FOUND, f"unknown device_id {number}")
        return device

    def _zone(self, device: SensorDevice, zone_id: object) -> Zone:
        number = _int("zone_id", zone_id)
        zone = self.timeline.zones.get((device.device_id, number))
        if zone is None:
            raise ApiError(CODE_NOT_FOUND, f"unknown zone_id {number} on device {device.device_id}")
        return zone

    def _zone_view(self, device: SensorDevice, zone: Zone, t: int) -> dict:
        return render.zone_view(self.timeline, device, zone, t)

    def _device_view(self, device: SensorDevice, version: str, t: int) -> dict:
        return render.device_view(self.timeline, device, version, t)

    def _zones_view(self, device: SensorDevice, zones: list[Zone], version: str, t: int) -> dict:
        return render.zones_view(self.timeline, device, zones, version, t)

    def _requested(self, spec: object) -> list[tuple[SensorDevice, object]]:
        """Devices named by a JSON-mode ``device`` value (null = all), with their item."""
        if spec is None:
            return [(device, None) for device in self.timeline.devices]
        items = spec if isinstance(spec, list) else [spec]
        out = []
        for item in items:
            if not isinstance(item, dict) or "device_id" not in item:
                raise ApiError(CODE_INVALID, "device must be null or a list of {device_id: N}")
            out.append((self._device(item["device_id"]), item))
        return out

    async def _device_json(self, request: Request, version: str) -> Response:
        body = await self._json(request)
        with self.lock:
            self._session(body.get("acctid"), body.get("session"))
            self._check_read(body, "device")
            t = self._now()
            wanted = self._requested(body.get("device"))
            return ok({"device": [self._device_view(d, version, t) for d, _ in wanted]})

    async def _zone_json(self, request: Request, version: str) -> Response:
        body = await self._json(request)
        with self.lock:
            self._session(body.get("acctid"), body.get("session"))
            self._check_read(body, None)
            t = self._now()
            views = []
            for device, item in self._requested(body.get("device")):
                wanted = item.get("zone") if isinstance(item, dict) else None
                if wanted is None:
                    zones = device.zones
                elif isinstance(wanted, list) and all(isinstance(z, dict) for z in wanted):
                    zones = [self._zone(device, z.get("zone_id")) for z in wanted]
                else:
                    raise ApiError(CODE_INVALID, "zone must be null or a list of {zone_id: N}")
                views.append(self._zones_view(device, zones, version, t))
            return ok({"device": views})

    async def _device_uri(self, request: Request, version: str) -> Response:
        with self.lock:
            self._path_session(request)
            t = self._now()
            if "device_id" in request.path_params:
                devices = [self._device(request.path_params["device_id"])]
            else:
                devices = self.timeline.devices
            return ok({"device": [self._device_view(d, version, t) for d in devices]})

    async def _zone_uri(self, request: Request, version: str) -> Response:
        with self.lock:
            self._path_session(request)
            device = self._device(request.path_params["device_id"])
            if "zone_id" in request.path_params:
                zones = [self._zone(device, request.path_params["zone_id"])]
            else:
                zones = device.zones
            return ok({"device": [self._zones_view(device, zones, version, self._now())]})

    # --- history ----------------------------------------------------------------------------
    def _history(self, log: str, version: str, raw_filters: dict) -> JSONResponse:
        try:
            filters = history.parse_filters(log, raw_filters)
            if log == "audit_log":
                result = history.audit_log(self.timeline, filters)
            elif log == "event_log":
                result = history.event_log(self.timeline, filters)
            elif log == "data_log":
                result = history.data_log(self.timeline, filters, self._now())
            else:
                result = history.data_log_points(self.timeline, filters)
        except history.FilterError as exc:
            raise ApiError(CODE_INVALID, str(exc)) from None
        except history.NotFoundError as exc:
            raise ApiError(CODE_NOT_FOUND, str(exc)) from None
        answer = {log: result}
        if version != "v1":
            answer[f"{log}_filter"] = filters
        return ok({"history": answer})

    @staticmethod
    def _body_filters(log: str, body: dict) -> dict:
        if body.get("request_type") != "read":
            raise ApiError(CODE_INVALID, "request_type must be 'read'")
        logs = body.get("history")
        if not isinstance(logs, dict):
            raise ApiError(CODE_INVALID, f'history must be an object: {{"{log}": {{filters}}}}')
        if logs and log not in logs:
            raise ApiError(CODE_INVALID, f"history.{log} is missing (got {sorted(logs)})")
        filters = logs.get(log)
        if filters is None:
            return {}
        if not isinstance(filters, dict):
            raise ApiError(CODE_INVALID, f"history.{log} must be an object of filters")
        return filters

    async def _history_json(self, request: Request, version: str) -> Response:
        log = request.path_params["log"]
        body = await self._json(request)
        with self.lock:
            self._session(body.get("acctid"), body.get("session"))
            return self._history(log, version, self._body_filters(log, body))

    async def _history_path(self, request: Request, version: str) -> Response:
        """URI mode (filter pairs in the path), or JSON mode with acctid/session in the path."""
        log = request.path_params["log"]
        body = None
        if request.method == "POST" and (await request.body()).strip():
            body = await self._json(request)
        with self.lock:
            self._path_session(request)
            if body is not None:
                return self._history(log, version, self._body_filters(log, body))
            segments = request.path_params.get("filters", "").split("/")
            return self._history(log, version, history.uri_pairs(segments))

    # --- what the shared app asks of every vendor -------------------------------------------
    def error_response(self, request: Request, status: int, message: str) -> Response:
        code = CODE_SERVER_ERROR if status >= 500 else CODE_INVALID
        return JSONResponse(envelope(None, code, message), status_code=status)

    def rate_limited_response(self, request: Request, retry_after: float) -> Response:
        return JSONResponse(
            envelope(None, CODE_RATE_LIMITED, "Rate limit exceeded: retry later"),
            status_code=429,
            headers={"Retry-After": retry_after_header(retry_after)},
        )

    def fleet_records(self) -> list[dict]:
        """Every device record: each is its own physical sensor hub (no MAC in this API)."""
        return [
            {"id": d.device_id, "name": d.name, "macs": [], "device": f"sensor-{d.device_id}"}
            for d in self.timeline.devices
        ]

    def physical_devices(self) -> dict[str, dict]:
        devices = self.timeline.devices
        return {f"sensor-{d.device_id}": {"hostname": d.name, "macs": []} for d in devices}

    def ground_truth(self) -> dict:
        tl, now = self.timeline, self._now()
        open_alarms = []
        for (device_id, zone_id), span in sorted(tl.alarms.items()):
            open_alarms.append(
                {
                    "device_id": device_id,
                    "zone_id": zone_id,
                    "zone_name": tl.zones[(device_id, zone_id)].name,
                    "since": iso(span.start),
                    "since_epoch": span.start,
                    "value": span.value,
                    "acknowledged": span.acked,
                }
            )
        offline = [
            {
                "device_id": device_id,
                "device_name": tl.by_id[device_id].name,
                "since": iso(span.start),
                "since_epoch": span.start,
            }
            for device_id, span in sorted(tl.offline.items())
        ]
        power = []
        for device_id, span in sorted(tl.power_failures.items()):
            power.append(
                {
                    "device_id": device_id,
                    "device_name": tl.by_id[device_id].name,
                    "since": iso(span.start),
                    "since_epoch": span.start,
                    "battery_low": span.battery_low,
                }
            )
        return {
            "vendor": self.name,
            "acctid": self.acctid,
            "now": iso(now),
            "open_alarms": open_alarms,
            "offline_devices": offline,
            "power_failures": power,
            "devices": len(tl.devices),
        }

    def actions(self) -> dict[str, str]:
        return dict(ACTIONS)

    def _control_user(self, value: object) -> User:
        if value is None:
            return self.timeline.users[0]
        if not isinstance(value, str) or not value.strip():
            raise ControlError("user", "user must be a non-empty string (an email or name)")
        wanted = value.strip().casefold()
        for user in [*self.timeline.users, *self._extra_users.values()]:
            if wanted in (user.email.casefold(), user.name.casefold()):
                return user
        # Anyone else acknowledging is a new user of the account, with a stable id.
        email = value.strip() if "@" in value else f"{value.strip()}@fleetwatch.local"
        user = User(self.timeline.users[0].user_id + 100 + len(self._extra_users), value, email)
        self._extra_users[wanted] = user
        return user

    def _control_int(self, params: dict, name: str) -> int:
        value = params.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ControlError(name, f"{name} must be an integer")
        return value

    def apply(self, action: str, params: dict) -> dict:
        if action not in ACTIONS:
            raise ControlError("action", f"unknown action {action!r}; one of {sorted(ACTIONS)}")
        unknown = sorted(set(params) - ACTION_PARAMS[action])
        if unknown:
            raise ControlError(unknown[0], f"unknown parameter for {action}")
        tl, t = self.timeline, self._now()
        device, zone = self._action_target(action, params)
        first_event = len(tl.events)
        if zone is not None:
            self._apply_zone_action(action, device, zone, params, t)
        else:
            self._apply_device_action(action, device, t)
        return {
            "action": action,
            "device_id": device.device_id,
            "zone_id": zone.zone_id if zone else None,
            "at": iso(t),
            "event_ids": [e.event_id for e in tl.events[first_event:]],
        }

    def _action_target(self, action: str, params: dict) -> tuple[SensorDevice, Zone | None]:
        """The device (and, for a zone action, the zone) the action names; 404 if unknown."""
        tl = self.timeline
        device_id = self._control_int(params, "device_id")
        device = tl.by_id.get(device_id)
        if device is None:
            raise ControlError("device_id", f"unknown device_id {device_id}", status=404)
        zone = None
        if "zone_id" in ACTION_PARAMS[action]:
            zone_id = self._control_int(params, "zone_id")
            zone = tl.zones.get((device_id, zone_id))
            if zone is None:
                raise ControlError(
                    "zone_id", f"unknown zone_id {zone_id} on device {device_id}", status=404
                )
        return device, zone

    def _apply_zone_action(
        self, action: str, device: SensorDevice, zone: Zone, params: dict, t: datetime
    ) -> None:
        """raise_alarm, clear_alarm, ack_alarm; 409 when the zone is not in the state the
        action needs."""
        tl = self.timeline
        key = (device.device_id, zone.zone_id)
        if action == "raise_alarm":
            if zone.kind not in ALARMABLE_KINDS:
                raise ControlError(
                    "zone_id", f"{zone.kind} zones alarm through power_fail, not raise_alarm"
                )
            if key in tl.alarms:
                raise ControlError("zone_id", f"{zone.name} is already in alarm", status=409)
            tl.raise_alarm(device, zone, t, self._alarm_value(zone, params.get("value")))
        elif action == "clear_alarm":
            if key not in tl.alarms:
                raise ControlError("zone_id", f"{zone.name} is not in alarm", status=409)
            tl.clear_alarm(device, zone, t)
        else:
            user = self._control_user(params.get("user"))
            if not tl.acknowledge(device, zone, t, user):
                raise ControlError(
                    "zone_id", f"{zone.name} has no unacknowledged alarm", status=409
                )

    def _apply_device_action(self, action: str, device: SensorDevice, t: datetime) -> None:
        """power_fail / power_restore, go_offline / go_online; 409 when already so."""
        tl = self.timeline
        if action in ("power_fail", "power_restore"):
            failed = device.device_id in tl.power_failures
            if failed == (action == "power_fail"):
                state = "already failed" if failed else "not failed"
                raise ControlError("device_id", f"{device.name}: power {state}", status=409)
            (tl.power_fail if action == "power_fail" else tl.power_restore)(device, t)
        else:
            offline = device.device_id in tl.offline
            if offline == (action == "go_offline"):
                state = "already offline" if offline else "already online"
                raise ControlError("device_id", f"{device.name} is {state}", status=409)
            (tl.go_offline if action == "go_offline" else tl.go_online)(device, t)

    @staticmethod
    def _alarm_value(zone: Zone, value: object) -> float:
        width = (zone.high or 0) - (zone.low or 0)
        if value is None:
            return round((zone.high or 0) + max(0.5, 0.1 * width), SHAPES[zone.kind].decimals)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ControlError("value", "value must be a number")
        if not math.isfinite(value):
            raise ControlError("value", "value must be a number")
        below = zone.low is not None and value < zone.low
        above = zone.high is not None and value > zone.high
        if not (below or above):
            raise ControlError(
                "value", f"value must be below alarm_low {zone.low} or above alarm_high {zone.high}"
            )
        return float(value)

    def revoke_credentials(self) -> None:
        self._sessions.revoke_all()

    def credentials(self) -> dict:
        return {"user_name": DEMO_USER, "password": DEMO_PASSWORD}

    def rate_limit_config(self) -> dict:
        return {**self._rate, "key": "acctid", "default": "off (Sensaphone documents no limit)"}

    def configure_rate_limit(self, settings: dict) -> dict:
        if not isinstance(settings, dict):
            raise ControlError("body", "settings must be an object")
        unknown = sorted(set(settings) - {"enabled", "limit", "window"})
        if unknown:
            raise ControlError(unknown[0], "unknown setting; expected enabled, limit, window")
        new = dict(self._rate)
        if "enabled" in settings:
            if not isinstance(settings["enabled"], bool):
                raise ControlError("enabled", "enabled must be true or false")
            new["enabled"] = settings["enabled"]
        if "limit" in settings:
            limit = settings["limit"]
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ControlError("limit", "limit must be a positive integer")
            new["limit"] = limit
        if "window" in settings:
            window = settings["window"]
            if (
                not isinstance(window, int | float)
                or isinstance(window, bool)
                or not 0 < window <= 86_400
            ):
                raise ControlError("window", "window must be a number of seconds in (0, 86400]")
            new["window"] = float(window)
        self._limiter.configure(new["limit"], new["window"])
        self._limiter.reset()
        self._rate = new
        return self.rate_limit_config()
