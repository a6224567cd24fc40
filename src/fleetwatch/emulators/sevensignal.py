"""7SIGNAL Mobile Eye (gateway v2) emulator: OAuth2 tokens, Eyes agents and agent incidents.

Behaviour follows notes/vendor-apis.md §1 (references); every choice the vendor does not document
is listed in docs/emulators/7signal.md. The scenario is a deterministic stream of Wi-Fi incidents
(one per location + SSID + band) driven by ``on_tick``; agents are derived from the shared fleet.
"""

import base64
import binascii
import heapq
import itertools
import math
import random
import secrets
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fleetwatch.emulators.base import ControlError, VendorEmulator
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import Endpoint, Fleet
from fleetwatch.emulators.ratelimit import TokenBucket

CLIENT_ID = "fleetwatch-demo"
CLIENT_SECRET = "demo-secret"
TOKEN_LIFETIME = 86_400  # simulated seconds; "cannot be changed" per the vendor docs
TOKEN_SCOPE = "read:resources write:resources"
RFC6749_URI = "https://datatracker.ietf.org/doc/html/rfc6749#section-5.2"
RFC6750_URI = "https://tools.ietf.org/html/rfc6750#section-3.1"

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 250
MAX_INCIDENT_WINDOW_MS = 30 * 86_400_000
DAY_MS = 86_400_000
MINUTE_MS = 60_000
HISTORY_TICKS = 24 * 60  # one simulated day of closed incidents exists before the epoch
CHECKIN_PERIOD_MS = 300_000  # online agents check in every 5 simulated minutes

PLATFORMS = ("windows", "linux", "macos", "android")
BANDS = (2.4, 5.0, 6.0)
BAND_WEIGHTS = (0.3, 0.55, 0.15)
PERMISSION_FIELDS = (
    "locationPermissionStatus",
    "readAccountPermissionStatus",
    "backgroundLocationPermissionStatus",
    "writeExternalStoragePermissionStatus",
)

# type -> (warningThreshold, criticalThreshold, relative frequency); units differ per KPI
INCIDENT_TYPES: dict[str, tuple[float, float, int]] = {
    "SEVEN_MCS": (10, 7, 14),
    "CONNECTION": (80, 60, 14),
    "COVERAGE": (-70, -78, 10),
    "CONGESTION": (60, 80, 10),
    "ROAMING": (80, 60, 8),
    "CO_CHANNEL_INTERFERENCE": (3, 5, 8),
    "ADJACENT_CHANNEL_INTERFERENCE": (3, 5, 5),
    "RF_PROBLEM": (80, 60, 5),
    "SIGNAL_STRENGTH": (-67, -75, 10),
    "PING_SUCCESS_RATE": (95, 90, 6),
    "GATEWAY_PING_RTT": (50, 100, 5),
    "DOWNLOAD_THROUGHPUT": (20, 10, 5),
}
_TYPE_NAMES = list(INCIDENT_TYPES)
_TYPE_WEIGHTS = [v[2] for v in INCIDENT_TYPES.values()]

AGENT_VERSIONS = {
    "windows": ("4.7.2+6217", "4.6.9+6090"),
    "macos": ("4.7.1+6198", "4.6.8+6071"),
    "linux": ("4.5.0+5873", "4.5.0+5873"),
    "android": ("4.7.3+6231", "4.7.0+6150"),
}
DRIVERS = {
    "windows": (
        ("Intel - Intel(R) Wi-Fi 6 AX201 160MHz", "22.170.0.3"),
        ("Intel - Intel(R) Wi-Fi 6E AX211 160MHz", "23.20.0.4"),
        ("Realtek - Realtek 8852BE Wireless LAN WiFi 6 PCI-E NIC", "6001.16.145.0"),
    ),
    "macos": (("Apple - Broadcom BCM4387", "20.10.1058.3.8.7.171"),),
    "linux": (("Intel - iwlwifi", "6.5.0-35-generic"),),
}
MARKET_MODELS = {
    "MacBookPro18,3": "MacBook Pro (14-inch, 2021)",
    "MacBookAir10,1": "MacBook Air (M1, 2020)",
    "SM-S911U": "Galaxy S23",
    "SM-A546U": "Galaxy A54 5G",
}

_EPOCH0 = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(when: datetime) -> int:
    """Epoch milliseconds by integer arithmetic (float timestamps lose the last millisecond)."""
    return (when - _EPOCH0) // _MS


