"""The History API: filter parsing (URI and JSON mode alike) and the four log queries.

Both modes end in :func:`parse_filters`, which turns raw values (strings from URI segments,
JSON values from a body) into one normalised dict, so that the same filters give the same
answer whichever mode asked. The normalised dict is also the v2+ ``<log>_filter`` echo.
"""

import itertools
import math
import re
from dataclasses import dataclass

from fleetwatch.codecs.sensaphone import MAX_TIMESTAMP, from_sensaphone, is_valid
from fleetwatch.emulators.sensaphone.model import (
    AUDIT_CHANGES,
    DATA_STATUSES,
    EVENT_TYPES,
    LOG_INTERVAL,
    AuditEntry,
    Event,
    Timeline,
    format_number,
    local_when,
    sensaphone_ts,
)

DEFAULT_PAGE = 50  # record_offset when the client gives none
MAX_PAGE = 5000  # larger record_offset values are capped to this

_INTS, _STRS, _INT, _STR, _TS, _OFFSET = "ints", "strs", "int", "str", "ts", "offset"
PAGING = {"begin_offset": (_OFFSET, None), "record_offset": (_OFFSET, None)}
RANGE = {"start": (_TS, None), "end": (_TS, None)}
FILTERS: dict[str, dict[str, tuple]] = {
    "audit_log": {
        "var_ids": (_INTS, None),
        "user_ids": (_INTS, None),
        "changes": (_STRS, AUDIT_CHANGES),
        **RANGE,
        **PAGING,
    },
    "data_log": {
        "log_points": (_INTS, None),
        "status": (_STRS, DATA_STATUSES),
        **RANGE,
        **PAGING,
    },
    "data_log_points": {"resource_type": (_STR, ("device",)), "device_id": (_INT, None)},
    "event_log": {
        "contact_ids": (_INTS, None),
        "device_ids": (_INTS, None),
        "zone_ids": (_INTS, None),
        "user_ids": (_INTS, None),
        "event_types": (_STRS, EVENT_TYPES),
        **RANGE,
        **PAGING,
    },
}
LOGS = tuple(FILTERS)
_DIGITS = re.compile(r"^\s*[0-9]+\s*$")
MAX_DIGITS = 100  # longer digit strings are refused, not handed to int() (which caps at 4300)


class FilterError(ValueError):
    """A filter value is wrong; the message names the filter (answered with code 1)."""


class NotFoundError(LookupError):
    """A filter names something the account does not have (answered with code 4)."""


def strip_braces(value: str) -> str:
    """``{1234}`` → ``1234``: the wiki writes every URI value in braces, clients vary."""
    value = value.strip()
    if len(value) >= 2 and value[0] == "{" and value[-1] == "}":
        return value[1:-1].strip()
    return value


def uri_pairs(segments: list[str]) -> dict[str, str]:
    """Filter name/value pairs from URI segments, in any order; a trailing odd one is ignored."""
    parts = [s for s in segments if s != ""]
    return {strip_braces(parts[i]): strip_braces(parts[i + 1]) for i in range(0, len(parts) - 1, 2)}


def _to_int(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _DIGITS.match(value) and len(value.strip()) <= MAX_DIGITS:
        return int(value)
    raise FilterError(f"filter '{name}' must hold non-negative integers, not {value!r}")


def _items(value: object) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip() != ""]
    return [value]


def _parse_one(name: str, kind: str, allowed: tuple | None, value: object) -> object:
    if kind == _INTS:
        return sorted({_to_int(name, item) for item in _items(value)})
    if kind == _STRS:
        out = []
        for item in _items(value):
            if not isinstance(item, str) or item.strip().lower() not in allowed:
                raise FilterError(
                    f"filter '{name}' has an unknown value {item!r}; "
                    f"expected one of: {', '.join(allowed)}"
                )
            if item.strip().lower() not in out:
                out.append(item.strip().lower())
        return out
    if kind == _STR:
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            raise FilterError(f"filter '{name}' must be one of: {', '.join(allowed)}")
        return value.strip().lower()
    number = _to_int(name, value)
    if kind == _TS and not is_valid(number):
        raise FilterError(
            f"filter '{name}' must be a Sensaphone timestamp (0..{MAX_TIMESTAMP}, "
            f"a date that exists), not {value!r}"
        )
    if name == "record_offset" and number == 0:
        raise FilterError(f"filter 'record_offset' must be between 1 and {MAX_PAGE}")
    return number


def parse_filters(log: str, raw: dict) -> dict:
    """Validate and normalise a log's filters; unknown names are ignored, like the vendor's
    non-pair URI parameters. Returns the filters in the vendor's documented order."""
    if not isinstance(raw, dict):
        raise FilterError(f"history.{log} must be an object")
    out: dict = {}
    for name, (kind, allowed) in FILTERS[log].items():
        value = raw.get(name)
        if value is None or value == "" or value == []:
            continue
        parsed = _parse_one(name, kind, allowed, value)
        if parsed != []:
            out[name] = parsed
    if "record_offset" in FILTERS[log]:
        out["begin_offset"] = out.get("begin_offset", 0)
        out["record_offset"] = min(out.get("record_offset", DEFAULT_PAGE), MAX_PAGE)
    return out


