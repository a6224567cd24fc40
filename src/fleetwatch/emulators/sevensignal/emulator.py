"""7SIGNAL Mobile Eye (gateway v2) emulator: the Starlette routes and the control API.

Behaviour follows notes/vendor-apis.md §1 (the shared references); every choice the vendor
does not document is listed in docs/emulators/7signal.md. The account lives in ``model``, the
JSON shapes in ``render``, the OAuth tokens in ``auth`` and Spring-style parameter parsing in
``params``.
"""

import itertools
import math
import random
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fleetwatch.emulators import console
from fleetwatch.emulators.base import ControlError, VendorEmulator
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import Endpoint, Fleet
from fleetwatch.emulators.ratelimit import TokenBucket
from fleetwatch.emulators.sevensignal import auth, model, render
from fleetwatch.emulators.sevensignal.model import (
    BANDS,
    DAY_MS,
    HISTORY_TICKS,
    MINUTE_MS,
    PLATFORMS,
    Incident,
    to_ms,
)
from fleetwatch.emulators.sevensignal.params import (
    MIN_EPOCH_MS,
    ApiError,
    as_list,
    check_instant,
    int_param,
    long_param,
)
from fleetwatch.emulators.sevensignal.render import duration_text, iso_ms, zoned_ms

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 250
MAX_INCIDENT_WINDOW_MS = 30 * 86_400_000
CONSOLE = console.CONSOLE_PREFIX
CONSOLE_AGENT_FIELDS = (
    "id",
    "name",
    "platform",
    "version",
    "mac",
    "localIpAddress",
    "lastSsid",
    "lastDefinedLocation",
    "lastAgentVersion",
    "isLicensed",
)


