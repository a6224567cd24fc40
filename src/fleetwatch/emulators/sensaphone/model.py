"""The simulated Sensaphone.net account: zone readings, alarms, power, connectivity, logs.

Only *changes* are stored: open alarms and the spans of past ones, power failures, offline
devices, and the event and audit logs. Zone readings are a pure function of
(seed, zone, time), so the 15-minute data log is computed on demand instead of being stored
(O(changes) memory, not O(fleet × time)). A tick costs O(changes): the number of new
happenings is drawn from a Poisson law and each picks its device at random.
"""

import heapq
import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fleetwatch.codecs.sensaphone import to_sensaphone
from fleetwatch.emulators.fleet import SensorDevice, Zone

TICK_SECONDS = 60
LOG_INTERVAL = 900  # the data log records every loggable zone every 15 minutes [C pysensaphone]
HISTORY_SECONDS = 48 * 3600  # scenario history generated before the clock's epoch

# Happenings per device and simulated hour; fleets under MIN_RATE_DEVICES behave like that
# many devices so that a 3-device test fleet still sees something happen.
RATES = {"alarm": 0.05, "power": 0.008, "offline": 0.01, "config": 0.004}
MIN_RATE_DEVICES = 10
BATTERY_DRAIN_PER_MINUTE = 0.03  # volts lost per minute while on battery

# Zone states [F zone page].
ZONE_STATES = {
    0: "None",
    1: "Alarm",
    2: "OK",
    3: "Pending",
    4: "Open",
    5: "Closed",
    6: "Cycle",
    7: "Low",
    8: "High",
    9: "Off",
    10: "On",
    11: "Return To Normal",
    12: "Route Down",
    13: "Trouble",
    14: "Not Responding",
    15: "Dependency Failure",
    16: "Battery",
    17: "Acknowledged",
    18: "Unacknowledged",
}
STATE_ALARM, STATE_OK, STATE_RTN, STATE_ACKED = 1, 2, 11, 17

EVENT_TYPES = (
    "alarm",
    "return_to_normal",
    "acknowledged",
    "offline",
    "online",
    "power",
    "battery",
    "notification",
)
AUDIT_CHANGES = ("create", "delete", "update")
DATA_STATUSES = ("normal", "dependency", "alarm")


@dataclass(frozen=True, slots=True)
class KindShape:
    """How a zone kind's reading behaves: daily swing, per-record noise, display details."""

    label: str
    amplitude: float
    noise: float
    decimals: int
    units_options: tuple[str, ...]


SHAPES = {
    "temperature": KindShape("Temperature", 3.0, 0.4, 1, ("°F", "°C")),
    "water": KindShape("Water Level", 1.5, 0.2, 1, ("Ft", "In", "m")),
    "humidity": KindShape("Humidity", 5.0, 1.0, 1, ("%",)),
    "power": KindShape("Power", 0.0, 0.0, 0, ("",)),
    "battery": KindShape("Battery", 0.05, 0.02, 2, ("V",)),
}
ALARMABLE_KINDS = ("temperature", "water", "humidity")

# Variable ids of a zone's settings, for the audit log's var_ids filter (emulator choice).
VAR_ALARM_LOW, VAR_ALARM_HIGH, VAR_UNACK_ALARMS, VAR_ALARM_DELAY = 1, 2, 3, 4
CONTACT_VAR_BASE = 900_000


def zone_var_id(zone: Zone, setting: int) -> int:
    """The variable id of one of a zone's settings: zone_id × 10 + setting."""
    return zone.zone_id * 10 + setting


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Contact:
    contact_id: int
    name: str


@dataclass(slots=True, eq=False)
class AlarmSpan:
    """One alarm of one zone: [start, end) in epoch seconds; end None while it is open."""

    start: int
    value: float
    end: int | None = None
    acked: bool = False


@dataclass(slots=True, eq=False)
class PowerSpan:
    """One power failure of a device; the battery drains from ``battery_start`` meanwhile."""

    start: int
    battery_start: float
    end: int | None = None
    battery_low: bool = False


