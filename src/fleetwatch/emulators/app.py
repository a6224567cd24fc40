"""Builds one vendor's Starlette app: its routes, faults, counters and the control API."""

import asyncio
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleetwatch.emulators.base import ControlError, VendorEmulator, loads_json
from fleetwatch.emulators.faults import KINDS, FaultError, FaultInjector

log = logging.getLogger("fleetwatch.emulators")
CONTROL_PREFIX = "/_emulator"
# One clock jump replays every scenario tick it covers while holding the vendor's lock, so a
# jump is bounded (a year of a 10,000-device MetaAccess fleet takes about a minute).
MAX_ADVANCE_SECONDS = 366 * 86_400


class RequestCounters:
    """Requests per endpoint template and status, rejected ones included."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.endpoints: dict[str, dict] = defaultdict(
                lambda: {"total": 0, "statuses": defaultdict(int)}
            )
            self.total = 0
            self.rate_limited = 0

    def record(self, endpoint: str, status: int) -> None:
        with self._lock:
            entry = self.endpoints[endpoint]
            entry["total"] += 1
            entry["statuses"][str(status)] += 1
            self.total += 1
            if status == 429:
                self.rate_limited += 1

    def as_dict(self) -> dict:
        with self._lock:
            return {
                "total": self.total,
                "rate_limited": self.rate_limited,
                "endpoints": {
                    key: {"total": v["total"], "statuses": dict(v["statuses"])}
                    for key, v in sorted(self.endpoints.items())
                },
            }


def _control_error(field: str, message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)


async def _json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = loads_json(raw)
    except ValueError:
        raise ControlError("body", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ControlError("body", "the body must be a JSON object")
    try:  # a lone surrogate ("\\ud800") would be stored, then fail every answer that shows it
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ControlError("body", "the body holds text that is not valid Unicode") from None
    return data


def control_routes(
    vendor: VendorEmulator, faults: FaultInjector, counters: RequestCounters
) -> list[Route]:
    """The documented ``/_emulator/`` API (see README, "Emulator control API")."""
    p = CONTROL_PREFIX
    index, truth, clock, fleet, credentials = _read_views(vendor)
    advance, scenario = _drive_views(vendor)
    fault_list, ratelimit, counter_view = _fault_views(vendor, faults, counters)
    return [
        Route(f"{p}/", index),
        Route(f"{p}/truth", truth),
        Route(f"{p}/clock", clock),
        Route(f"{p}/clock/advance", advance, methods=["POST"]),
        Route(f"{p}/scenario", scenario, methods=["POST"]),
        Route(f"{p}/faults", fault_list, methods=["GET", "POST", "DELETE"]),
        Route(f"{p}/ratelimit", ratelimit, methods=["GET", "PUT"]),
        Route(f"{p}/counters", counter_view, methods=["GET", "DELETE"]),
        Route(f"{p}/credentials", credentials),
        Route(f"{p}/fleet", fleet),
    ]


View = Callable[[Request], Awaitable[Response]]


def _read_views(vendor: VendorEmulator) -> tuple[View, View, View, View, View]:
    """The read-only control views: index, truth, clock, fleet, credentials."""

    async def index(request: Request) -> Response:
        return JSONResponse(
            {
                "vendor": vendor.name,
                "endpoints": {
                    "GET /_emulator/truth": "what is open right now, with vendor ids",
                    "GET /_emulator/clock": "the simulated clock",
                    "POST /_emulator/clock/advance": '{"seconds": N} moves the clock forward',
                    "POST /_emulator/scenario": '{"action": NAME, ...params} drives the scenario',
                    "GET|POST|DELETE /_emulator/faults": "list, inject, clear faults",
                    "GET|PUT /_emulator/ratelimit": "read or change the rate limits",
                    "GET|DELETE /_emulator/counters": "request counters; DELETE resets them",
                    "GET /_emulator/credentials": "the demo credentials",
                },
                "actions": vendor.actions(),
                "fault_kinds": KINDS,
            }
        )

    async def truth(request: Request) -> Response:
        vendor.sync()
        with vendor.lock:
            return JSONResponse(vendor.ground_truth())

    async def clock(request: Request) -> Response:
        return JSONResponse(vendor.clock.as_dict())

    async def fleet(request: Request) -> Response:
        with vendor.lock:
            records = vendor.fleet_records()
            devices = vendor.physical_devices()
        return JSONResponse({"vendor": vendor.name, "records": records, "devices": devices})

    async def credentials(request: Request) -> Response:
        return JSONResponse(vendor.credentials())

    return index, truth, clock, fleet, credentials


def _drive_views(vendor: VendorEmulator) -> tuple[View, View]:
    """The views that move the simulation: clock advance and scenario actions."""

    async def advance(request: Request) -> Response:
        body = await _json_body(request)
        seconds = body.get("seconds")
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 <= seconds <= MAX_ADVANCE_SECONDS  # also refuses NaN and infinity
        ):
            raise ControlError(
                "seconds", f"seconds must be a number from 0 to {MAX_ADVANCE_SECONDS} (366 days)"
            )
        vendor.clock.advance(seconds)
        vendor.sync()
        return JSONResponse(vendor.clock.as_dict())

    async def scenario(request: Request) -> Response:
        body = await _json_body(request)
        action = body.pop("action", None)
        if not isinstance(action, str):
            raise ControlError("action", f"action is required; one of {sorted(vendor.actions())}")
        vendor.sync()
        with vendor.lock:
            return JSONResponse(vendor.apply(action, body))

    return advance, scenario


def _fault_views(
    vendor: VendorEmulator, faults: FaultInjector, counters: RequestCounters
) -> tuple[View, View, View]:
    """The views that shape the emulator's behaviour: faults, rate limits, counters."""

    async def fault_list(request: Request) -> Response:
        if request.method == "DELETE":
            faults.clear()
            return JSONResponse({"faults": []})
        if request.method == "POST":
            body = await _json_body(request)
            try:
                fault = faults.add(body)
            except FaultError as exc:
                raise ControlError(exc.field, str(exc)) from None
            if fault.kind == "expire_credentials":
                with vendor.lock:
                    vendor.revoke_credentials()
            return JSONResponse(fault.public(), status_code=201)
        return JSONResponse({"faults": faults.list()})

    async def ratelimit(request: Request) -> Response:
        if request.method == "PUT":
            body = await _json_body(request)
            with vendor.lock:
                return JSONResponse(vendor.configure_rate_limit(body))
        return JSONResponse(vendor.rate_limit_config())

    async def counter_view(request: Request) -> Response:
        if request.method == "DELETE":
            counters.reset()
        return JSONResponse(counters.as_dict())

    return fault_list, ratelimit, counter_view