class _Bounds:
    """start/end filters read in each device's zone: earliest and latest matching instants.

    ``start`` takes the earlier occurrence of an ambiguous wall time and ``end`` the later, so
    a whole repeated hour is included; a wall time in a DST gap moves forward (codec rule).
    """

    def __init__(self, filters: dict) -> None:
        self.start, self.end = filters.get("start"), filters.get("end")
        self._cache: dict[str, tuple[float, float]] = {}

    def __call__(self, tz: str) -> tuple[float, float]:
        bounds = self._cache.get(tz)
        if bounds is None:
            low = -math.inf if self.start is None else from_sensaphone(self.start, tz).timestamp()
            high = (
                math.inf if self.end is None else from_sensaphone(self.end, tz, fold=1).timestamp()
            )
            bounds = self._cache[tz] = (low, high)
        return bounds


def _page(matches, filters: dict) -> list:
    """Skip ``begin_offset`` matches (newest first) and take ``record_offset``."""
    skip, take = filters["begin_offset"], filters["record_offset"]
    out = []
    for item in matches:
        if skip:
            skip -= 1
            continue
        out.append(item)
        if len(out) >= take:
            break
    return out


# --- audit_log -------------------------------------------------------------------------------
def audit_item(entry: AuditEntry) -> dict:
    return {
        "audit_id": entry.audit_id,
        "change": entry.change,
        "who": entry.user.email,
        "user_id": entry.user.user_id,
        "what": entry.what,
        "var_id": entry.var_id,
        "when": local_when(entry.epoch, entry.timezone),
        "timestamp": sensaphone_ts(entry.epoch, entry.timezone),
        "epoch": entry.epoch,
    }


def audit_log(timeline: Timeline, filters: dict) -> list[dict]:
    var_ids = set(filters.get("var_ids", ())) or None
    user_ids = set(filters.get("user_ids", ())) or None
    changes = set(filters.get("changes", ())) or None
    bounds = _Bounds(filters)

    def matches():
        for entry in reversed(timeline.audit):
            if var_ids is not None and entry.var_id not in var_ids:
                continue
            if user_ids is not None and entry.user.user_id not in user_ids:
                continue
            if changes is not None and entry.change not in changes:
                continue
            low, high = bounds(entry.timezone)
            if low <= entry.epoch <= high:
                yield entry

    return [audit_item(entry) for entry in _page(matches(), filters)]


# --- event_log -------------------------------------------------------------------------------
def event_item(event: Event) -> dict:
    device, zone, tz = event.device, event.zone, event.device.timezone
    source = {"device": device.name}
    if zone is not None:
        source["zone"] = zone.name
    if event.user is not None:
        source["user"] = event.user.email
    if event.contact is not None:
        source["contact"] = event.contact.name
    return {
        "event_id": event.event_id,
        "event": event.text,
        "type": event.type,
        "device_id": device.device_id,
        "device_name": device.name,
        "zone_id": zone.zone_id if zone else None,
        "zone_name": zone.name if zone else None,
        "value": event.value,
        "user_id": event.user.user_id if event.user else None,
        "contact_id": event.contact.contact_id if event.contact else None,
        "when": local_when(event.epoch, tz),
        "timestamp": sensaphone_ts(event.epoch, tz),
        "epoch": event.epoch,
        "source": source,
    }


def event_log(timeline: Timeline, filters: dict) -> list[dict]:
    sets = {
        name: set(filters.get(name, ())) or None
        for name in ("contact_ids", "device_ids", "zone_ids", "user_ids", "event_types")
    }
    bounds = _Bounds(filters)

    def keep(event: Event) -> bool:
        checks = (
            ("contact_ids", event.contact.contact_id if event.contact else None),
            ("device_ids", event.device.device_id),
            ("zone_ids", event.zone.zone_id if event.zone else None),
            ("user_ids", event.user.user_id if event.user else None),
            ("event_types", event.type),
        )
        for name, value in checks:
            wanted = sets[name]
            if wanted is not None and value not in wanted:
                return False
        low, high = bounds(event.device.timezone)
        return low <= event.epoch <= high

    matches = (event for event in reversed(timeline.events) if keep(event))
    return [event_item(event) for event in _page(matches, filters)]


# --- data_log_points -------------------------------------------------------------------------
def data_log_points(timeline: Timeline, filters: dict) -> dict:
    if "device_id" not in filters:
        raise FilterError("filter 'device_id' is required")
    device = timeline.by_id.get(filters["device_id"])
    if device is None:
        raise NotFoundError(f"unknown device_id {filters['device_id']}")
    return {
        "resource_type": filters.get("resource_type", "device"),
        "device_id": device.device_id,
        "log_points": [
            {"category": zone.kind, "zone_id": zone.zone_id, "log_point": zone.log_point}
            for zone in device.zones
        ],
    }


