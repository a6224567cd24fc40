"""The 7SIGNAL account's catalog and scenario, free of HTTP.

Times are epoch milliseconds (the vendor's unit). Agents are the shared fleet's agent-running
endpoints; their derived facts (license, check-in phase) come from stable bits of the agent id,
so they cost no memory. Incidents (one per location + SSID + band) are kept in the order they
were determined, with a heap of planned ends, so a tick costs O(changes), never O(fleet).
"""

import heapq
import itertools
import math
import random
import uuid
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fleetwatch.emulators.fleet import Endpoint, Fleet

DAY_MS = 86_400_000
MINUTE_MS = 60_000
HISTORY_TICKS = 24 * 60  # one simulated day of closed incidents exists before the epoch
CHECKIN_PERIOD_MS = 300_000  # online agents check in every 5 simulated minutes

PLATFORMS = ("windows", "linux", "macos", "android")
BANDS = (2.4, 5.0, 6.0)
BAND_WEIGHTS = (0.3, 0.55, 0.15)

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

_EPOCH0 = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(when: datetime) -> int:
    """Epoch milliseconds by integer arithmetic (float timestamps lose the last millisecond)."""
    return (when - _EPOCH0) // _MS


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of an epoch-ms instant."""
    return _EPOCH0 + timedelta(milliseconds=ms)


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


# --- agents: derived facts ------------------------------------------------------------------
def bits(agent_id: str) -> int:
    """128 stable pseudo-random bits per agent: derived fields cost no memory."""
    return int(agent_id.replace("-", ""), 16)


def licensed(agent: Endpoint) -> bool:
    return (bits(agent.agent_id) >> 70) % 100 >= 5  # about 95 % hold a license


def last_seen(agent: Endpoint, now_ms: int, epoch_ms: int) -> int:
    """Online agents check in every 5 minutes at their own phase; 3 % went silent earlier."""
    h = bits(agent.agent_id)
    if h % 100 < 3 or agent.stale:  # a re-imaged machine's old agent is silent too
        return epoch_ms - 3_600_000 - (h >> 8) % (71 * 3_600_000)
    phase = (h >> 40) % CHECKIN_PERIOD_MS
    return now_ms - (now_ms - phase) % CHECKIN_PERIOD_MS


def last_test_seen(agent: Endpoint, seen: int) -> int:
    lag = 2000 + ((bits(agent.agent_id) >> 60) % 58) * 1000
    return (seen - lag) // 1000 * 1000


def build_sites(fleet: Fleet, agents: list[Endpoint]) -> list[Site]:
    """The locations that have agents, with their SSIDs and the agent count per SSID."""
    population: dict[str, dict[str, int]] = {}
    for agent in agents:
        if agent.stale:  # an old agent of a re-imaged machine measures nothing
            continue
        per_ssid = population.setdefault(agent.location_id, {})
        per_ssid[agent.ssid] = per_ssid.get(agent.ssid, 0) + 1
    return [
        Site(loc.id, loc.name, sorted(population[loc.id]), population[loc.id])
        for loc in fleet.locations
        if loc.id in population
    ]


def build_summary(organization: str, agents: list[Endpoint]) -> dict:
    """The ``/eyes`` agents summary: platform counts and the license package."""
    platforms = {"android": 0, "linux": 0, "mac": 0, "windows": 0}
    used = 0
    for agent in agents:
        platforms["mac" if agent.platform == "macos" else agent.platform] += 1
        used += licensed(agent)
    total = max(250, math.ceil(len(agents) * 1.25 / 250) * 250)
    return {
        "organizationName": organization,
        "deviceCount": len(agents),
        "licenseSummary": {
            "packageName": "ENTERPRISE",
            "totalLicenses": total,
            "usedLicenses": used,
            "freeLicenses": total - used,
        },
        "platformSummary": platforms,
    }


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def draw_duration(rng: random.Random) -> int:
    """Minutes until recovery: half under an hour, some most of a working day (mean ~2 h)."""
    roll = rng.random()
    if roll < 0.5:
        return rng.randint(15, 60)
    if roll < 0.85:
        return rng.randint(61, 180)
    return rng.randint(181, 480)


# --- incidents: the scenario ----------------------------------------------------------------
class IncidentLog:
    """Every incident so far, the open ones and the planned ends."""

    def __init__(self, fleet: Fleet, sites: list[Site], rate: float, min_open: int) -> None:
        self.fleet = fleet
        self.sites = sites
        self.rate = rate
        self.min_open = min_open
        self.location_names = {loc.id: loc.name for loc in fleet.locations}
        # incidents, in the order they were determined (so determined_ms is non-decreasing)
        self.incidents: list[Incident] = []
        self._determined: list[int] = []
        self.by_id: dict[str, Incident] = {}
        self.open: dict[str, Incident] = {}
        self._ends: list[tuple[int, int, str]] = []  # heap of (planned end ms, seq, id)
        self._seq = itertools.count()
        self._max_closed_span = 0  # longest (end - determined) of a closed incident

    def tick(self, at_ms: int, rng: random.Random) -> None:
        """Close incidents whose time is up, then start new ones: O(changes), never O(fleet)."""
        while self._ends and self._ends[0][0] <= at_ms:
            end_ms, _, incident_id = heapq.heappop(self._ends)
            incident = self.open.get(incident_id)
            if incident is not None:
                self.close(incident, end_ms)
        if not self.sites:
            return
        starts = int(self.rate) + (rng.random() < self.rate % 1)
        starts = max(starts, self.min_open - len(self.open))
        for _ in range(starts):
            duration = draw_duration(rng)
            incident = self.start(at_ms, rng, {})
            self.plan_end(incident, at_ms + duration * MINUTE_MS)

    def plan_end(self, incident: Incident, end_ms: int) -> None:
        heapq.heappush(self._ends, (end_ms, next(self._seq), incident.id))

    def start(self, at_ms: int, rng: random.Random, spec: dict) -> Incident:
        """Open an incident at ``at_ms``; ``spec`` (control API) overrides the drawn values."""
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
        self.incidents.append(incident)
        self._determined.append(at_ms)
        self.by_id[incident.id] = incident
        self.open[incident.id] = incident
        return incident

    def _site_for(self, location_id: str | None, rng: random.Random) -> Site:
        if location_id is None:
            return rng.choice(self.sites)
        for site in self.sites:
            if site.location_id == location_id:
                return site
        return Site(location_id, self.location_names[location_id], [], {})

    def close(self, incident: Incident, end_ms: int) -> None:
        incident.end_ms = max(end_ms, incident.determined_ms)
        self.open.pop(incident.id, None)
        self._max_closed_span = max(self._max_closed_span, incident.end_ms - incident.determined_ms)

    def between(self, from_ms: int, to_ms: int) -> list[Incident]:
        """Incidents overlapping [from, to], found by bisection plus the (few) open ones."""
        max_qualify = 15 * MINUTE_MS  # start is at most this long before determined
        lo = bisect_left(self._determined, from_ms - self._max_closed_span)
        hi = bisect_right(self._determined, to_ms + max_qualify)
        found = {}
        for incident in itertools.chain(self.incidents[lo:hi], self.open.values()):
            if incident.start_ms <= to_ms and (
                incident.end_ms is None or incident.end_ms >= from_ms
            ):
                found[incident.id] = incident
        return list(found.values())
