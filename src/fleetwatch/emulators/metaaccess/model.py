"""The MetaAccess account's state and scenario, free of HTTP.

Times are floats: simulated seconds relative to the clock's epoch (negative before it). Every
structure is updated in O(changes): per-device state exists only for devices that ever changed,
the change log and the activity log are time-ordered lists pruned from the front, and random
picks use index-addressable sets, so a tick never walks the whole fleet.
"""

import bisect
import random
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

from fleetwatch.emulators.fleet import ENDPOINT_KINDS, GROUPS, USER_NAMES, Endpoint, Fleet

DAY = 86400.0
#: Status-change history kept (the API's `age` tops out at 86400 s).
CHANGE_RETENTION = DAY + 120.0
#: Access-activity history kept; older activities are forgotten.
ACTIVITY_RETENTION = 7 * DAY

STATUSES = ("compliant", "non-compliant", "exempted")
SEVERITIES = ("critical", "warning", "no_issues")
ACTIONS = ("blocked", "allowed", "monitored_block")

APPS = [
    "Salesforce",
    "Slack",
    "Office 365",
    "Zoom",
    "GitHub",
    "Google Workspace",
    "Dropbox",
    "Jira",
    "Workday",
    "Box",
]
BLOCK_RULES = ["NON COMPLIANT DEVICES", "Block non-compliant devices"]
MONITOR_RULE = "Monitor non-compliant devices"
ALLOW_RULE = "Allow compliant devices"

# Expected events per tick (stochastically rounded), as fractions of the population concerned.
FALL_RATE = 1 / 2000  # of live devices: compliant -> non-compliant
RECOVER_RATE = 1 / 240  # of non-compliant devices (mean 4 h out of compliance)
EXEMPT_RATE = 1 / 40000  # of live devices: a non-compliant device is exempted
UNEXEMPT_RATE = 1 / 1440  # of exempted devices (mean 24 h exemption)
DELETE_RATE = 1 / 100000  # of live devices
ENROLL_RATE = 1 / 100000  # of live devices (at least a trickle on small fleets is not needed)
BLOCKED_RATE, BLOCKED_CAP = 0.02, 8.0  # of non-compliant devices, capped per tick
MONITORED_RATE, MONITORED_CAP = 0.002, 1.0
ALLOWED_RATE, ALLOWED_CAP = 0.002, 4.0  # of live devices


@dataclass(slots=True)
class DeviceState:
    """Compliance of one device that has changed at least once (others are plain compliant)."""

    status: str = "compliant"
    severity: str = "no_issues"
    critical: int = 0
    warning: int = 0
    changed_at: float | None = None
    seq: int = 0
    deleted: bool = False


_COMPLIANT = DeviceState()


class Activity(NamedTuple):
    """One access activity; ordered by (t, seq)."""

    t: float
    seq: int
    action: str
    device_id: str
    device_name: str
    device_group: str
    device_status: str
    app_name: str
    app_user: str
    access_rule: str

    def matches(self, needle: str) -> bool:
        """The documented `search` fields, case-insensitive substring."""
        return any(
            needle in value.lower()
            for value in (
                self.device_name,
                self.device_group,
                self.app_user,
                self.device_id,
                self.app_name,
                self.access_rule,
                self.device_status,
            )
        )