@dataclass(slots=True, eq=False)
class OfflineSpan:
    start: int


@dataclass(slots=True)
class Event:
    event_id: int
    epoch: int
    type: str
    text: str
    device: SensorDevice
    zone: Zone | None = None
    value: str | None = None
    user: User | None = None
    contact: Contact | None = None


@dataclass(slots=True)
class AuditEntry:
    audit_id: int
    epoch: int
    change: str
    user: User
    what: str
    var_id: int
    timezone: str


_MASK = (1 << 64) - 1


def unit_hash(*parts: int) -> float:
    """A deterministic number in [0, 1) from integers (splitmix64), cheap enough per record."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = ((x ^ (part & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        x ^= x >> 31
        x = (x * 0x94D049BB133111EB) & _MASK
        x ^= x >> 29
    return (x >> 11) / float(1 << 53)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; the means used here are small."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def local_when(epoch: int, tz: str) -> str:
    """The ``when`` string: wall-clock time in the device zone, with its abbreviation."""
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S %Z")


def sensaphone_ts(epoch: int, tz: str) -> int:
    return to_sensaphone(datetime.fromtimestamp(epoch, UTC), tz)


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def format_number(value: float, zone: Zone) -> str:
    if zone.kind == "power":
        return "1" if value >= 0.5 else "0"
    return f"{value:.{SHAPES[zone.kind].decimals}f}"


def format_value(value: float, zone: Zone) -> str:
    """A zone's ``value`` as the API shows it: a string with units ("23.1 Ft") [C]."""
    if zone.kind == "power":
        return "On" if value >= 0.5 else "Off"
    number = format_number(value, zone)
    return f"{number} {zone.units}" if zone.units else number