@lru_cache(maxsize=65_536)
def iso_ms(ms: int) -> str:
    """``2026-08-17T14:12:00.000Z``: how the vendor writes incident timestamps (cached: an
    incident list renders four per incident, and strftime dominated the request)."""
    w = _EPOCH0 + timedelta(milliseconds=ms)
    # not strftime: its %Y drops the leading zeros of years before 1000 on glibc
    return (
        f"{w.year:04d}-{w.month:02d}-{w.day:02d}T{w.hour:02d}:{w.minute:02d}:{w.second:02d}"
        f".{ms % 1000:03d}Z"
    )


def zoned_ms(ms: int) -> str:
    """Java ``ZonedDateTime`` style, as in ``range.fromAsDateString``."""
    return iso_ms(ms) + "[UTC]"


def duration_text(ms: int) -> str:
    """``86400000`` → ``"24 hours"``: hours, minutes, seconds and milliseconds, zeros omitted."""
    parts = []
    for unit, size in (
        ("hour", 3_600_000),
        ("minute", 60_000),
        ("second", 1000),
        ("millisecond", 1),
    ):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 milliseconds"


class ApiError(Exception):
    """A vendor API error; rendered in the Spring Boot error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Incident:
    id: str
    type: str
    location_id: str
    location_name: str
    network: str
    band: float
    count_impacted: int
    population_count: int
    start_ms: int
    determined_ms: int
    end_ms: int | None
    settle_ms: int  # how long after the end asOfTimestamp keeps moving
    thresholds: dict


@dataclass(slots=True)
class Site:
    """A location with agents: which SSIDs its agents use and how many per SSID."""

    location_id: str
    name: str
    ssids: list[str]
    population: dict[str, int]


def _bits(agent_id: str) -> int:
    """128 stable pseudo-random bits per agent: derived fields cost no memory."""
    return int(agent_id.replace("-", ""), 16)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _as_list(request: Request, name: str) -> list[str]:
    """``name[]=a&name[]=b``, ``name=a&name=b`` and ``name=a,b`` all mean [a, b], as in Spring."""
    values = request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


JAVA_INT = (-(2**31), 2**31 - 1)
JAVA_LONG = (-(2**63), 2**63 - 1)
# The instants an incident window may name: what the ISO renderings (years 0001..9999) can show.
MIN_EPOCH_MS = to_ms(datetime(1, 1, 1, tzinfo=UTC))
MAX_EPOCH_MS = to_ms(datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC))


def _conversion_error(name: str, java_type: str, raw: str) -> ApiError:
    """Spring's MethodArgumentTypeMismatchException message, which names the parameter."""
    return ApiError(
        400,
        f"Method parameter '{name}': Failed to convert value of type 'java.lang.String' to "
        f"required type '{java_type}'; For input string: \"{raw}\"",
    )


def _java_number(name: str, raw: str, java_type: str, bounds: tuple[int, int]) -> int:
    """Parse like Spring's number editor: surrounding whitespace trimmed, an optional sign,
    decimal digits only (no ``1e3``, ``1.5`` or ``1_000``), within the Java type's range;
    anything else is the conversion 400 (never a Python error)."""
    text = raw.strip()
    if "_" in text:
        raise _conversion_error(name, java_type, raw)
    try:
        value = int(text)
    except ValueError:  # not an integer, or too many digits for int()
        raise _conversion_error(name, java_type, raw) from None
    if not bounds[0] <= value <= bounds[1]:
        raise _conversion_error(name, java_type, raw)
    return value


def _int_param(request: Request, names: tuple[str, ...], default: int) -> int:
    for name in names:
        raw = request.query_params.get(name)
        if raw is None:
            continue
        return _java_number(name, raw, "int", JAVA_INT)
    return default


def _long_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return _java_number(name, raw, "long", JAVA_LONG)