class IndexedSet:
    """Add, discard and uniform random choice in O(1); iteration order is deterministic."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, item: str) -> None:
        if item not in self._index:
            self._index[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: str) -> None:
        i = self._index.pop(item, None)
        if i is None:
            return
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._index[last] = i

    def choice(self, rng: random.Random) -> str:
        return self._items[rng.randrange(len(self._items))]

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)


def stochastic_count(rng: random.Random, expected: float) -> int:
    """An integer whose mean is ``expected`` (so small fleets still see rare events)."""
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def issues_for(severity: str, rng: random.Random) -> tuple[int, int]:
    """(critical, warning) issue counts consistent with ``severity``."""
    if severity == "critical":
        return rng.randint(1, 3), rng.randint(0, 4)
    if severity == "warning":
        return 0, rng.randint(1, 4)
    return 0, 0


def stable_hash(text: str) -> int:
    """Per-device variation that is the same in every process (unlike ``hash``)."""
    return zlib.crc32(text.encode())


class World:
    """Devices, compliance, the change log and the access-activity log of one account."""

    def __init__(self, fleet: Fleet, epoch: datetime, seed: int) -> None:
        self.fleet = fleet
        self.epoch = epoch
        self.seed = seed
        self.endpoints: dict[str, Endpoint] = {}
        self.order: list[str] = []  # listing order; deleted devices stay as tombstones
        self.position: dict[str, int] = {}
        for endpoint in fleet.metaaccess_devices():
            self._add_endpoint(endpoint)
        self.states: dict[str, DeviceState] = {}
        self.enrolled_at: dict[str, float] = {}
        self.non_compliant = IndexedSet()
        self.exempted = IndexedSet()
        self.deleted_positions: list[int] = []  # sorted
        self.deleted_ids: list[str] = []  # in deletion order
        self.changes: list[tuple[float, int, str]] = []  # (t, seq, device_id), ascending
        self.changes_head = 0
        self.activities: list[Activity] = []  # ascending by (t, seq)
        self.activities_head = 0
        self.seq = 0
        self.version = 0
        self.last_tick = 0.0
        self._recent_version = -1
        self._recent: list[tuple[float, str]] = []
        self._enrolled = 0

    # --- lookups ------------------------------------------------------------------------------
    def _add_endpoint(self, endpoint: Endpoint) -> None:
        assert endpoint.device_id is not None
        self.endpoints[endpoint.device_id] = endpoint
        self.position[endpoint.device_id] = len(self.order)
        self.order.append(endpoint.device_id)

    def state(self, device_id: str) -> DeviceState:
        return self.states.get(device_id, _COMPLIANT)

    def is_live(self, device_id: str) -> bool:
        return device_id in self.endpoints and not self.state(device_id).deleted

    def live_count(self) -> int:
        return len(self.order) - len(self.deleted_positions)

    def dt(self, t: float) -> datetime:
        return self.epoch + timedelta(seconds=t)

    def rel(self, when: datetime) -> float:
        return (when - self.epoch).total_seconds()

    def enrolled(self, device_id: str) -> float:
        """When the device enrolled: stored for new devices, 30..430 days back for the fleet."""
        if device_id in self.enrolled_at:
            return self.enrolled_at[device_id]
        return -DAY * (30 + stable_hash(device_id) % 400) - stable_hash(device_id[::-1]) % 86400

    def last_seen(self, device_id: str) -> float:
        """The agent reports every few minutes; a change is a report too."""
        state = self.state(device_id)
        if state.deleted and state.changed_at is not None:
            return state.changed_at
        if self.endpoints[device_id].stale:  # re-imaged: the old record stopped reporting
            stopped = -3 * DAY - stable_hash(device_id) % DAY  # 3-4 days before the epoch
            return max(stopped, self.enrolled(device_id))
        seen = self.last_tick - stable_hash(device_id) % 600
        if state.changed_at is not None:
            seen = max(seen, state.changed_at)
        return max(seen, self.enrolled(device_id))

    # --- mutations ----------------------------------------------------------------------------
    def _record(self, device_id: str, state: DeviceState, t: float) -> None:
        self.seq += 1
        state.seq = self.seq
        state.changed_at = t
        bisect.insort(self.changes, (t, self.seq, device_id), lo=self.changes_head)
        self.version += 1

    def set_status(
        self, device_id: str, status: str, severity: str, t: float, rng: random.Random
    ) -> DeviceState:
        """Move a live device to ``status``/``severity`` at time ``t``."""
        state = self.states.get(device_id)
        if state is None:
            state = self.states[device_id] = DeviceState()
        critical, warning = issues_for(severity, rng)
        state.status, state.severity = status, severity
        state.critical, state.warning = critical, warning
        self.non_compliant.discard(device_id)
        self.exempted.discard(device_id)
        if status == "non-compliant":
            self.non_compliant.add(device_id)
        elif status == "exempted":
            self.exempted.add(device_id)
        self._record(device_id, state, t)
        return state

    def delete(self, device_id: str, t: float) -> None:
        state = self.states.get(device_id)
        if state is None:
            state = self.states[device_id] = DeviceState()
        state.deleted = True
        self.non_compliant.discard(device_id)
        self.exempted.discard(device_id)
        bisect.insort(self.deleted_positions, self.position[device_id])
        self.deleted_ids.append(device_id)
        self._record(device_id, state, t)

    def enroll(self, t: float, rng: random.Random) -> str:
        """A new agent registers: a desktop or laptop that only MetaAccess knows about."""
        self._enrolled += 1
        platform, family, os_name, versions, maker, models = rng.choice(ENDPOINT_KINDS)
        user = rng.choice(USER_NAMES)
        prefix = {"windows": "WIN", "macos": "MAC", "linux": "LNX"}[platform]
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        device_id = "".join(rng.choice(alphabet) for _ in range(32))
        while device_id in self.endpoints:
            device_id = "".join(rng.choice(alphabet) for _ in range(32))
        mac = ":".join(f"{o:02X}" for o in (0x74, 0xD8, 0x3F, *rng.randbytes(3)))
        n = self._enrolled
        self._add_endpoint(
            Endpoint(
                index=-n,
                hostname=f"{prefix}-{user.upper()}-N{n:04d}",
                mac=mac,
                platform=platform,
                os_family=family,
                os_name=os_name,
                os_version=rng.choice(versions),
                manufacturer=maker,
                model=rng.choice(models),
                user=user,
                group=rng.choice(GROUPS),
                location_id=rng.choice(self.fleet.locations).id,
                ssid=rng.choice(self.fleet.ssids),
                local_ip=f"10.250.{n // 250 % 250}.{n % 250 + 1}",
                public_ip=f"198.51.100.{rng.randrange(1, 255)}",
                agent_id=None,
                device_id=device_id,
                physical=f"pd-n{n:04d}",
            )
        )
        self.enrolled_at[device_id] = t
        if rng.random() < 0.3:
            self.set_status(device_id, "non-compliant", "warning", t, rng)
        else:
            self.set_status(device_id, "compliant", "no_issues", t, rng)
        return device_id

    def add_activity(
        self,
        t: float,
        action: str,
        device_id: str,
        app_name: str,
        app_user: str,
        access_rule: str,
    ) -> Activity:
        endpoint = self.endpoints[device_id]
        status = self.state(device_id).status
        self.seq += 1
        activity = Activity(
            t=t,
            seq=self.seq,
            action=action,
            device_id=device_id,
            device_name=endpoint.hostname,
            device_group=endpoint.group,
            # Access control treats exempted devices as compliant.
            device_status="Non-compliant" if status == "non-compliant" else "Compliant",
            app_name=app_name,
            app_user=app_user,
            access_rule=access_rule,
        )
        bisect.insort(self.activities, activity, lo=self.activities_head)
        return activity

    def app_user(self, device_id: str) -> str:
        return f"{self.endpoints[device_id].user}@{self.fleet.organization}.example"

    # --- the scenario -------------------------------------------------------------------------
    def _random_live(self, rng: random.Random) -> str | None:
        device_id = self.order[rng.randrange(len(self.order))]
        return None if self.state(device_id).deleted else device_id

    def tick(self, at: float, tick_seconds: float, rng: random.Random) -> None:
        """One tick of the scenario at time ``at``; costs O(events), never O(fleet)."""
        self.last_tick = max(self.last_tick, at)
        live = self.live_count()
        self._tick_compliance(at, live, rng)
        self._tick_membership(at, live, rng)
        self._tick_activities(at, tick_seconds, rng)
        self._prune(at)

    def _tick_compliance(self, at: float, live: int, rng: random.Random) -> None:
        """Devices falling out of and back into compliance, exempted and unexempted."""
        for _ in range(stochastic_count(rng, live * FALL_RATE)):
            device_id = self._random_live(rng)
            if device_id is not None and self.state(device_id).status == "compliant":
                severity = "critical" if rng.random() < 0.35 else "warning"
                self.set_status(device_id, "non-compliant", severity, at, rng)
        for _ in range(stochastic_count(rng, len(self.non_compliant) * RECOVER_RATE)):
            if self.non_compliant:
                device_id = self.non_compliant.choice(rng)
                severity = "warning" if rng.random() < 0.15 else "no_issues"
                self.set_status(device_id, "compliant", severity, at, rng)
        for _ in range(stochastic_count(rng, live * EXEMPT_RATE)):
            if self.non_compliant:
                device_id = self.non_compliant.choice(rng)
                self.set_status(device_id, "exempted", self.state(device_id).severity, at, rng)
        for _ in range(stochastic_count(rng, len(self.exempted) * UNEXEMPT_RATE)):
            if self.exempted:
                self.set_status(self.exempted.choice(rng), "compliant", "no_issues", at, rng)

    def _tick_membership(self, at: float, live: int, rng: random.Random) -> None:
        """Devices deleted (never the last one) and enrolled."""
        for _ in range(stochastic_count(rng, live * DELETE_RATE)):
            device_id = self._random_live(rng)
            if device_id is not None and self.live_count() > 1:
                self.delete(device_id, at)
        for _ in range(stochastic_count(rng, live * ENROLL_RATE)):
            self.enroll(at, rng)

    def _tick_activities(self, at: float, tick_seconds: float, rng: random.Random) -> None:
        """Access attempts during the tick, at whole seconds strictly inside it."""
        span = max(1, int(tick_seconds) - 1)
        nc = len(self.non_compliant)
        blocked = stochastic_count(rng, min(nc * BLOCKED_RATE, BLOCKED_CAP))
        monitored = stochastic_count(rng, min(nc * MONITORED_RATE, MONITORED_CAP))
        allowed = stochastic_count(rng, min(self.live_count() * ALLOWED_RATE, ALLOWED_CAP))
        for action, count in (("blocked", blocked), ("monitored_block", monitored)):
            for _ in range(count):
                if not self.non_compliant:
                    break
                device_id = self.non_compliant.choice(rng)
                rule = rng.choice(BLOCK_RULES) if action == "blocked" else MONITOR_RULE
                t = float(int(at) - rng.randint(1, span))
                self.add_activity(
                    t, action, device_id, rng.choice(APPS), self.app_user(device_id), rule
                )
        for _ in range(allowed):
            device_id = self._random_live(rng)
            if device_id is None or self.state(device_id).status == "non-compliant":
                continue
            t = float(int(at) - rng.randint(1, span))
            self.add_activity(
                t, "allowed", device_id, rng.choice(APPS), self.app_user(device_id), ALLOW_RULE
            )

    def _prune(self, now: float) -> None:
        cutoff = now - CHANGE_RETENTION
        while self.changes_head < len(self.changes) and self.changes[self.changes_head][0] < cutoff:
            self.changes_head += 1
        if self.changes_head > 4096 and self.changes_head * 2 > len(self.changes):
            del self.changes[: self.changes_head]
            self.changes_head = 0
        cutoff = now - ACTIVITY_RETENTION
        acts = self.activities
        while self.activities_head < len(acts) and acts[self.activities_head].t < cutoff:
            self.activities_head += 1
        if self.activities_head > 4096 and self.activities_head * 2 > len(acts):
            del acts[: self.activities_head]
            self.activities_head = 0

    # --- queries ------------------------------------------------------------------------------
    def recent_changes(self, cutoff: float) -> list[tuple[float, str]]:
        """Devices whose latest change is at or after ``cutoff``: (t, device_id), newest first."""
        if self._recent_version != self.version:
            recent = []
            for i in range(len(self.changes) - 1, self.changes_head - 1, -1):
                t, seq, device_id = self.changes[i]
                if self.states[device_id].seq == seq:
                    recent.append((t, device_id))
            self._recent, self._recent_version = recent, self.version
        count = bisect.bisect_right(self._recent, -cutoff, key=lambda entry: -entry[0])
        return self._recent[:count]

    def live_position(self, rank: int) -> int:
        """Position in ``order`` of the rank-th (0-based) live device: the least fixpoint of
        pos = rank + (deleted positions <= pos), reached from below."""
        pos, previous = rank, -1
        while pos != previous:
            previous = pos
            pos = rank + bisect.bisect_right(self.deleted_positions, pos)
        return pos

    def live_from(self, pos: int, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` live device ids from position ``pos``; and the position after them."""
        found: list[str] = []
        while pos < len(self.order) and len(found) < limit:
            device_id = self.order[pos]
            if not self.state(device_id).deleted:
                found.append(device_id)
            pos += 1
        return found, pos

    def has_live_from(self, pos: int) -> bool:
        while pos < len(self.order):
            if not self.state(self.order[pos]).deleted:
                return True
            pos += 1
        return False

    def activities_between(self, start: float, end: float) -> list[Activity]:
        """Activities with start <= t <= end, oldest first."""
        key = attrgetter("t")
        lo = bisect.bisect_left(self.activities, start, lo=self.activities_head, key=key)
        hi = bisect.bisect_right(self.activities, end, lo=lo, key=key)
        return self.activities[lo:hi]