class EmulatorMiddleware:
    """Counts every request, applies injected faults, and advances the scenario."""

    def __init__(
        self,
        app: ASGIApp,
        vendor: VendorEmulator,
        faults: FaultInjector,
        counters: RequestCounters,
        routes: list,
    ) -> None:
        self.app, self.vendor, self.faults, self.counters = app, vendor, faults, counters
        self.routes = routes

    def _endpoint(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} (unmatched)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            await self._run(scope, receive, send)
            return
        endpoint = self._endpoint(scope)
        status_seen = {"status": 0}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen["status"] = message["status"]
            await send(message)

        try:
            fault = self.faults.take(path)
            if fault is None:
                await self._run(scope, receive, counting_send)
            else:
                await self._apply_fault(fault, scope, receive, counting_send)
        finally:
            self.counters.record(endpoint, status_seen["status"] or 499)

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Advance the scenario and run the app; an unexpected exception still ends in the
        vendor's own 500 (the control API's error shape on its own paths).

        Starlette's ServerErrorMiddleware sends the ``server_error`` answer (the vendor's error
        shape, logged there) and then re-raises for the server's benefit; uvicorn would log it
        a second time and close the keep-alive connection. Once that answer is complete the
        exception is dropped here, so the client can go on using its connection.
        """
        progress = {"started": False, "complete": False}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                progress["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                progress["complete"] = True
            await send(message)

        try:
            if not scope["path"].startswith(CONTROL_PREFIX):
                self.vendor.sync()
            await self.app(scope, receive, tracking_send)
        except Exception:
            if progress["complete"]:
                return
            if progress["started"]:
                raise  # a half-sent answer: only closing the connection can end it
            log.exception("emulator %s failed on %s", self.vendor.name, scope["path"])
            if scope["path"].startswith(CONTROL_PREFIX):
                response = _control_error("internal", "internal error", 500)
            else:
                response = self.vendor.error_response(Request(scope), 500, "internal error")
            await response(scope, receive, send)

    async def _apply_fault(self, fault, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        kind = fault.kind
        if kind in ("http_500", "http_503"):
            status = 500 if kind == "http_500" else 503
            response = self.vendor.error_response(request, status, "injected fault")
            await response(scope, receive, send)
        elif kind == "rate_limit":
            await self.vendor.rate_limited_response(request, fault.delay)(scope, receive, send)
        elif kind == "slow":
            await asyncio.sleep(fault.delay)
            await self._run(scope, receive, send)
        elif kind == "timeout":
            await asyncio.sleep(fault.delay)
            await self._drop(send, status=504)
        elif kind == "drop_connection":
            await self._drop(send, status=200)
        elif kind in ("malformed_json", "truncated_json"):
            if kind == "malformed_json":
                body = b'{"results": [ {"id": "oops", <<not json>>'
            else:
                body = await self._real_body(scope, receive)
                body = body[: max(1, len(body) // 2)]
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    async def _real_body(self, scope: Scope, receive: Receive) -> bytes:
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self._run(scope, receive, capture)
        return b"".join(chunks) or b'{"truncated": true}'

    @staticmethod
    async def _drop(send: Send, status: int) -> None:
        """Promise a body, then abandon it: the server closes the connection mid-response."""
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"partial":', "more_body": True})
        raise ConnectionAbortedError("injected dropped connection")


def build_app(vendor: VendorEmulator) -> Starlette:
    faults = FaultInjector()
    counters = RequestCounters()
    vendor_routes = vendor.routes()
    routes = vendor_routes + control_routes(vendor, faults, counters)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(CONTROL_PREFIX):
            return _control_error("path", exc.detail, exc.status_code)
        return vendor.error_response(request, exc.status_code, exc.detail)

    async def control_error(request: Request, exc: ControlError) -> Response:
        return _control_error(exc.field, str(exc), exc.status)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("emulator %s failed on %s", vendor.name, request.url.path)
        if request.url.path.startswith(CONTROL_PREFIX):
            return _control_error("internal", "internal error", 500)
        return vendor.error_response(request, 500, "internal error")

    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: http_error,
            ControlError: control_error,
            Exception: server_error,
        },
    )
    app.state.vendor, app.state.faults, app.state.counters = vendor, faults, counters
    return EmulatorMiddleware(app, vendor, faults, counters, vendor_routes)