class SevenSignalEmulator(VendorEmulator):
    """The 7SIGNAL Mobile Eye API over the shared fleet's agent-running endpoints."""

    name = "7signal"
    tick_seconds = 60.0
    base_incident_rate = 0.03  # new incidents per tick for the 200-device demo fleet (~43/day)
    min_open = 2  # the demo always has something to show

    def __init__(self, fleet: Fleet, clock: SimClock, seed: int) -> None:
        super().__init__(fleet, clock, seed)
        self.organization = fleet.organization
        self._epoch_ms = to_ms(clock.epoch)
        self._agents: list[Endpoint] = fleet.seven_signal_agents()
        self._agent_by_id = {a.agent_id: a for a in self._agents}
        self._by_name = sorted(self._agents, key=lambda a: (a.hostname, a.agent_id))
        self._location_names = {loc.id: loc.name for loc in fleet.locations}
        self._location_index = {loc.id: i for i, loc in enumerate(fleet.locations)}
        self._ssid_index = {ssid: i for i, ssid in enumerate(fleet.ssids)}
        self._summary = model.build_summary(self.organization, self._agents)
        measuring = sum(not a.stale for a in self._agents)
        scale = max(0.5, 1 + math.log10(max(1, measuring) / 180))
        self.incident_rate = self.base_incident_rate * scale
        self.log = model.IncidentLog(
            fleet, model.build_sites(fleet, self._agents), self.incident_rate, self.min_open
        )
        self._control_actions = 0
        self._tokens = auth.TokenSigner(clock, self.organization)
        self._request_ids = itertools.count(1)
        self._request_prefix = secrets.token_hex(4)
        self._bucket = TokenBucket(rate=5.0, burst=15)
        self._rate_limit_enabled = True
        for k in range(-HISTORY_TICKS, 1):
            at = clock.epoch + timedelta(seconds=k * self.tick_seconds)
            self.on_tick(at, random.Random(f"{seed}:{self.name}:history:{k}"))

    @property
    def _incidents(self) -> list[Incident]:
        """Every incident so far (tests measure how many a clock jump produced)."""
        return self.log.incidents

    def on_tick(self, at: datetime, rng: random.Random) -> None:
        """Close incidents whose time is up, then start new ones: O(changes), never O(fleet)."""
        self.log.tick(to_ms(at), rng)

    def _render_agent(self, agent: Endpoint, now_ms: int) -> dict:
        return render.agent(
            agent,
            now_ms,
            self._epoch_ms,
            self._location_names,
            self._location_index.get(agent.location_id, 0),
            self._ssid_index.get(agent.ssid, 0),
        )

    def _render_incident(self, incident: Incident, now_ms: int, flat: bool = False) -> dict:
        return render.incident(incident, now_ms, self.organization, flat)

    # --- auth and rate limiting --------------------------------------------------------------
    def _limit_headers(self, remaining: int) -> dict[str, str]:
        rate = self._bucket.rate
        return {
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Burst-Capacity": str(self._bucket.burst),
            "X-RateLimit-Replenish-Rate": str(int(rate) if rate == int(rate) else rate),
            "X-RateLimit-Requested-Tokens": "1",
        }

    def _api(
        self, handler: Callable[[Request, int], dict]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler: bearer auth, then the token bucket, then the vendor's error shapes."""

        async def endpoint(request: Request) -> Response:
            try:
                subject = self._tokens.subject(request.headers.get("authorization", ""))
            except auth.Unauthorized as exc:
                return self._unauthorized(request, exc.description)
            headers: dict[str, str] = {}
            if self._rate_limit_enabled:
                decision = self._bucket.hit(subject)
                headers = self._limit_headers(decision.remaining)
                if not decision.allowed:
                    return Response(status_code=429, headers=headers)
            try:
                self._check_organization(request)
                with self.lock:
                    body = handler(request, to_ms(self.clock.now()))
            except ApiError as exc:
                response = self.error_response(request, exc.status, exc.message)
                response.headers.update(headers)
                return response
            return JSONResponse(body, headers=headers)

        return endpoint

    def _check_organization(self, request: Request) -> None:
        wanted = request.query_params.get("organization")
        if wanted and wanted.lower() != self.organization.lower():
            raise ApiError(403, f"Access to organization '{wanted}' is denied")

    def _unauthorized(self, request: Request, description: str | None) -> Response:
        message = description or "Full authentication is required"
        response = self.error_response(request, 401, message)
        response.headers["WWW-Authenticate"] = auth.bearer_challenge(description)
        return response

    # --- routes ------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        """Served at the root, so any configured base URL (api-v2 or a proxy) maps onto it."""
        return [
            Route("/oauth2/token", self._token, methods=["POST"]),
            Route("/eyes", self._api(self._eyes), methods=["GET"]),
            Route("/eyes/", self._api(self._eyes), methods=["GET"]),
            Route("/eyes/agents", self._api(self._agents_page), methods=["GET"]),
            Route("/eyes/agents/{agent_id}", self._api(self._agent_detail), methods=["GET"]),
            Route("/incidents/agents", self._api(self._incident_list), methods=["GET"]),
            Route(
                "/incidents/agents/{incident_id}",
                self._api(self._incident_detail),
                methods=["GET"],
            ),
            Route(f"{CONSOLE}/", self._console_home, methods=["GET"]),
            Route(f"{CONSOLE}/incidents/{{incident_id}}", self._console_incident, methods=["GET"]),
            Route(f"{CONSOLE}/agents/{{agent_id}}", self._console_agent, methods=["GET"]),
        ]

    # --- the console pages incidents link to (no token: a person's browser) ------------------
    async def _console_home(self, request: Request) -> Response:
        with self.lock:
            open_now = sorted(self.log.open.values(), key=lambda i: (i.start_ms, i.id))
            fields = [("Organization", self.organization), ("Agents", len(self._agents))]
            links = [
                (f"{CONSOLE}/incidents/{i.id}", f"{i.type} at {i.location_name}") for i in open_now
            ]
        return console.page("7SIGNAL", "Mobile Eye", fields, links)

    async def _console_incident(self, request: Request) -> Response:
        incident_id = request.path_params["incident_id"]
        with self.lock:
            incident = self.log.by_id.get(incident_id)
            if incident is None:
                return console.not_found("7SIGNAL", f"incident {incident_id}")
            fields = [
                ("Incident", incident.id),
                ("Type", incident.type),
                ("Location", f"{incident.location_name} ({incident.location_id})"),
                ("Network", incident.network),
                ("Band", f"{incident.band:g} GHz"),
                ("Impacted", f"{incident.count_impacted} of {incident.population_count} agents"),
                ("Started", iso_ms(incident.start_ms)),
                ("Ended", iso_ms(incident.end_ms) if incident.end_ms is not None else "open"),
            ]
        return console.page("7SIGNAL", f"{incident.type} at {incident.location_name}", fields)

    async def _console_agent(self, request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        with self.lock:
            agent = self._agent_by_id.get(agent_id)
            if agent is None:
                return console.not_found("7SIGNAL", f"agent {agent_id}")
            data = self._render_agent(agent, to_ms(self.clock.now()))
        fields = [(name, data.get(name)) for name in CONSOLE_AGENT_FIELDS]
        return console.page("7SIGNAL", f"Agent {agent.hostname}", fields)

    async def _token(self, request: Request) -> Response:
        """RFC 6749 client_credentials over a form body, or HTTP Basic client authentication."""
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return auth.oauth_error(
                400, "invalid_request", "The body must be application/x-www-form-urlencoded"
            )
        # parsed by hand: Starlette's request.form() needs python-multipart, not a dependency
        try:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        except UnicodeDecodeError:
            return auth.oauth_error(400, "invalid_request", "The body is not valid UTF-8")
        basic = auth.basic_credentials(request.headers.get("authorization", ""))
        grant_type = form.get("grant_type")
        if not grant_type:
            return auth.oauth_error(400, "invalid_grant", "Missing grant_type parameter")
        if grant_type != "client_credentials":
            return auth.oauth_error(
                400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}"
            )
        client = token_client(form, basic)
        if isinstance(client, Response):
            return client
        client_id, client_secret = client
        if not auth.client_ok(client_id, client_secret):
            response = auth.oauth_error(401, "invalid_client", "Client authentication failed")
            if basic is not None:
                response.headers["WWW-Authenticate"] = 'Basic realm="7signal"'
            return response
        with self.lock:
            token = self._tokens.issue(str(client_id))
        return JSONResponse(
            {
                "access_token": token,
                "scope": auth.TOKEN_SCOPE,
                "expires_in": auth.TOKEN_LIFETIME,
                "token_type": "Bearer",
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _eyes(self, request: Request, now_ms: int) -> dict:
        eyes_type = request.query_params.get("eyesType")
        if eyes_type not in (None, "AGENTS", "SENSORS"):
            raise ApiError(
                400,
                "Method parameter 'eyesType': Failed to convert value of type "
                "'java.lang.String' to required type 'EyesType'; "
                f"No enum constant EyesType.{eyes_type}",
            )
        body = {}
        if eyes_type in (None, "AGENTS"):
            body["agents"] = {
                **self._summary,
                "licenseSummary": dict(self._summary["licenseSummary"]),
                "platformSummary": dict(self._summary["platformSummary"]),
            }
        if eyes_type in (None, "SENSORS"):
            body["sensors"] = {
                "deviceCount": 0,
                "deviceStatusSummary": {
                    "active": 0,
                    "passive": 0,
                    "unconfigured": 0,
                    "maintenance": 0,
                },
                "modelSummary": {},
            }
        return body

    _SORT_KEYS: dict[str, Callable[[Endpoint], object]] = {
        "id": lambda a: a.agent_id,
        "name": lambda a: a.hostname,
        "platform": lambda a: a.platform,
        "manufacturer": lambda a: a.manufacturer,
        "model": lambda a: a.model,
        "version": lambda a: a.os_version,
        "mac": lambda a: a.mac,
        "lastSsid": lambda a: a.ssid,
        "lastDefinedLocationId": lambda a: a.location_id,
        "remoteIpAddress": lambda a: a.public_ip,
        "localIpAddress": lambda a: a.local_ip,
    }
    SORT_FIELDS = (
        *_SORT_KEYS,
        "lastSeen",
        "lastTestSeen",
        "lastDefinedLocation",
        "isLicensed",
        "marketModel",
        "lastAgentVersion",
    )

    def _agents_page(self, request: Request, now_ms: int) -> dict:
        page = int_param(request, ("page",), 1)
        per_page = int_param(request, ("perPage", "limit"), DEFAULT_PER_PAGE)
        if page < 1:
            raise ApiError(400, "page must be greater than or equal to 1")
        if per_page < 1:
            raise ApiError(400, "perPage must be greater than or equal to 1")
        per_page = min(per_page, MAX_PER_PAGE)
        order = (request.query_params.get("order") or "asc").lower()
        if order not in ("asc", "desc"):
            raise ApiError(
                400,
                f"Invalid value '{order}' for orders given; "
                "Has to be either 'desc' or 'asc' (case insensitive)",
            )
        sort_field = request.query_params.get("sortField") or request.query_params.get("sort")
        sort_field = sort_field or "name"
        if sort_field not in self.SORT_FIELDS:
            raise ApiError(
                400, f"Invalid sortField '{sort_field}'; one of {', '.join(self.SORT_FIELDS)}"
            )
        agents = self._filtered_agents(request)
        if sort_field != "name" or order != "asc":
            key = self._sort_key(sort_field, now_ms)
            agents = sorted(agents, key=lambda a: (key(a), a.agent_id), reverse=order == "desc")
        total = len(agents)
        start = (page - 1) * per_page
        return {
            "results": [self._render_agent(a, now_ms) for a in agents[start : start + per_page]],
            "pagination": {
                "perPage": per_page,
                "page": page,
                "total": total,
                "pages": math.ceil(total / per_page),
            },
        }

    def _sort_key(self, field: str, now_ms: int) -> Callable[[Endpoint], object]:
        if field in self._SORT_KEYS:
            return self._SORT_KEYS[field]
        if field == "lastSeen":
            return lambda a: model.last_seen(a, now_ms, self._epoch_ms)
        if field == "lastTestSeen":
            return lambda a: model.last_test_seen(a, model.last_seen(a, now_ms, self._epoch_ms))
        if field == "lastDefinedLocation":
            return lambda a: self._location_names.get(a.location_id, "")
        if field == "isLicensed":
            return model.licensed
        if field == "marketModel":
            return render.market_model
        return render.agent_version

    def _filtered_agents(self, request: Request) -> list[Endpoint]:
        """Exact-match filters (the vendor's filtering is strict); no filter means no copy."""
        platforms = platform_filter(request)
        ssids = set(as_list(request, "lastSsid"))
        location_ids = set(as_list(request, "lastLocationId"))
        location_names = set(as_list(request, "lastLocation"))
        client_name = request.query_params.get("clientName")
        nickname = request.query_params.get("nickname")
        license_constraint = request.query_params.get("licenseConstraint")
        if license_constraint not in (None, "", "licensed", "unlicensed"):
            raise ApiError(
                400, f"Invalid licenseConstraint '{license_constraint}'; licensed or unlicensed"
            )
        checks: list[Callable[[Endpoint], bool]] = []
        if platforms:
            checks.append(lambda a: a.platform in platforms)
        if ssids:
            checks.append(lambda a: a.ssid in ssids)
        if location_ids:
            checks.append(lambda a: a.location_id in location_ids)
        if location_names:
            checks.append(lambda a: self._location_names.get(a.location_id) in location_names)
        if client_name:
            checks.append(lambda a: a.hostname == client_name)
        if nickname:
            checks.append(lambda a: False)  # emulated agents carry no nickname
        if license_constraint:
            wanted = license_constraint == "licensed"
            checks.append(lambda a: model.licensed(a) == wanted)
        if not checks:
            return self._by_name
        return [a for a in self._by_name if all(check(a) for check in checks)]

    def _agent_detail(self, request: Request, now_ms: int) -> dict:
        agent_id = request.path_params["agent_id"]
        agent = self._agent_by_id.get(agent_id)
        if agent is None:
            raise ApiError(404, f"Agent {agent_id} not found")
        return self._render_agent(agent, now_ms)

    def _incident_list(self, request: Request, now_ms: int) -> dict:
        from_ms = long_param(request, "from")
        to_ms_ = long_param(request, "to")
        if from_ms is not None:
            check_instant("from", from_ms)
        if to_ms_ is None:
            to_ms_ = now_ms
        else:
            check_instant("to", to_ms_)
        if from_ms is None:
            if to_ms_ - DAY_MS < MIN_EPOCH_MS:
                raise ApiError(
                    400,
                    f"Invalid value {to_ms_} for 'to': without 'from' (which defaults to "
                    f"to - 24 h) it must be at least {MIN_EPOCH_MS + DAY_MS}",
                )
            from_ms = to_ms_ - DAY_MS
        if from_ms > to_ms_:
            raise ApiError(400, "'from' must be before 'to'")
        if to_ms_ - from_ms > MAX_INCIDENT_WINDOW_MS:
            raise ApiError(400, "The time range between 'from' and 'to' cannot exceed 30 days")
        order = (request.query_params.get("order") or "desc").lower()
        if order not in ("asc", "desc"):
            raise ApiError(400, f"Invalid value '{order}' for order; 'asc' or 'desc'")
        location_id = request.query_params.get("location_id")
        incidents = self.log.between(from_ms, to_ms_)
        if location_id:
            incidents = [i for i in incidents if i.location_id == location_id]
        incidents.sort(key=lambda i: (i.start_ms, i.id), reverse=order == "desc")
        duration = to_ms_ - from_ms
        return {
            "range": {
                "from": from_ms,
                "fromAsDateString": zoned_ms(from_ms),
                "to": to_ms_,
                "toAsDateString": zoned_ms(to_ms_),
                "total": len(incidents),
                "duration": duration,
                "durationAsString": duration_text(duration),
            },
            "results": [self._render_incident(i, now_ms) for i in incidents],
        }

    def _incident_detail(self, request: Request, now_ms: int) -> dict:
        incident_id = request.path_params["incident_id"]
        incident = self.log.by_id.get(incident_id)
        if incident is None:
            raise ApiError(404, f"Incident {incident_id} not found")
        return self._render_incident(incident, now_ms, flat=True)

    # --- VendorEmulator hooks ----------------------------------------------------------------
    def error_response(self, request: Request, status: int, message: str) -> Response:
        """Spring Boot's DefaultErrorAttributes shape, keys in the gateway's order."""
        path = request.url.path
        if status == 404 and message == "Not Found":
            message = f"No static resource {unquote(path).lstrip('/')}."
        body = {
            "timestamp": self.clock.now().isoformat(timespec="milliseconds"),
            "path": path,
            "status": status,
            "error": HTTPStatus(status).phrase,
            "requestId": f"{self._request_prefix}-{next(self._request_ids)}",
            "message": message,
        }
        return JSONResponse(body, status_code=status)

    def rate_limited_response(self, request: Request, retry_after: float) -> Response:
        """Spring Cloud Gateway's 429: empty body, the X-RateLimit-* headers, no Retry-After."""
        return Response(status_code=429, headers=self._limit_headers(0))

    def fleet_records(self) -> list[dict]:
        """Every agent record, retired ones of re-imaged machines included."""
        return [
            {"id": a.agent_id, "name": a.hostname, "macs": [a.mac], "device": a.physical}
            for a in self._agents
        ]

    def ground_truth(self) -> dict:
        """Exactly the incidents without endTimestamp in /incidents/agents right now."""
        return {
            "vendor": self.name,
            "open_incidents": [
                {
                    "id": i.id,
                    "type": i.type,
                    "location": i.location_id,
                    "network": i.network,
                    "band": i.band,
                    "startTimestamp": iso_ms(i.start_ms),
                }
                for i in sorted(self.log.open.values(), key=lambda i: (i.start_ms, i.id))
            ],
            "agents": len(self._agents),
        }

    def actions(self) -> dict[str, str]:
        """The scenario actions, for the control API's index."""
        return {
            "create_incident": (
                "open an incident now; optional location_id, network, band (2.4|5.0|6.0), type, "
                "countImpacted, populationCount, duration_minutes (default: open until ended)"
            ),
            "end_incident": '{"id": incident id} recovers an open incident now',
        }

    def apply(self, action: str, params: dict) -> dict:
        """Create or end an incident now; control actions draw from their own seeded RNG so a
        replayed test sees the same ids."""
        now_ms = to_ms(self.clock.now())
        if action == "create_incident":
            spec = self._validate_incident_spec(params)
            self._control_actions += 1
            rng = random.Random(f"{self.seed}:{self.name}:control:{self._control_actions}")
            if not self.log.sites and "location_id" not in spec:
                raise ControlError("location_id", "the fleet has no agents; give a location_id")
            incident = self.log.start(now_ms, rng, spec)
            if spec.get("duration_minutes"):
                end = now_ms + spec["duration_minutes"] * MINUTE_MS
                self.log.plan_end(incident, end)
            return self._render_incident(incident, now_ms)
        if action == "end_incident":
            incident_id = params.get("id")
            if not isinstance(incident_id, str):
                raise ControlError("id", "id (an incident id) is required")
            found = self.log.by_id.get(incident_id)
            if found is None:
                raise ControlError("id", f"no incident {incident_id}", status=404)
            if found.end_ms is not None:
                raise ControlError("id", f"incident {incident_id} already ended", status=409)
            self.log.close(found, now_ms)
            return self._render_incident(found, now_ms)
        raise ControlError("action", f"unknown action {action!r}; one of {sorted(self.actions())}")

    def _validate_incident_spec(self, params: dict) -> dict:
        allowed = {
            "location_id",
            "network",
            "band",
            "type",
            "countImpacted",
            "populationCount",
            "duration_minutes",
        }
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise ControlError(unknown[0], "unknown field")
        spec = dict(params)
        if "location_id" in spec and spec["location_id"] not in self._location_names:
            raise ControlError("location_id", "unknown location id")
        for text in ("network", "type"):
            if text in spec and (not isinstance(spec[text], str) or not spec[text]):
                raise ControlError(text, f"{text} must be a non-empty string")
        if "band" in spec:
            spec["band"] = control_band(spec["band"])
        for number in ("countImpacted", "populationCount", "duration_minutes"):
            value = spec.get(number)
            if number in spec and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise ControlError(number, f"{number} must be a non-negative integer")
        if spec.get("countImpacted", 0) > spec.get("populationCount", math.inf):
            raise ControlError("countImpacted", "countImpacted cannot exceed populationCount")
        return spec

    def revoke_credentials(self) -> None:
        """Rotate the signing key: every token issued so far fails verification (401)."""
        self._tokens.revoke_all()

    def credentials(self) -> dict:
        """The one demo client (documented in docs/emulators/7signal.md)."""
        return {"client_id": auth.CLIENT_ID, "client_secret": auth.CLIENT_SECRET}

    def rate_limit_config(self) -> dict:
        """Token-bucket settings, in the keys configure_rate_limit accepts."""
        return {
            "enabled": self._rate_limit_enabled,
            "burst": self._bucket.burst,
            "replenish_rate": self._bucket.rate,
            "key": "client_id (the token's sub claim)",
        }

    def configure_rate_limit(self, settings: dict) -> dict:
        """Partial update; every bucket restarts full so a test sees the new limits at once."""
        unknown = sorted(set(settings) - {"enabled", "burst", "replenish_rate"})
        if unknown:
            raise ControlError(unknown[0], "unknown field; use enabled, burst, replenish_rate")
        enabled = settings.get("enabled", self._rate_limit_enabled)
        burst = settings.get("burst", self._bucket.burst)
        rate = settings.get("replenish_rate", self._bucket.rate)
        if not isinstance(enabled, bool):
            raise ControlError("enabled", "enabled must be true or false")
        if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
            raise ControlError("burst", "burst must be a positive integer")
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not rate > 0:
            raise ControlError("replenish_rate", "replenish_rate must be a positive number")
        self._bucket.configure(rate, burst)
        self._bucket.reset()
        self._rate_limit_enabled = enabled
        return self.rate_limit_config()


def token_client(form: dict, basic: tuple[str, str] | None) -> tuple[str, str] | Response:
    """The client id and secret of a token request, from HTTP Basic or the form (not both
    with different values); else the RFC 6749 error to answer with."""
    form_id, form_secret = form.get("client_id"), form.get("client_secret")
    client_id: str | None
    client_secret: str | None
    if basic is not None:
        if (form_id and form_id != basic[0]) or (form_secret and form_secret != basic[1]):
            return auth.oauth_error(
                400, "invalid_request", "Multiple client authentication methods used"
            )
        client_id, client_secret = basic
    else:
        client_id, client_secret = form_id, form_secret
    if not client_id:
        return auth.oauth_error(400, "invalid_request", "Missing client_id parameter")
    if not client_secret:
        return auth.oauth_error(400, "invalid_request", "Missing client_secret parameter")
    return client_id, client_secret


def platform_filter(request: Request) -> set[str]:
    """The ``platform`` filter's values; 400 for one the vendor does not know."""
    platforms = set(as_list(request, "platform"))
    bad = platforms - set(PLATFORMS)
    if bad:
        raise ApiError(400, f"Invalid platform '{sorted(bad)[0]}'; one of {', '.join(PLATFORMS)}")
    return platforms


def control_band(value: object) -> float:
    """A scenario's ``band``: 2.4, 5.0 or 6.0, as a number or its text."""
    band = value
    if isinstance(band, str):
        try:
            band = float(band)
        except ValueError:
            band = None
    if isinstance(band, bool) or band not in BANDS:
        raise ControlError("band", "band must be 2.4, 5.0 or 6.0")
    return band