# --- data_log --------------------------------------------------------------------------------
@dataclass
class _Group:
    """Log points of one time zone: they share a slot range once start/end are applied."""

    low: int
    high: int
    points: list[int]


def _segments(groups: list[_Group]) -> list[tuple[int, int, list[int]]]:
    """Split the slots into runs where the same points log: (high, low, points), newest first."""
    groups = [g for g in groups if g.low <= g.high]
    edges = sorted({g.high for g in groups} | {g.low - 1 for g in groups}, reverse=True)
    segments = []
    for upper, lower in itertools.pairwise(edges):
        high, low = upper, lower + 1
        points = sorted(p for g in groups if g.low <= low and high <= g.high for p in g.points)
        if points:
            segments.append((high, low, points))
    return segments


def _walk(segments, skip: int = 0):
    """(slot, log_point) newest first, ties by log point, from position ``skip`` on: O(1) skip."""
    for high, low, points in segments:
        per = len(points)
        total = (high - low + 1) * per
        if skip >= total:
            skip -= total
            continue
        slot, index = high - skip // per, skip % per
        skip = 0
        while slot >= low:
            for point in points[index:]:
                yield slot, point
            index = 0
            slot -= 1


def _groups_by_timezone(
    timeline: Timeline, points: list[int], filters: dict, now: int
) -> list[_Group]:
    """The points grouped by their device's time zone, each group with the slot range the
    filters' local-time bounds give in that zone (within the history kept)."""
    bounds = _Bounds(filters)
    first_slot = -(-timeline.history_start // LOG_INTERVAL)
    last_slot = now // LOG_INTERVAL
    by_tz: dict[str, _Group] = {}
    for point in points:
        tz = timeline.by_log_point[point][0].timezone
        group = by_tz.get(tz)
        if group is None:
            low, high = bounds(tz)
            slot_low = first_slot if low == -math.inf else max(first_slot, math.ceil(low / 900))
            slot_high = last_slot if high == math.inf else min(last_slot, math.floor(high / 900))
            group = by_tz[tz] = _Group(slot_low, slot_high, [])
        group.points.append(point)
    return list(by_tz.values())


def _alarm_candidates(
    timeline: Timeline, segments: list[tuple[int, int, list[int]]]
) -> list[tuple[int, int]]:
    """(slot, point) records that can be in alarm: inside an alarm or power-failure span,
    newest slot first."""
    candidates = set()
    for high, low, seg_points in segments:
        for point in seg_points:
            device, zone = timeline.by_log_point[point]
            for start, end in timeline.alarm_candidates(device, zone):
                first = max(low, -(-start // LOG_INTERVAL))
                last = high if end is None else min(high, -(-end // LOG_INTERVAL) - 1)
                candidates.update((slot, point) for slot in range(first, last + 1))
    return sorted(candidates, key=lambda item: (-item[0], item[1]))


def data_log(timeline: Timeline, filters: dict, now: int) -> list[dict]:
    """15-minute records of each loggable zone, computed, never stored."""
    wanted_points = filters.get("log_points")
    if wanted_points is None:
        points = list(timeline.by_log_point)
    else:
        points = [p for p in wanted_points if p in timeline.by_log_point]
    segments = _segments(_groups_by_timezone(timeline, points, filters, now))
    statuses = set(filters.get("status", DATA_STATUSES))
    skip, take = filters["begin_offset"], filters["record_offset"]

    def status(slot: int, point: int) -> str:
        device, zone = timeline.by_log_point[point]
        return "alarm" if timeline.reading(device, zone, slot * LOG_INTERVAL)[1] else "normal"

    if {"normal", "alarm"} <= statuses:  # every record matches: jump straight to the page
        chosen = []
        for item in _walk(segments, skip):
            chosen.append(item)
            if len(chosen) >= take:
                break
    elif "normal" in statuses:  # dense: walk and check each record
        matches = (item for item in _walk(segments) if status(*item) == "normal")
        chosen = _page(matches, filters)
    else:  # alarm records only: they can only lie inside alarm or power-failure spans
        ordered = _alarm_candidates(timeline, segments)
        matches = (item for item in ordered if "alarm" in statuses and status(*item) == "alarm")
        chosen = _page(matches, filters)
    return [data_item(timeline, slot, point) for slot, point in chosen]


def data_item(timeline: Timeline, slot: int, point: int) -> dict:
    """One record. ``variable`` is the integer log point id, the type ``data_log_points``
    serves ``log_point`` in, so clients that join the two find the records
    (docs/emulators/sensaphone.md)."""
    device, zone = timeline.by_log_point[point]
    epoch = slot * LOG_INTERVAL
    value, is_alarm = timeline.reading(device, zone, epoch)
    return {
        "record_id": str(slot * 1_000_000_000 + point),
        "variable": point,
        "value": format_number(value, zone),
        "units": zone.units,
        "is_alarm": "true" if is_alarm else "false",
        "status": "alarm" if is_alarm else "normal",
        "timestamp": sensaphone_ts(epoch, device.timezone),
        "when": local_when(epoch, device.timezone),
        "epoch": epoch,
    }
