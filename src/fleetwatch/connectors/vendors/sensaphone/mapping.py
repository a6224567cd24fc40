"""Sensaphone.net records → hub incidents: pure functions and the episode tracker.

No HTTP and no database here, so every mapping rule can be read (and tested) on its own.
docs/connectors/sensaphone.md lists the rules; keep the two in step.

Vocabulary: an *episode* is one alarm of one zone (or one power failure, battery-low spell
or offline spell of one device), from the event that starts it to the event that ends it.
Each episode is its own stateful incident, keyed by what it is about and when it began::

    zone:<device_id>:<zone_id>:<start epoch>   a zone alarm
    power:<device_id>:<start epoch>            mains power off
    battery:<device_id>:<start epoch>          battery below its low limit
    offline:<device_id>:<start epoch>          the device stopped reporting

A key without the start would be reused by the zone's next alarm and reopen an episode the
hub has already ended.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fleetwatch.codecs import sensaphone as codec
from fleetwatch.connectors import console

ZONE, POWER, BATTERY, OFFLINE = "zone", "power", "battery", "offline"
KINDS = (ZONE, POWER, BATTERY, OFFLINE)
PROBLEM_TYPES = {
    ZONE: "zone_alarm",
    POWER: "power_failure",
    BATTERY: "battery_low",
    OFFLINE: "device_offline",
}

# Argus levels: 1 Critical, 2 High, 3 Moderate, 4 Low, 5 Information.
ZONE_TYPE_LEVELS = {"temperature": 2, "water": 2, "humidity": 3}
DEFAULT_ZONE_LEVEL = 3
DEVICE_LEVELS = {POWER: 2, BATTERY: 2, OFFLINE: 3}
AUDIT_LEVEL = 5
#: An alarm value beyond its limit by this share of the zone's range is one level worse.
SEVERE_EXCESS = 0.25

#: Zone states [F zone page] that mean "this zone is in alarm now" (reconciliation only):
#: 1 Alarm, 7 Low, 8 High, 17 Acknowledged (in alarm, acknowledged), 18 Unacknowledged.
ACTIVE_ZONE_STATES = frozenset({1, 7, 8, 17, 18})
#: Zone types whose trouble comes as device-level power/battery events, not zone alarms.
DEVICE_ZONE_TYPES = frozenset({"power", "battery"})
#: Event types we know and deliberately do not map (contact deliveries, state echoes).
INFORMATIONAL_TYPES = frozenset({"notification", "unacknowledged"})

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


# --- small parsers ------------------------------------------------------------------------------
def as_int(value: object) -> int | None:
    """Ids and epochs arrive as ints or digit strings (data_log's are strings [F])."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_float(value: object) -> float | None:
    """The number in a vendor value: ``"91.2 °F"`` → 91.2, ``"12.81 V"`` → 12.81."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _NUMBER.search(str(value))
    return float(match.group()) if match else None


def as_bool(value: object) -> bool | None:
    """data_log's ``is_alarm`` is the *string* ``"true"``/``"false"`` [F]: never test its
    truthiness (``"false"`` is truthy)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def text(value: object) -> str:
    """A vendor string, stripped; anything else (None, numbers, objects) is ``""``."""
    return value.strip() if isinstance(value, str) else ""


def display(value: object) -> str:
    """A value as shown to people: strings stripped, numbers as written, nothing else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return text(value)


def record_time(item: dict, tz: str | None) -> datetime | None:
    """The instant of a history record (event, audit entry, data record), in UTC.

    The vendor's documented time is ``timestamp``, a Sensaphone-encoded wall-clock time in
    the device's zone [F]; it is decoded with THE codec. That wall-clock time is ambiguous for
    an hour each autumn, so when the record also carries ``epoch`` (unix seconds) the epoch
    picks the fold; if the two disagree (we do not know the device's zone right) the epoch,
    which names one instant, wins. Without either we cannot place the record: None.
    """
    epoch = as_int(item.get("epoch"))
    ts = as_int(item.get("timestamp"))
    if ts is not None and tz and codec.is_valid(ts):
        try:
            candidates = [codec.from_sensaphone(ts, tz, fold=fold) for fold in (0, 1)]
        except ValueError:  # an unknown time zone name
            candidates = []
        if candidates:
            if epoch is None:
                return candidates[0]
            for candidate in candidates:
                if int(candidate.timestamp()) == epoch:
                    return candidate
    if epoch is not None and epoch >= 0:
        return datetime.fromtimestamp(epoch, UTC)
    return None


def epoch_of(at: datetime) -> int:
    return int(at.timestamp())


def iso_utc(at: datetime | None) -> str | None:
    """A vendor time for metadata: ISO 8601 in UTC, never the vendor's local display string
    (``when``, in the device's zone and abbreviation)."""
    return at.astimezone(UTC).isoformat() if at else None


# --- what the device read tells us ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ZoneInfo:
    zone_id: int
    name: str
    type: str
    units: str
    low: float | None
    high: float | None
    log_point: int | None
    alarm_status: int | None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: int
    name: str
    product: str
    timezone: str
    site: str
    is_online: bool | None
    power_off: bool
    battery_low: bool
    zones: dict[int, ZoneInfo] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        """``Server Room (Sentinel Pro)``: how descriptions name a device."""
        return f"{self.name} ({self.product})" if self.product else self.name


def site_of(device: dict) -> str:
    """The device's place: ``location.name``/``location.address`` when the vendor fills them,
    else its free-text ``description`` (where installers write the site)."""
    location = device.get("location")
    if isinstance(location, dict):
        for name in ("name", "address"):
            value = location.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, dict):
                parts = [str(v).strip() for v in value.values() if isinstance(v, str | int)]
                if any(parts):
                    return ", ".join(p for p in parts if p)
    elif isinstance(location, str) and location.strip():
        return location.strip()
    return text(device.get("description"))


def parse_zone(zone: dict) -> ZoneInfo | None:
    zone_id = as_int(zone.get("zone_id"))
    if zone_id is None:
        return None
    alarm = zone.get("alarm_zone") if isinstance(zone.get("alarm_zone"), dict) else {}
    loggable = zone.get("loggable_zone") if isinstance(zone.get("loggable_zone"), dict) else {}
    return ZoneInfo(
        zone_id=zone_id,
        name=text(zone.get("name")) or f"Zone {zone_id}",
        type=text(zone.get("type")).lower(),
        units=text(zone.get("units")),
        low=as_float(alarm.get("alarm_low")),
        high=as_float(alarm.get("alarm_high")),
        log_point=as_int(loggable.get("log_point")),
        alarm_status=as_int(alarm.get("alarm_status")),
    )


def parse_device(device: dict) -> DeviceInfo | None:
    device_id = as_int(device.get("device_id"))
    if device_id is None:
        return None
    zones = {}
    for item in device.get("zone") or []:
        zone = parse_zone(item) if isinstance(item, dict) else None
        if zone is not None:
            zones[zone.zone_id] = zone
    online = device.get("is_online")
    return DeviceInfo(
        device_id=device_id,
        name=text(device.get("name")) or f"Device {device_id}",
        product=text(device.get("product")),
        timezone=text(device.get("timezone")),
        site=site_of(device),
        is_online=online if isinstance(online, bool) else None,
        power_off=text(device.get("power_value")).lower() == "off"
        or as_int(device.get("power_status")) == 1,
        battery_low=as_int(device.get("battery_status")) == 1,
        zones=zones,
        raw=device,
    )


# --- events -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VendorEvent:
    event_id: int
    type: str
    at: datetime
    device_id: int | None
    zone_id: int | None
    text: str
    value: str
    device_name: str
    zone_name: str

    @property
    def epoch(self) -> int:
        return epoch_of(self.at)

    @property
    def order(self) -> tuple[int, int]:
        return self.epoch, self.event_id


def parse_event(item: dict, devices: dict[int, DeviceInfo]) -> VendorEvent | None:
    """One event_log item, its time read in its device's zone; None if it lacks an id or a
    time (counted by the caller, never a crash)."""
    event_id = as_int(item.get("event_id"))
    device_id = as_int(item.get("device_id"))
    device = devices.get(device_id) if device_id is not None else None
    at = record_time(item, device.timezone if device else None)
    if event_id is None or at is None:
        return None
    return VendorEvent(
        event_id=event_id,
        type=text(item.get("type") or item.get("event_type")).lower(),
        at=at,
        device_id=device_id,
        zone_id=as_int(item.get("zone_id")),
        text=text(item.get("event")) or text(item.get("message")),
        value=display(item.get("value")),
        device_name=text(item.get("device_name")),
        zone_name=text(item.get("zone_name")),
    )


def power_is_off(event: VendorEvent) -> bool | None:
    """A ``power`` event: the power went off (True), came back (False), or we cannot tell.
    ``value`` is the power zone's ``"Off"``/``"On"``; the text (``The power is OFF`` / ``The
    power has returned to normal`` [C alert e-mails]) is the fallback."""
    value = event.value.lower()
    if value in ("off", "0"):
        return True
    if value in ("on", "1"):
        return False
    words = event.text.lower()
    if "returned to normal" in words or "restored" in words or " is on" in words:
        return False
    if re.search(r"\boff\b", words) or "fail" in words:
        return True
    return None


def battery_is_low(event: VendorEvent, device: DeviceInfo | None) -> bool | None:
    """A ``battery`` event: low (True), back to normal (False), or unknown. The text decides
    (``Battery low: 10.98 V`` / ``Battery has returned to normal``); else the value against
    the battery zone's low limit."""
    words = event.text.lower()
    if "normal" in words or "restored" in words:
        return False
    if "low" in words:
        return True
    zone = device.zones.get(event.zone_id) if device and event.zone_id is not None else None
    number = as_float(event.value)
    if zone is not None and zone.low is not None and number is not None:
        return number < zone.low
    return None


# --- episodes ---------------------------------------------------------------------------------
Key = tuple  # (kind, device_id) or (ZONE, device_id, zone_id)


def key_prefix(key: Key) -> str:
    """``zone:45000:5001:``: every episode of one zone (or device kind) starts with it."""
    return "".join(f"{part}:" for part in key)


def episode_sid(key: Key, start: int) -> str:
    return f"{key_prefix(key)}{start}"


def parse_sid(sid: str) -> tuple[Key, int] | None:
    """``zone:45000:5001:1772366400`` → ((ZONE, 45000, 5001), 1772366400); None for ids
    that are not ours (the engine's health incident shares the source)."""
    parts = sid.split(":")
    if not parts or parts[0] not in KINDS:
        return None
    size = 4 if parts[0] == ZONE else 3
    if len(parts) != size or not all(p.lstrip("-").isdigit() for p in parts[1:]):
        return None
    numbers = [int(p) for p in parts[1:]]
    return (parts[0], *numbers[:-1]), numbers[-1]


@dataclass(eq=False)
class Episode:
    key: Key
    start: int  # epoch seconds: also the last part of the sid
    end: datetime | None = None
    start_event: VendorEvent | None = None
    in_hub: bool = False  # open in the hub when the poll began
    touched: bool = False  # started or ended by this poll's events: needs a draft
    superseded: bool = False

    @property
    def sid(self) -> str:
        return episode_sid(self.key, self.start)

    @property
    def kind(self) -> str:
        return self.key[0]


@dataclass(slots=True)
class PendingAck:
    """An acknowledgement whose episode is neither open nor in this poll (it ended in an
    earlier one): the connector looks the episode up in the hub."""

    key: Key
    event: VendorEvent


class Tracker:
    """Replays events oldest first over the episodes the hub has open.

    It is idempotent over re-reads: the events of one poll are always a contiguous part of
    the log from the window's floor up to some instant (the newest, unless the poll is behind),
    so an episode whose start is re-read has its end re-read too if it came by that instant,
    and ends and acknowledgements only ever attach to an episode that began at or before them.
    (A poll that is behind may end at an instant older than what the hub already knows, after
    the bookmark was set back; the connector then keeps the hub's end, see ``drafts``.)
    """

    def __init__(self, hub_open_sids: Iterable[str]) -> None:
        self.episodes: dict[str, Episode] = {}
        self.by_key: dict[Key, list[Episode]] = defaultdict(list)
        self.acks: list[tuple[str, VendorEvent]] = []
        self.pending_acks: list[PendingAck] = []
        self.counts: Counter = Counter()
        self.fresh = True  # is the event being applied new (not an overlap re-read)?
        for sid in hub_open_sids:
            parsed = parse_sid(sid)
            if parsed is not None:
                self._add(Episode(parsed[0], parsed[1], in_hub=True))

    def note(self, what: str) -> None:
        """Count something ignored, once: events re-read in the overlap are not counted
        again, so a steady poll summary shows only what is new."""
        if self.fresh:
            self.counts[what] += 1

    def _add(self, episode: Episode) -> Episode:
        self.episodes[episode.sid] = episode
        self.by_key[episode.key].append(episode)
        return episode

    def open_at(self, key: Key, epoch: int) -> Episode | None:
        """The key's episode that had begun by ``epoch`` and not yet ended (latest first)."""
        found = [e for e in self.by_key.get(key, ()) if e.end is None and e.start <= epoch]
        return max(found, key=lambda e: e.start, default=None)

    def latest_at(self, key: Key, epoch: int) -> Episode | None:
        found = [e for e in self.by_key.get(key, ()) if e.start <= epoch]
        return max(found, key=lambda e: e.start, default=None)

    def current(self, key: Key) -> Episode | None:
        """The key's open episode after every event applied (the latest, if several)."""
        found = [e for e in self.by_key.get(key, ()) if e.end is None]
        return max(found, key=lambda e: e.start, default=None)

    def open_keys(self) -> set[Key]:
        return {e.key for e in self.episodes.values() if e.end is None}

    # --- the rules --------------------------------------------------------------------------
    def start(self, key: Key, event: VendorEvent) -> None:
        sid = episode_sid(key, event.epoch)
        # One zone (device) is in one alarm (failure) at a time: a new start means an earlier
        # episode still open is over, though its end was not logged.
        for earlier in self.by_key.get(key, ()):
            if earlier.end is None and earlier.start < event.epoch:
                earlier.end, earlier.touched, earlier.superseded = event.at, True, True
                self.note("superseded")
        known = self.episodes.get(sid)
        if known is not None:  # re-read, or the episode the hub already has open
            first = known.start_event
            if first is not None and first.event_id != event.event_id and known.end is not None:
                # Ended and alarmed again within the same second: the sid (by the second)
                # cannot tell two episodes apart, so the one episode is open again.
                known.end = None
            known.start_event = first or event
            known.touched = True
            return
        self._add(Episode(key, event.epoch, start_event=event, touched=True))

    def finish(self, key: Key, event: VendorEvent) -> None:
        current = self.open_at(key, event.epoch)
        if current is None:  # nothing open: never end what the hub does not have open
            self.note("ends_without_episode")
            return
        current.end, current.touched = event.at, True

    def acknowledge(self, key: Key, event: VendorEvent) -> None:
        episode = self.open_at(key, event.epoch) or self.latest_at(key, event.epoch)
        if episode is not None:
            self.acks.append((episode.sid, event))
        else:
            self.pending_acks.append(PendingAck(key, event))

    def apply(
        self, event: VendorEvent, devices: dict[int, DeviceInfo], *, fresh: bool = True
    ) -> None:
        self.fresh = fresh
        kind, device_id = event.type, event.device_id
        if device_id is None:
            self.note("events_without_device")
            return
        if kind in ("alarm", "return_to_normal", "acknowledged"):
            self._apply_zone_event(event, device_id)
        else:
            self._apply_device_event(event, device_id, devices)

    def _apply_zone_event(self, event: VendorEvent, device_id: int) -> None:
        """alarm / return_to_normal / acknowledged: the zone's episode; without a zone, an
        acknowledgement is the device's (its offline alarm)."""
        kind = event.type
        if event.zone_id is None:
            if kind == "acknowledged":  # a device-level ack: its offline alarm
                self.acknowledge((OFFLINE, device_id), event)
            else:
                self.note("zone_events_without_zone")
            return
        zone_key = (ZONE, device_id, event.zone_id)
        if kind == "alarm":
            self.start(zone_key, event)
        elif kind == "return_to_normal":
            self.finish(zone_key, event)
        else:
            self.acknowledge(zone_key, event)

    def _apply_device_event(
        self, event: VendorEvent, device_id: int, devices: dict[int, DeviceInfo]
    ) -> None:
        """Power, battery and offline episodes of the device; other types are counted."""
        kind = event.type
        if kind == "power":
            self._switch((POWER, device_id), event, power_is_off(event), "unreadable_power_events")
        elif kind == "battery":
            low = battery_is_low(event, devices.get(device_id))
            self._switch((BATTERY, device_id), event, low, "unreadable_battery_events")
        elif kind == "offline":
            self.start((OFFLINE, device_id), event)
        elif kind == "online":
            self.finish((OFFLINE, device_id), event)
        elif kind in INFORMATIONAL_TYPES:
            self.note("informational")
        else:
            self.note(f"unknown_type:{kind or '?'}")

    def _switch(self, key: Key, event: VendorEvent, on: bool | None, unreadable: str) -> None:
        """Start the key's episode when the event says on, end it when off; count it when
        the event cannot be read."""
        if on is None:
            self.note(unreadable)
        elif on:
            self.start(key, event)
        else:
            self.finish(key, event)


def starts_episode(event: VendorEvent, devices: dict[int, DeviceInfo]) -> bool:
    """Does this event open an episode? (Reconciliation asks of a key's newest event.)"""
    if event.type in ("alarm", "offline"):
        return True
    if event.type == "power":
        return power_is_off(event) is True
    if event.type == "battery":
        return battery_is_low(event, devices.get(event.device_id)) is True
    return False


# --- drafts -----------------------------------------------------------------------------------
def details_url(key: Key, console_root: str) -> str:
    """The vendor console page of an episode: the zone's page for a zone alarm
    (``<console_url>/devices/<device_id>/zones/<zone_id>``), the device's otherwise."""
    if key[0] == ZONE:
        return console.link(console_root, "devices", key[1], "zones", key[2])
    return console.link(console_root, "devices", key[1])


def audit_details_url(var_id: int | None, devices: dict[int, DeviceInfo], console_root: str) -> str:
    """An audit entry's page: the zone whose setting changed (a zone's variables are
    ``zone_id × 10 + n``), else the console's home page (contacts, account settings)."""
    if var_id is not None:
        zone_id = var_id // 10
        for device in devices.values():
            if zone_id in device.zones:
                return details_url((ZONE, device.device_id, zone_id), console_root)
    return console.link(console_root)


def alarm_side(zone: ZoneInfo | None, event: VendorEvent) -> str:
    """``high`` or ``low``: the value against the zone's limits, else the event's words."""
    number = as_float(event.value)
    if zone is not None and number is not None:
        if zone.high is not None and number > zone.high:
            return "high"
        if zone.low is not None and number < zone.low:
            return "low"
    words = event.text.lower()
    if "above" in words or "high" in words:
        return "high"
    if "below" in words or "low" in words:
        return "low"
    return "alarm"


def zone_level(zone: ZoneInfo | None, event: VendorEvent) -> int:
    """By zone type (temperature and water High, humidity and others Moderate); one level
    worse when the value is beyond its limit by a quarter of the zone's range or more."""
    level = ZONE_TYPE_LEVELS.get(zone.type if zone else "", DEFAULT_ZONE_LEVEL)
    number = as_float(event.value)
    if zone is None or number is None or zone.low is None or zone.high is None:
        return level
    span = zone.high - zone.low
    excess = max(number - zone.high, zone.low - number)
    if span > 0 and excess >= SEVERE_EXCESS * span:
        level = max(1, level - 1)
    return level


def device_label(device: DeviceInfo | None, event: VendorEvent | None, device_id: int) -> str:
    if device is not None:
        return device.label
    return (event.device_name if event else "") or f"device {device_id}"


def describe(
    episode: Episode, device: DeviceInfo | None
) -> tuple[str, int, list[tuple[str, str]], dict]:
    """(description, level, tags, metadata) of an episode from its starting event."""
    event = episode.start_event
    assert event is not None
    device_id = episode.key[1]
    label = device_label(device, event, device_id)
    zone = None
    if event.zone_id is not None and device is not None:
        zone = device.zones.get(event.zone_id)
    zone_name = (zone.name if zone else "") or event.zone_name
    if episode.kind == ZONE:
        side = alarm_side(zone, event)
        shown = f": {event.value}" if event.value else ""
        description = f"{zone_name or f'Zone {event.zone_id}'} {side}{shown} on {label}"
        level = zone_level(zone, event)
    elif episode.kind == POWER:
        description, level = f"Power failure on {label}", DEVICE_LEVELS[POWER]
    elif episode.kind == BATTERY:
        shown = f": {event.value}" if event.value else ""
        description, level = f"Battery low{shown} on {label}", DEVICE_LEVELS[BATTERY]
    else:
        description, level = f"{label} offline: no contact", DEVICE_LEVELS[OFFLINE]
    tags = [
        ("device", device.name if device else event.device_name),
        ("device_id", str(device_id)),
        ("site", device.site if device else ""),
        ("problem_type", PROBLEM_TYPES[episode.kind]),
    ]
    if event.zone_id is not None:
        tags += [
            ("zone", zone_name),
            ("zone_id", str(event.zone_id)),
            ("zone_type", zone.type if zone else ""),
        ]
    metadata: dict = {
        "event_id": event.event_id,
        "event": event.text,
        "event_time": iso_utc(event.at),
    }
    if event.value:
        metadata["value"] = event.value
    if zone is not None and episode.kind == ZONE:
        metadata["alarm_low"], metadata["alarm_high"] = zone.low, zone.high
        metadata["units"] = zone.units
    return description, level, [(k, v) for k, v in tags if v], metadata