@dataclass
class Timeline:
    """All mutable state of the account. Callers hold the emulator's lock."""

    devices: list[SensorDevice]
    seed: int
    epoch_ts: int  # the clock's epoch (tick n happens at epoch_ts + n × TICK_SECONDS)
    users: list[User]
    contacts: list[Contact]
    account_timezone: str
    history_start: int = 0
    by_id: dict[int, SensorDevice] = field(default_factory=dict)
    zones: dict[tuple[int, int], Zone] = field(default_factory=dict)
    by_log_point: dict[int, tuple[SensorDevice, Zone]] = field(default_factory=dict)
    alarms: dict[tuple[int, int], AlarmSpan] = field(default_factory=dict)
    alarm_spans: dict[tuple[int, int], list[AlarmSpan]] = field(default_factory=dict)
    unacked: dict[tuple[int, int], list[AlarmSpan]] = field(default_factory=dict)
    power_failures: dict[int, PowerSpan] = field(default_factory=dict)
    power_spans: dict[int, list[PowerSpan]] = field(default_factory=dict)
    offline: dict[int, OfflineSpan] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    _schedule: list[tuple] = field(default_factory=list)
    _seq: int = 0
    _contact_no: int = 0

    def __post_init__(self) -> None:
        self.history_start = self.epoch_ts - HISTORY_SECONDS
        for device in self.devices:
            self.by_id[device.device_id] = device
            for zone in device.zones:
                self.zones[(device.device_id, zone.zone_id)] = zone
                self.by_log_point[zone.log_point] = (device, zone)

    # --- readings ---------------------------------------------------------------------------
    def baseline(self, zone: Zone, t: int) -> float:
        """The undisturbed reading: a daily swing plus noise, inside the limits.

        It changes once per log interval, so a zone's current value is its last logged one.
        """
        shape = SHAPES[zone.kind]
        if zone.kind == "power":
            return 1.0
        slot = t // LOG_INTERVAL
        phase = unit_hash(self.seed, zone.zone_id, 0) * math.tau
        day_fraction = (slot * LOG_INTERVAL % 86_400) / 86_400
        swing = shape.amplitude * math.sin(math.tau * day_fraction + phase)
        noise = (unit_hash(self.seed, zone.zone_id, slot + 1) - 0.5) * 2 * shape.noise
        value = zone.normal + swing + noise
        step = 10**-shape.decimals
        if zone.low is not None:
            value = max(value, zone.low + step)
        if zone.high is not None:
            value = min(value, zone.high - step)
        return round(value, shape.decimals)

    @staticmethod
    def _span_at(spans: list, t: int):
        """The span covering ``t`` ([start, end), open spans cover everything after start)."""
        if not spans:
            return None
        i = bisect_right(spans, t, key=lambda s: s.start)
        if i == 0:
            return None
        span = spans[i - 1]
        return span if span.end is None or t < span.end else None

    def battery_value(self, device: SensorDevice, zone: Zone, t: int) -> float:
        span = self._span_at(self.power_spans.get(device.device_id, []), t)
        if span is None:
            return self.baseline(zone, t)
        drained = span.battery_start - BATTERY_DRAIN_PER_MINUTE * ((t - span.start) // 60)
        return round(max(9.5, drained), 2)

    def reading(self, device: SensorDevice, zone: Zone, t: int) -> tuple[float, bool]:
        """(value, is_alarm) of a zone at epoch second ``t``."""
        if zone.kind == "power":
            failed = self._span_at(self.power_spans.get(device.device_id, []), t) is not None
            return (0.0 if failed else 1.0), failed
        if zone.kind == "battery":
            value = self.battery_value(device, zone, t)
            return value, zone.low is not None and value < zone.low
        span = self._span_at(self.alarm_spans.get((device.device_id, zone.zone_id), []), t)
        if span is not None:
            return span.value, True
        return self.baseline(zone, t), False

    def alarm_candidates(self, device: SensorDevice, zone: Zone) -> list[tuple[int, int | None]]:
        """Time ranges that may hold alarm records of a zone (a superset, checked per record)."""
        if zone.kind in ("power", "battery"):
            spans = self.power_spans.get(device.device_id, [])
        else:
            spans = self.alarm_spans.get((device.device_id, zone.zone_id), [])
        return [(s.start, s.end) for s in spans]

    def zone_state(self, device: SensorDevice, zone: Zone, t: int) -> tuple[int, int]:
        """(alarm_status, unack_alarms) of a zone now."""
        key = (device.device_id, zone.zone_id)
        if zone.kind in ("power", "battery"):
            return (STATE_ALARM if self.reading(device, zone, t)[1] else STATE_OK), 0
        unacked = len(self.unacked.get(key, ()))
        span = self.alarms.get(key)
        if span is not None:
            return (STATE_ACKED if span.acked else STATE_ALARM), unacked
        return (STATE_RTN if unacked else STATE_OK), unacked

    # --- logging ----------------------------------------------------------------------------
    def _event(self, t: int, kind: str, text: str, device: SensorDevice, **extra) -> Event:
        event = Event(len(self.events) + 1, t, kind, text, device, **extra)
        self.events.append(event)
        return event

    def _audit(self, t: int, change: str, user: User, what: str, var_id: int, tz: str) -> None:
        self.audit.append(AuditEntry(len(self.audit) + 1, t, change, user, what, var_id, tz))

    def _at_tick(self, t: int) -> int:
        """The first tick time at or after ``t`` (scheduled changes happen on ticks)."""
        n = -(-(t - self.epoch_ts) // TICK_SECONDS)
        return self.epoch_ts + n * TICK_SECONDS

    def _later(self, due: int, kind: str, *payload) -> None:
        self._seq += 1
        heapq.heappush(self._schedule, (self._at_tick(due), self._seq, kind, payload))

    # --- changes (shared by the scenario and the control API) --------------------------------
    def raise_alarm(self, device: SensorDevice, zone: Zone, t: int, value: float) -> AlarmSpan:
        key = (device.device_id, zone.zone_id)
        span = AlarmSpan(t, value)
        self.alarms[key] = span
        self.alarm_spans.setdefault(key, []).append(span)
        self.unacked.setdefault(key, []).append(span)
        shown = format_value(value, zone)
        side = "below the low" if zone.low is not None and value < zone.low else "above the high"
        limit = zone.low if side.startswith("below") else zone.high
        limit_shown = format_value(limit, zone) if limit is not None else "none"
        self._event(
            t,
            "alarm",
            f"{zone.name} alarm: {shown} is {side} limit {limit_shown}",
            device,
            zone=zone,
            value=shown,
        )
        contact = self.contacts[(zone.zone_id + len(self.events)) % len(self.contacts)]
        self._event(
            t,
            "notification",
            f"Voice call to {contact.name} about {zone.name} alarm: delivered",
            device,
            zone=zone,
            value=shown,
            contact=contact,
        )
        return span

    def clear_alarm(self, device: SensorDevice, zone: Zone, t: int) -> None:
        key = (device.device_id, zone.zone_id)
        span = self.alarms.pop(key)
        span.end = t
        value = self.baseline(zone, t)
        shown = format_value(value, zone)
        text = f"{zone.name} returned to normal: {shown}"
        self._event(t, "return_to_normal", text, device, zone=zone, value=shown)

    def acknowledge(self, device: SensorDevice, zone: Zone, t: int, user: User) -> int:
        """Acknowledge every unacknowledged alarm of a zone; returns how many there were."""
        key = (device.device_id, zone.zone_id)
        spans = self.unacked.pop(key, [])
        for span in spans:
            span.acked = True
        if not spans:
            return 0
        self._event(
            t,
            "acknowledged",
            f"{zone.name} alarm acknowledged by {user.name}",
            device,
            zone=zone,
            user=user,
        )
        self._audit(
            t,
            "update",
            user,
            f"Unacknowledged Alarms ({zone.name}) changed from {len(spans)} to 0",
            zone_var_id(zone, VAR_UNACK_ALARMS),
            device.timezone,
        )
        return len(spans)

    def power_fail(self, device: SensorDevice, t: int) -> PowerSpan:
        battery = next((z for z in device.zones if z.kind == "battery"), None)
        start_volts = self.baseline(battery, t) if battery else 0.0
        span = PowerSpan(t, start_volts)
        self.power_failures[device.device_id] = span
        self.power_spans.setdefault(device.device_id, []).append(span)
        power = next((z for z in device.zones if z.kind == "power"), None)
        self._event(t, "power", "The power is OFF", device, zone=power, value="Off")
        if battery is not None and battery.low is not None:
            minutes = math.floor((start_volts - battery.low) / BATTERY_DRAIN_PER_MINUTE) + 1
            self._later(t + minutes * 60, "battery", device.device_id, span)
        return span

    def power_restore(self, device: SensorDevice, t: int) -> None:
        span = self.power_failures.pop(device.device_id)
        span.end = t
        power = next((z for z in device.zones if z.kind == "power"), None)
        text = "The power has returned to normal"
        self._event(t, "power", text, device, zone=power, value="On")
        if span.battery_low:
            battery = next(z for z in device.zones if z.kind == "battery")
            shown = format_value(self.baseline(battery, t), battery)
            text = "Battery has returned to normal"
            self._event(t, "battery", text, device, zone=battery, value=shown)

    def battery_low(self, device: SensorDevice, span: PowerSpan, t: int) -> None:
        if self.power_failures.get(device.device_id) is not span or span.battery_low:
            return
        battery = next(z for z in device.zones if z.kind == "battery")
        value, low = self.reading(device, battery, t)
        if not low:
            return
        span.battery_low = True
        shown = format_value(value, battery)
        self._event(t, "battery", f"Battery low: {shown}", device, zone=battery, value=shown)

    def go_offline(self, device: SensorDevice, t: int) -> OfflineSpan:
        span = OfflineSpan(t)
        self.offline[device.device_id] = span
        self._event(t, "offline", f"{device.name} is offline: no contact", device)
        return span

    def go_online(self, device: SensorDevice, t: int) -> None:
        del self.offline[device.device_id]
        self._event(t, "online", f"{device.name} is back online", device)

    # --- the scenario -----------------------------------------------------------------------
    def tick(self, t: int, rng: random.Random) -> None:
        """One minute of simulated life: due follow-ups first, then new happenings."""
        while self._schedule and self._schedule[0][0] <= t:
            _, _, kind, payload = heapq.heappop(self._schedule)
            self._follow_up(kind, payload, t)
        n = len(self.devices)
        if n == 0:
            return
        scale = max(n, MIN_RATE_DEVICES) * TICK_SECONDS / 3600
        for kind, rate in RATES.items():
            for _ in range(poisson(rng, rate * scale)):
                device = self.devices[rng.randrange(n)]
                getattr(self, f"_random_{kind}")(device, t, rng)

    def _follow_up(self, kind: str, payload: tuple, t: int) -> None:
        if kind == "rtn":
            key, span = payload
            if self.alarms.get(key) is span:
                self.clear_alarm(self.by_id[key[0]], self.zones[key], t)
        elif kind == "ack":
            key, span, user = payload
            if not span.acked:
                self.acknowledge(self.by_id[key[0]], self.zones[key], t, user)
        elif kind == "restore":
            device_id, span = payload
            if self.power_failures.get(device_id) is span:
                self.power_restore(self.by_id[device_id], t)
        elif kind == "battery":
            device_id, span = payload
            self.battery_low(self.by_id[device_id], span, t)
        elif kind == "online":
            device_id, span = payload
            if self.offline.get(device_id) is span:
                self.go_online(self.by_id[device_id], t)

    def _random_alarm(self, device: SensorDevice, t: int, rng: random.Random) -> None:
        candidates = [z for z in device.zones if z.kind in ALARMABLE_KINDS]
        zone = rng.choice(candidates)
        high_side = rng.random() < 0.7
        overshoot = rng.uniform(0.03, 0.15)
        duration = rng.randint(10, 180) * 60
        ack_after = rng.randint(2, 45) * 60 if rng.random() < 0.6 else None
        user = rng.choice(self.users)
        key = (device.device_id, zone.zone_id)
        if key in self.alarms or device.device_id in self.offline:
            return
        if device.device_id in self.power_failures:
            return
        span_width = (zone.high or 0) - (zone.low or 0)
        if high_side and zone.high is not None:
            value = zone.high + max(0.5, overshoot * span_width)
        else:
            value = (zone.low or 0) - max(0.5, overshoot * span_width)
        value = round(value, SHAPES[zone.kind].decimals)
        span = self.raise_alarm(device, zone, t, value)
        self._later(t + duration, "rtn", key, span)
        if ack_after is not None:
            self._later(t + ack_after, "ack", key, span, user)

    def _random_power(self, device: SensorDevice, t: int, rng: random.Random) -> None:
        duration = rng.randint(5, 120) * 60
        if device.device_id in self.power_failures or device.device_id in self.offline:
            return
        span = self.power_fail(device, t)
        self._later(t + duration, "restore", device.device_id, span)

    def _random_offline(self, device: SensorDevice, t: int, rng: random.Random) -> None:
        duration = rng.randint(5, 90) * 60
        if device.device_id in self.offline:
            return
        span = self.go_offline(device, t)
        self._later(t + duration, "online", device.device_id, span)

    def _random_config(self, device: SensorDevice, t: int, rng: random.Random) -> None:
        change = rng.choice(AUDIT_CHANGES)
        user = rng.choice(self.users)
        zone = rng.choice(device.zones)
        before, after = rng.choice((0, 30, 60, 120, 300)), rng.choice((0, 30, 60, 120, 300))
        if change == "update":
            what = f"Alarm Delay ({zone.name}) changed from {before} to {after} seconds"
            self._audit(t, change, user, what, zone_var_id(zone, VAR_ALARM_DELAY), device.timezone)
            return
        if change == "create" or self._contact_no == 0:
            self._contact_no += 1
            change, number = "create", self._contact_no
        else:
            number = rng.randint(1, self._contact_no)
        verb = "created" if change == "create" else "deleted"
        what = f"Contact 'On-call {number}' {verb}"
        self._audit(t, change, user, what, CONTACT_VAR_BASE + number, self.account_timezone)