def _check_instant(name: str, ms: int) -> None:
    """An epoch-ms instant the answer can render (``range.fromAsDateString``), else a 400
    naming the parameter."""
    if not MIN_EPOCH_MS <= ms <= MAX_EPOCH_MS:
        raise ApiError(
            400,
            f"Invalid value {ms} for '{name}': epoch milliseconds must be between "
            f"{MIN_EPOCH_MS} (0001-01-01T00:00:00.000Z) and {MAX_EPOCH_MS} "
            "(9999-12-31T23:59:59.999Z)",
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
        self._sites = self._build_sites()
        self._summary = self._build_summary()
        scale = max(0.5, 1 + math.log10(max(1, len(self._agents)) / 180))
        self.incident_rate = self.base_incident_rate * scale
        # incidents, in the order they were determined (so determined_ms is non-decreasing)
        self._incidents: list[Incident] = []
        self._determined: list[int] = []
        self._incident_by_id: dict[str, Incident] = {}
        self._open: dict[str, Incident] = {}
        self._ends: list[tuple[int, int, str]] = []  # heap of (planned end ms, seq, id)
        self._seq = itertools.count()
        self._max_closed_span = 0  # longest (end - determined) of a closed incident
        self._control_actions = 0
        self._signing_key = secrets.token_bytes(32)
        self._verified: dict[str, dict] = {}  # token -> claims, for tokens already verified
        self._request_ids = itertools.count(1)
        self._request_prefix = secrets.token_hex(4)
        self._bucket = TokenBucket(rate=5.0, burst=15)
        self._rate_limit_enabled = True
        for k in range(-HISTORY_TICKS, 1):
            at = clock.epoch + timedelta(seconds=k * self.tick_seconds)
            self.on_tick(at, random.Random(f"{seed}:{self.name}:history:{k}"))

    # --- fleet-derived data ------------------------------------------------------------------
    def _build_sites(self) -> list[Site]:
        population: dict[str, dict[str, int]] = {}
        for agent in self._agents:
            per_ssid = population.setdefault(agent.location_id, {})
            per_ssid[agent.ssid] = per_ssid.get(agent.ssid, 0) + 1
        return [
            Site(loc.id, loc.name, sorted(population[loc.id]), population[loc.id])
            for loc in self.fleet.locations
            if loc.id in population
        ]

    def _build_summary(self) -> dict:
        platforms = {"android": 0, "linux": 0, "mac": 0, "windows": 0}
        licensed = 0
        for agent in self._agents:
            platforms["mac" if agent.platform == "macos" else agent.platform] += 1
            licensed += self._licensed(agent)
        total = max(250, math.ceil(len(self._agents) * 1.25 / 250) * 250)
        return {
            "organizationName": self.organization,
            "deviceCount": len(self._agents),
            "licenseSummary": {
                "packageName": "ENTERPRISE",
                "totalLicenses": total,
                "usedLicenses": licensed,
                "freeLicenses": total - licensed,
            },
            "platformSummary": platforms,
        }

    @staticmethod
    def _licensed(agent: Endpoint) -> bool:
        return (_bits(agent.agent_id) >> 70) % 100 >= 5  # about 95 % hold a license

    def _last_seen(self, agent: Endpoint, now_ms: int) -> int:
        """Online agents check in every 5 minutes at their own phase; 3 % went silent earlier."""
        h = _bits(agent.agent_id)
        if h % 100 < 3:
            return self._epoch_ms - 3_600_000 - (h >> 8) % (71 * 3_600_000)
        phase = (h >> 40) % CHECKIN_PERIOD_MS
        return now_ms - (now_ms - phase) % CHECKIN_PERIOD_MS

    def _last_test_seen(self, agent: Endpoint, last_seen: int) -> int:
        lag = 2000 + ((_bits(agent.agent_id) >> 60) % 58) * 1000
        return (last_seen - lag) // 1000 * 1000

    def _render_agent(self, agent: Endpoint, now_ms: int) -> dict:
        h = _bits(agent.agent_id)
        platform = agent.platform
        last_seen = self._last_seen(agent, now_ms)
        data = {
            "id": agent.agent_id,
            "name": agent.hostname,
            "manufacturer": agent.manufacturer,
            "model": agent.model,
            "platform": platform,
            "version": agent.os_version,
        }
        drivers = DRIVERS.get(platform)
        if drivers:
            provider, version = drivers[(h >> 20) % len(drivers)]
            data["driverProvider"], data["driverVersion"] = provider, version
        location_index = self._location_index.get(agent.location_id, 0)
        radio = 0x10 + self._ssid_index.get(agent.ssid, 0)
        data.update(
            {
                "mac": agent.mac,
                "lastSeen": last_seen,
                "lastSsid": agent.ssid,
                "lastTestSeen": self._last_test_seen(agent, last_seen),
                "lastAgentVersion": AGENT_VERSIONS[platform][(h >> 24) & 1],
                "remoteIpAddress": agent.public_ip,
                "numberOfTxSpatialStreams": 1 if platform == "android" and h >> 26 & 3 == 0 else 2,
                "numberOfRxSpatialStreams": 1 if platform == "android" and h >> 26 & 3 == 0 else 2,
                "lastDefinedLocationId": agent.location_id,
                "lastDefinedLocation": self._location_names.get(agent.location_id),
            }
        )
        data.update(self._permissions(platform, h >> 90))
        data.update(
            {
                "lastBssid": f"a8:bd:27:{location_index:02x}:{(h >> 80) % 8:02x}:{radio:02x}",
                "localIpAddress": agent.local_ip,
                "isLicensed": self._licensed(agent),
                "marketModel": MARKET_MODELS.get(agent.model, agent.model),
            }
        )
        return data

    @staticmethod
    def _permissions(platform: str, h: int) -> dict:
        granted_or = ("GRANTED", "GRANTED", "GRANTED", "GRANTED", "GRANTED", "DENIED")
        if platform == "android":
            values = (
                granted_or[h % 6],
                ("GRANTED", "NOT_REQUESTED")[(h >> 3) & 1],
                ("GRANTED", "GRANTED", "DENIED", "NOT_REQUESTED")[(h >> 4) & 3],
                ("NOT_REQUESTED", "GRANTED")[(h >> 6) & 1],
            )
        elif platform in ("macos", "windows"):
            location = granted_or[h % 6]
            if platform == "windows" and location == "DENIED":
                location = "NOT_REQUESTED"
            values = (location, "NOT_REQUESTED", "NOT_REQUESTED", "NOT_REQUESTED")
        else:
            values = ("NOT_REQUESTED",) * 4
        return dict(zip(PERMISSION_FIELDS, values, strict=True))

    # --- the scenario ------------------------------------------------------------------------
    def on_tick(self, at: datetime, rng: random.Random) -> None:
        """Close incidents whose time is up, then start new ones: O(changes), never O(fleet)."""
        at_ms = to_ms(at)
        while self._ends and self._ends[0][0] <= at_ms:
            end_ms, _, incident_id = heapq.heappop(self._ends)
            incident = self._open.get(incident_id)
            if incident is not None:
                self._close(incident, end_ms)
        if not self._sites:
            return
        starts = int(self.incident_rate) + (rng.random() < self.incident_rate % 1)
        starts = max(starts, self.min_open - len(self._open))
        for _ in range(starts):
            duration = self._draw_duration(rng)
            incident = self._start(at_ms, rng, {})
            heapq.heappush(self._ends, (at_ms + duration * MINUTE_MS, next(self._seq), incident.id))

    @staticmethod
    def _draw_duration(rng: random.Random) -> int:
        """Minutes until recovery: half under an hour, some most of a working day (mean ~2 h)."""
        roll = rng.random()
        if roll < 0.5:
            return rng.randint(15, 60)
        if roll < 0.85:
            return rng.randint(61, 180)
        return rng.randint(181, 480)

    def _start(self, at_ms: int, rng: random.Random, spec: dict) -> Incident:
        site = self._site_for(spec.get("location_id"), rng)
        network = spec.get("network") or rng.choice(site.ssids or self.fleet.ssids)
        population = spec.get("populationCount")
        if population is None:
            population = site.population.get(network, 0) or rng.randint(1, 10)
        impacted = spec.get("countImpacted")
        if impacted is None:
            impacted = min(population, max(1, round(population * rng.uniform(0.1, 0.6))))
        kind = spec.get("type") or rng.choices(_TYPE_NAMES, _TYPE_WEIGHTS)[0]
        band = spec.get("band")
        if band is None:
            band = rng.choices(BANDS, BAND_WEIGHTS)[0]
        warning, critical, _ = INCIDENT_TYPES.get(kind, (80, 60, 0))
        big_site = population >= 10
        thresholds = {
            "warningThreshold": warning,
            "criticalThreshold": critical,
            "successRateThreshold": 90,
            "minPopulationCount": 10 if big_site else 1,
            "minCountImpacted": 5 if big_site else 1,
            "minPercentImpacted": 10 if big_site else None,
            "minIncidentDurationMinutes": 10 if big_site else 5,
        }
        incident = Incident(
            id=_uuid(rng),
            type=kind,
            location_id=site.location_id,
            location_name=site.name,
            network=network,
            band=float(band),
            count_impacted=int(impacted),
            population_count=int(population),
            start_ms=at_ms - thresholds["minIncidentDurationMinutes"] * MINUTE_MS,
            determined_ms=at_ms,
            end_ms=None,
            settle_ms=rng.randint(5, 30) * MINUTE_MS,
            thresholds=thresholds,
        )
        self._incidents.append(incident)
        self._determined.append(at_ms)
        self._incident_by_id[incident.id] = incident
        self._open[incident.id] = incident
        return incident

    def _site_for(self, location_id: str | None, rng: random.Random) -> Site:
        if location_id is None:
            return rng.choice(self._sites)
        for site in self._sites:
            if site.location_id == location_id:
                return site
        return Site(location_id, self._location_names[location_id], [], {})

    def _close(self, incident: Incident, end_ms: int) -> None:
        incident.end_ms = max(end_ms, incident.determined_ms)
        self._open.pop(incident.id, None)
        self._max_closed_span = max(self._max_closed_span, incident.end_ms - incident.determined_ms)

    def _incidents_between(self, from_ms: int, to_ms: int) -> list[Incident]:
        """Incidents overlapping [from, to], found by bisection plus the (few) open ones."""
        max_qualify = 15 * MINUTE_MS  # start is at most this long before determined
        lo = bisect_left(self._determined, from_ms - self._max_closed_span)
        hi = bisect_right(self._determined, to_ms + max_qualify)
        found = {}
        for incident in itertools.chain(self._incidents[lo:hi], self._open.values()):
            if incident.start_ms <= to_ms and (
                incident.end_ms is None or incident.end_ms >= from_ms
            ):
                found[incident.id] = incident
        return list(found.values())

    def _as_of(self, incident: Incident, now_ms: int) -> int:
        evaluated = now_ms - now_ms % MINUTE_MS
        if incident.end_ms is None:
            return max(incident.determined_ms, evaluated)
        return max(incident.end_ms, min(evaluated, incident.end_ms + incident.settle_ms))

    def _render_incident(self, incident: Incident, now_ms: int, flat: bool = False) -> dict:
        data = {
            "id": incident.id,
            "startTimestamp": iso_ms(incident.start_ms),
            "asOfTimestamp": iso_ms(self._as_of(incident, now_ms)),
        }
        if incident.end_ms is not None:
            data["endTimestamp"] = iso_ms(incident.end_ms)
        data.update(
            {
                "timestampDeterminedToBeIncident": iso_ms(incident.determined_ms),
                "organizationName": self.organization,
                "type": incident.type,
                "location": incident.location_id,
                "locationName": incident.location_name,
                "network": incident.network,
                "band": incident.band,
                "countImpacted": incident.count_impacted,
                "populationCount": incident.population_count,
            }
        )
        if flat:
            data.update(incident.thresholds)
        else:
            data["thresholds"] = dict(incident.thresholds)
        return data

    # --- auth and rate limiting --------------------------------------------------------------
    def _issue_token(self, client_id: str) -> str:
        issued = to_ms(self.clock.now()) // 1000  # simulated time: expiry follows the clock
        claims = {
            "sub": client_id,
            "org": self.organization,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._signing_key, algorithm="HS256")

    def _authenticate(self, request: Request) -> str:
        """The token's subject; raises _Unauthorized (a 401) for a missing or bad token."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Unauthorized(None)
        token = token.strip()
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = jwt.decode(
                    token,
                    self._signing_key,
                    algorithms=["HS256"],
                    options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp"]},
                )
            except jwt.InvalidTokenError:
                raise _Unauthorized("Invalid token") from None
            if len(self._verified) < 4096:  # verifying a JWT costs more than serving a page
                self._verified[token] = claims
        now = self.clock.now().timestamp()
        if claims["exp"] <= now:
            expired = datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise _Unauthorized(f"Jwt expired at {expired}")
        return str(claims["sub"])

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
                subject = self._authenticate(request)
            except _Unauthorized as exc:
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
        if description is None:
            challenge, message = "Bearer", "Full authentication is required"
        else:
            challenge = (
                f'Bearer error="invalid_token", error_description="{description}", '
                f'error_uri="{RFC6750_URI}"'
            )
            message = description
        response = self.error_response(request, 401, message)
        response.headers["WWW-Authenticate"] = challenge
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
        ]

    async def _token(self, request: Request) -> Response:
        """RFC 6749 client_credentials over a form body, or HTTP Basic client authentication."""
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return _oauth_error(
                400, "invalid_request", "The body must be application/x-www-form-urlencoded"
            )
        # parsed by hand: Starlette's request.form() needs python-multipart, not a dependency
        try:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        except UnicodeDecodeError:
            return _oauth_error(400, "invalid_request", "The body is not valid UTF-8")
        basic = _basic_credentials(request.headers.get("authorization", ""))
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_grant", "Missing grant_type parameter")
        if grant_type != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}"
            )
        form_id, form_secret = form.get("client_id"), form.get("client_secret")
        if basic is not None:
            if (form_id and form_id != basic[0]) or (form_secret and form_secret != basic[1]):
                return _oauth_error(
                    400, "invalid_request", "Multiple client authentication methods used"
                )
            client_id, client_secret = basic
        else:
            client_id, client_secret = form_id, form_secret
        if not client_id:
            return _oauth_error(400, "invalid_request", "Missing client_id parameter")
        if not client_secret:
            return _oauth_error(400, "invalid_request", "Missing client_secret parameter")
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            response = _oauth_error(401, "invalid_client", "Client authentication failed")
            if basic is not None:
                response.headers["WWW-Authenticate"] = 'Basic realm="7signal"'
            return response
        with self.lock:
            token = self._issue_token(str(client_id))
        return JSONResponse(
            {
                "access_token": token,
                "scope": TOKEN_SCOPE,
                "expires_in": TOKEN_LIFETIME,
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
        page = _int_param(request, ("page",), 1)
        per_page = _int_param(request, ("perPage", "limit"), DEFAULT_PER_PAGE)
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
            return lambda a: self._last_seen(a, now_ms)
        if field == "lastTestSeen":
            return lambda a: self._last_test_seen(a, self._last_seen(a, now_ms))
        if field == "lastDefinedLocation":
            return lambda a: self._location_names.get(a.location_id, "")
        if field == "isLicensed":
            return self._licensed
        if field == "marketModel":
            return lambda a: MARKET_MODELS.get(a.model, a.model)
        return lambda a: AGENT_VERSIONS[a.platform][(_bits(a.agent_id) >> 24) & 1]

    def _filtered_agents(self, request: Request) -> list[Endpoint]:
        """Exact-match filters (the vendor's filtering is strict); no filter means no copy."""
        platforms = set(_as_list(request, "platform"))
        bad = platforms - set(PLATFORMS)
        if bad:
            raise ApiError(
                400, f"Invalid platform '{sorted(bad)[0]}'; one of {', '.join(PLATFORMS)}"
            )
        ssids = set(_as_list(request, "lastSsid"))
        location_ids = set(_as_list(request, "lastLocationId"))
        location_names = set(_as_list(request, "lastLocation"))
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
            checks.append(lambda a: self._licensed(a) == wanted)
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
        from_ms = _long_param(request, "from")
        to_ms_ = _long_param(request, "to")
        if from_ms is not None:
            _check_instant("from", from_ms)
        if to_ms_ is None:
            to_ms_ = now_ms
        else:
            _check_instant("to", to_ms_)
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
        incidents = self._incidents_between(from_ms, to_ms_)
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
        incident = self._incident_by_id.get(incident_id)
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
                for i in sorted(self._open.values(), key=lambda i: (i.start_ms, i.id))
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
            if not self._sites and "location_id" not in spec:
                raise ControlError("location_id", "the fleet has no agents; give a location_id")
            incident = self._start(now_ms, rng, spec)
            if spec.get("duration_minutes"):
                end = now_ms + spec["duration_minutes"] * MINUTE_MS
                heapq.heappush(self._ends, (end, next(self._seq), incident.id))
            return self._render_incident(incident, now_ms)
        if action == "end_incident":
            incident_id = params.get("id")
            if not isinstance(incident_id, str):
                raise ControlError("id", "id (an incident id) is required")
            incident = self._incident_by_id.get(incident_id)
            if incident is None:
                raise ControlError("id", f"no incident {incident_id}", status=404)
            if incident.end_ms is not None:
                raise ControlError("id", f"incident {incident_id} already ended", status=409)
            self._close(incident, now_ms)
            return self._render_incident(incident, now_ms)
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
            band = spec["band"]
            if isinstance(band, str):
                try:
                    band = float(band)
                except ValueError:
                    band = None
            if isinstance(band, bool) or band not in BANDS:
                raise ControlError("band", "band must be 2.4, 5.0 or 6.0")
            spec["band"] = band
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
        self._signing_key = secrets.token_bytes(32)
        self._verified = {}

    def credentials(self) -> dict:
        """The one demo client (documented in docs/emulators/7signal.md)."""
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

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


class _Unauthorized(Exception):
    def __init__(self, description: str | None) -> None:
        super().__init__(description)
        self.description = description


def _oauth_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": code, "error_description": description, "error_uri": RFC6749_URI},
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _basic_credentials(header: str) -> tuple[str, str] | None:
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
