"""Sensaphone.net: zone alarms, power, battery and connectivity of monitoring devices.

Streams (one poll, in this order):

- ``devices``: one JSON-mode device read (every device with its zones). It gives each
  device's time zone (needed to decode the vendor's timestamps), names, product, zone types
  and limits, and the current states used by reconciliation. Device records go to the hub
  every ``devices_every`` seconds.
- ``event_log``: paged newest → oldest (``begin_offset`` 0 = newest, ``record_offset`` = page
  size) until a page is short or reaches the bookmark (less ``overlap_seconds``); the events
  are then replayed OLDEST FIRST through :class:`mapping.Tracker`, which turns them into
  episodes (stateful incidents) and acknowledgements. See docs/connectors/sensaphone.md.
  Every read is contiguous with the bookmark: when more than ``max_pages`` pages came in
  since it, the poll is *behind* and reads the OLDEST ``max_pages`` pages after the bookmark
  (located by bisecting offsets), moves the bookmark only to their end, and the next polls
  go on from there (:meth:`SensaphoneConnector.read_log`).
- reconciliation (first poll only): whatever the device read says is active but neither the
  hub nor the events read explain gets one targeted event_log lookup for its starting
  event; an episode the hub has open that the window does not mention, while the device read
  shows it back to normal, gets its key's events read back to its start.
- ``data_log``: the last ``readings`` values of each zone whose alarm is new to the hub and
  still open, put into that incident's metadata (one bounded request).
- ``audit_log`` (option ``audit_log: true``): informational stateless incidents.

Bookmark: ``{"event_log": {"epoch": E, "ids": [event ids at E]}}`` — the newest event
instant seen and the ids that share it. Re-reading from E (less the overlap) cannot miss an
event logged in the same second as the last one seen; replays are idempotent.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from fleetwatch.connectors import console
from fleetwatch.connectors.base import (
    INFINITY,
    AckRecord,
    DeviceRecord,
    HubView,
    IncidentDraft,
    PollResult,
    VendorConnector,
    is_infinite,
)
from fleetwatch.connectors.http import ClientError
from fleetwatch.connectors.options import Boolean, Number, Text
from fleetwatch.connectors.pagination import OffsetPaginator
from fleetwatch.connectors.vendors.sensaphone import mapping
from fleetwatch.connectors.vendors.sensaphone.client import SensaphoneAPI, SensaphoneSession
from fleetwatch.connectors.vendors.sensaphone.mapping import (
    BATTERY,
    OFFLINE,
    POWER,
    ZONE,
    DeviceInfo,
    Tracker,
    VendorEvent,
    ZoneInfo,
    as_bool,
    as_float,
    as_int,
    epoch_of,
    record_time,
    text,
)

ACKED_STATE = 17  # zone state "Acknowledged" [F]: in alarm, acknowledged (emulator)
OPTION_SPECS = {
    "api_version": Text(default="v1"),
    # events per event_log page
    "page_size": Number(minimum=1, maximum=5000, integer=True, default=200),
    # per poll: 5,000 events; more: the next polls catch up, in order
    "max_pages": Number(minimum=1, integer=True, default=25),
    # first poll: how far back from the newest event to read
    "initial_hours": Number(minimum=0, default=72),
    # re-read before the bookmark, for events the vendor logs late
    "overlap_seconds": Number(minimum=0, default=300),
    # targeted lookups (requests) per reconciling (first) poll
    "reconcile_max": Number(minimum=0, integer=True, default=25),
    # data_log values per new alarm (one hour at 15-minute logging)
    "readings": Number(minimum=0, integer=True, default=4),
    # zones per poll that get readings (one request)
    "readings_max_zones": Number(minimum=0, integer=True, default=50),
    # seconds between device records
    "devices_every": Number(minimum=0, default=3600),
    "audit_log": Boolean(default=False),
    # the vendor console details_url links to; "": <base URL origin>/console (the emulator)
    console.OPTION: Text(default="", blank=True),
}


@dataclass
class LogRead:
    items: list[tuple[datetime, dict]]  # within the window, oldest first (then by id)
    new: int
    pages: int
    truncated: bool  # first poll only: the cap ended the window before initial_hours
    malformed: int
    bookmark: dict
    old_ids: set[int]  # re-read in the overlap: seen by an earlier poll
    behind: bool = False  # the oldest chunk after the bookmark; newer records wait
    stalled: bool = False  # the floor was not reached: nothing read, the bookmark kept
    probes: int = 0  # one-record reads that located the bookmark in the log


class LogPager:
    """One paged log, read newest → oldest: ``begin_offset`` 0 is the newest record and
    ``record_offset`` the page size [F FAQ]. Counts what it reads.

    Records arrive at offset 0 while we page, pushing older ones to higher offsets. Reading
    towards higher offsets, that only makes a later page repeat records of an earlier one
    (kept once, by id); no record is ever skipped. So a read that starts at some offset and
    goes on until it passes the floor has every record between the floor and the record it
    started at: a contiguous range.
    """

    #: galloping doubles the probed offset; this many doublings covers any real log
    MAX_GALLOP = 48

    def __init__(
        self,
        api: SensaphoneAPI,
        log: str,
        id_field: str,
        when: Callable[[dict], datetime | None],
        size: int,
    ) -> None:
        self.api, self.log, self.id_field, self.when, self.size = api, log, id_field, when, size
        self.pages = self.probes = self.malformed = 0

    def scan(
        self, start: int, floor: int | None, limit: int, *, initial_seconds: int = 0
    ) -> tuple[dict[int, tuple[datetime, dict]], bool]:
        """Pages from offset ``start`` on, until a page passes ``floor`` (holds a record older
        than it) or is short (the end of the log): ``(records at or after the floor by id,
        True)``; after ``limit`` pages without either, ``(…, False)``. ``floor`` None: it is
        ``initial_seconds`` before the first record read."""
        got: dict[int, tuple[datetime, dict]] = {}
        reached = False

        def more(page: tuple[int, bool]) -> bool:
            length, passed_floor = page
            return not passed_floor and length >= self.size

        paginator = OffsetPaginator(
            start, self.size, stream=self.log, has_more=more, max_pages=limit, cap="stop"
        )
        for offset in paginator:
            items = self.api.log_page(self.log, {}, offset, self.size)
            self.pages += 1
            reached = False
            for item in items:
                record_id, at = as_int(item.get(self.id_field)), self.when(item)
                if record_id is None or at is None:
                    self.malformed += 1
                    continue
                if floor is None:
                    floor = epoch_of(at) - initial_seconds
                if epoch_of(at) < floor:
                    reached = True
                    continue
                got.setdefault(record_id, (at, item))  # pages shift as records arrive
            paginator.advance((len(items), reached))
        return got, not paginator.capped

    def older(self, offset: int, epoch: int) -> bool:
        """Is the record at ``offset`` older than ``epoch``, or is ``offset`` past the end of
        the log? One one-record read. A record without a time counts as not older: that can
        only make the chunk read after the search smaller, never leave a gap."""
        self.probes += 1
        items = self.api.log_page(self.log, {}, offset, 1)
        if not items:
            return True
        at = self.when(items[0])
        return at is not None and epoch_of(at) < epoch

    def locate(self, epoch: int, room: int) -> int:
        """An offset whose record is not older than ``epoch``, at most a page before the first
        one that is (or the end of the log) — where the bookmark is in the log now; -1 when
        it is within the first ``room`` records.

        First probe ``room - 1``: if that record is older (or there is none), the bookmark is
        within ``room`` records and that is all (one request). Else gallop (offsets double)
        past it and bisect back to a page: log2(records since the bookmark / ``room``) reads,
        then log2(the last doubling / page size) more. Records arriving during the search
        shift offsets a little; the result is a starting point, and the read that follows is
        correct wherever it starts."""
        lo, offset, step = -1, room - 1, room
        for _ in range(self.MAX_GALLOP):
            if self.older(offset, epoch):
                break
            lo, offset, step = offset, offset + step, step * 2
        hi = offset
        while lo >= 0 and hi - lo > self.size:
            mid = (lo + hi) // 2
            if self.older(mid, epoch):
                hi = mid
            else:
                lo = mid
        return lo


class SensaphoneConnector(VendorConnector):
    vendor = "sensaphone"
    #: Sensaphone documents no limit [F, absence]: two requests a second is polite.
    rate_limit = (2, 1.0)
    option_specs = OPTION_SPECS

    def option(self, name: str) -> Any:
        """A connector option (resolved: its default when the connector does not set it)."""
        return self.options[name]

    @property
    def console_root(self) -> str:
        """Where details_url points: the ``console_url`` option, else the emulator's console."""
        return console.console_url(self.options, self.http.base_url)

    def prefix(self) -> str:
        """``/api/v1`` unless the connector's base URL already ends in an API version."""
        if re.search(r"/api/v\d+$", urlsplit(self.http.base_url).path.rstrip("/")):
            return ""
        return f"/api/{self.option('api_version')}"

    def authenticator(self, credentials: dict, cache: dict) -> SensaphoneSession:
        self.api_prefix = self.prefix()
        return SensaphoneSession(credentials, cache, prefix=self.api_prefix)

    @cached_property
    def api(self) -> SensaphoneAPI:
        return SensaphoneAPI(self.http, self.auth, self.api_prefix)

    def check(self) -> dict:
        """Session introspection: proves the login and the session work, reads nothing else."""
        info = self.api.session_info()
        return {
            "acctid": info.get("acctid"),
            "user_id": info.get("user_id"),
            "session_expires_in": info.get("session_expiration"),
        }

    # --- the poll -------------------------------------------------------------------------
    def poll(self, bookmarks: dict, now: datetime, hub: HubView) -> PollResult:
        result = PollResult()
        devices = self.read_devices()
        mark = bookmarks.get("event_log") if isinstance(bookmarks.get("event_log"), dict) else None
        log = self.read_log(
            "event_log",
            "event_id",
            mark,
            lambda item: record_time(item, self.tz_of(devices, item.get("device_id"))),
        )
        events, malformed = [], log.malformed
        for _, item in log.items:
            event = mapping.parse_event(item, devices)
            if event is None:
                malformed += 1
            else:
                events.append(event)
        tracker = Tracker(set(hub.open_incidents()))
        reconciled = 0
        if mark is None:  # later polls read on from the bookmark without gaps: no guessing
            found = self.reconcile(devices, events, tracker)
            reconciled = len(found)
            events.extend(found)
        for event in sorted({e.event_id: e for e in events}.values(), key=lambda e: e.order):
            tracker.apply(event, devices, fresh=event.event_id not in log.old_ids)
        # Behind, the replay knows the log only up to the chunk's last instant: the hub may
        # know more (a bookmark set back), and zone readings taken now are not the alarm's.
        horizon = datetime.fromtimestamp(log.bookmark["epoch"], UTC) if log.behind else None
        drafts, readings = self.drafts(tracker, devices, hub, horizon=horizon)
        result.incidents = drafts
        result.acks = self.acks(tracker, hub)
        result.bookmarks["event_log"] = log.bookmark
        result.notes["event_log"] = {
            "read": len(log.items),
            "new": log.new,
            "pages": log.pages,
            "truncated": log.truncated,
            "behind": log.behind,
            "stalled": log.stalled,
            "probes": log.probes,
            "malformed": malformed,
            "reconciled": reconciled,
            "readings": readings,
            **dict(sorted(tracker.counts.items())),
        }
        last = bookmarks.get("devices")
        every = float(self.option("devices_every"))
        if last is None or (now - datetime.fromisoformat(last)).total_seconds() >= every:
            result.devices = [self.device_record(d, now, tracker) for d in devices.values()]
            result.bookmarks["devices"] = now.isoformat()
        if self.option("audit_log"):
            audit, audit_mark = self.read_audit(bookmarks.get("audit_log"), devices)
            result.incidents.extend(audit)
            result.bookmarks["audit_log"] = audit_mark
            result.notes["audit_log"] = {"read": len(audit)}
        return result

    # --- devices --------------------------------------------------------------------------
    def read_devices(self) -> dict[int, DeviceInfo]:
        devices = {}
        for item in self.api.devices():
            device = mapping.parse_device(item)
            if device is not None:
                devices[device.device_id] = device
        return devices

    @staticmethod
    def tz_of(devices: dict[int, DeviceInfo], device_id: object) -> str | None:
        device = devices.get(as_int(device_id)) if device_id is not None else None
        return device.timezone if device else None

    def device_record(self, device: DeviceInfo, now: datetime, tracker: Tracker) -> DeviceRecord:
        """``last_seen`` is now for a device that reports, else the start of its offline
        episode (its last contact) when we know it."""
        last_seen = now
        if device.is_online is False:
            episode = tracker.current((OFFLINE, device.device_id))
            last_seen = datetime.fromtimestamp(episode.start, UTC) if episode else None
        raw = device.raw
        return DeviceRecord(
            vendor_id=str(device.device_id),
            name=device.name,
            os=device.product,
            last_seen=last_seen,
            data={
                "serial": raw.get("id"),
                "description": raw.get("description"),
                "site": device.site,
                "timezone": device.timezone,
                "is_online": device.is_online,
                "power": raw.get("power_value"),
                "battery": raw.get("battery_value"),
                "zones": [
                    {
                        "zone_id": z.zone_id,
                        "name": z.name,
                        "type": z.type,
                        "units": z.units,
                        "alarm_low": z.low,
                        "alarm_high": z.high,
                        "alarm_status": z.alarm_status,
                        "log_point": z.log_point,
                    }
                    for z in device.zones.values()
                ],
            },
        )

    # --- paged logs -----------------------------------------------------------------------
    def read_log(
        self,
        log: str,
        id_field: str,
        mark: dict | None,
        when: Callable[[dict], datetime | None],
    ) -> LogRead:
        """The events to replay this poll: always a contiguous part of the log that begins at
        the window's floor, and the bookmark to store with them.

        - **First poll** (no bookmark): newest → oldest until a page is short or reaches
          ``initial_hours`` before the newest record (the vendor's clock, not ours, so a skewed
          clock cannot empty the window), at most ``max_pages`` pages. Hitting the cap only
          makes the first window shorter (``truncated``; reconciliation covers what began
          before it).
        - **Later polls**: the floor is the bookmark less the overlap, and the read always
          reaches it. When the events since the bookmark fit in ``max_pages`` pages, they are
          all read, newest first, as above. When they do not (the hub was down for a day on a
          busy account), the poll is *behind*: it reads only the OLDEST ``max_pages`` pages
          after the bookmark (found by :meth:`LogPager.locate`), and the bookmark moves to the
          newest instant of that chunk, up to which everything has been read. The next poll
          goes on from there; nothing is skipped, however far behind.
        - **Stalled**: a read that has not reached the floor after ``4 × max_pages + 4`` pages
          (records arrive faster than it pages, or the vendor ignores ``begin_offset``) is
          thrown away: no events, the bookmark unchanged.
        """
        size = max(1, min(5000, int(self.option("page_size"))))
        max_pages = max(1, int(self.option("max_pages")))
        pager = LogPager(self.api, log, id_field, when, size)
        mark_epoch = as_int(mark.get("epoch")) if mark else None
        mark_ids = {i for i in (mark or {}).get("ids", []) if isinstance(i, int)}
        behind = stalled = False
        if mark_epoch is None:
            hours = float(self.option("initial_hours"))
            got, reached = pager.scan(0, None, max_pages, initial_seconds=int(hours * 3600))
            truncated = not reached
        else:
            truncated = False
            floor = mark_epoch - int(self.option("overlap_seconds"))
            got, reached = pager.scan(0, floor, 1)
            if not reached:
                # More than a page since the bookmark: where is it? Start max_pages pages
                # newer than it: the read holds about max_pages pages of new events.
                room = max_pages * size
                start = max(0, pager.locate(mark_epoch, room) + 1 - room)
                # Normally max_pages pages and the overlap's; a read that has not reached the
                # floor after this many is going nowhere (records arrive faster than we page,
                # or the vendor ignores begin_offset).
                limit = 4 * max_pages + 4
                behind = start > 0  # then the newest page is not contiguous: dropped
                if behind:
                    got, reached = pager.scan(start, floor, limit)
                else:  # the bookmark is within max_pages pages: go on from the second page
                    more, reached = pager.scan(size, floor, limit - 1)
                    for record_id, found in more.items():
                        got.setdefault(record_id, found)
                if not reached:
                    stalled, got = True, {}
        old_ids = {
            record_id
            for record_id, (at, _) in got.items()
            if mark_epoch is not None
            and (
                epoch_of(at) < mark_epoch or (epoch_of(at) == mark_epoch and record_id in mark_ids)
            )
        }
        return LogRead(
            items=[got[i] for i in sorted(got, key=lambda i: (got[i][0], i))],
            new=len(got) - len(old_ids),
            old_ids=old_ids,
            pages=pager.pages,
            probes=pager.probes,
            truncated=truncated,
            behind=behind,
            stalled=stalled,
            malformed=pager.malformed,
            bookmark=self.next_mark(mark_epoch, mark_ids, got),
        )

    @staticmethod
    def next_mark(mark_epoch: int | None, mark_ids: set[int], got: dict) -> dict:
        """The newest instant seen and every id at it (an empty log marks epoch 0, so that
        the next poll reads whatever appears as new)."""
        if not got:
            return {"epoch": mark_epoch or 0, "ids": sorted(mark_ids)}
        top = max(epoch_of(at) for at, _ in got.values())
        if mark_epoch is not None and top < mark_epoch:
            return {"epoch": mark_epoch, "ids": sorted(mark_ids)}
        ids = {record_id for record_id, (at, _) in got.items() if epoch_of(at) == top}
        if top == mark_epoch:
            ids |= mark_ids
        return {"epoch": top, "ids": sorted(ids)}

    # --- reconciliation (first poll only) ---------------------------------------------------
    @staticmethod
    def key_filters(key: tuple) -> dict:
        """event_log filters for the start and end events of one episode key."""
        kind, device_id = key[0], key[1]
        if kind == ZONE:
            return {
                "device_ids": [device_id],
                "zone_ids": [key[2]],
                "event_types": ["alarm", "return_to_normal"],
            }
        if kind == OFFLINE:
            return {"device_ids": [device_id], "event_types": ["offline", "online"]}
        return {"device_ids": [device_id], "event_types": [kind]}  # power, battery

    @staticmethod
    def active_now(key: tuple, devices: dict[int, DeviceInfo]) -> bool | None:
        """Does the device read show this key in trouble now? None: it does not say."""
        device = devices.get(key[1])
        if device is None:
            return None
        if key[0] == ZONE:
            zone = device.zones.get(key[2])
            if zone is None or zone.alarm_status is None:
                return None
            return zone.alarm_status in mapping.ACTIVE_ZONE_STATES
        if key[0] == POWER:
            return device.power_off
        if key[0] == BATTERY:
            return device.battery_low
        return None if device.is_online is None else not device.is_online

    def reconcile(
        self, devices: dict[int, DeviceInfo], events: list[VendorEvent], tracker: Tracker
    ) -> list[VendorEvent]:
        """Events from before the first poll's window that the window needs. Only on the first
        poll: later polls read on from the bookmark without gaps, and the log is the whole
        truth. At most ``reconcile_max`` requests, in two parts:

        1. An episode the hub has open (the bookmark was reset) that the window says nothing
           about, while the device read shows that key back to normal: its end is older than
           the window. That key's own events are read back to the episode's start and all
           replayed, so it ends at the vendor's end time (and a later episode of the key gets
           its own incident). Only a read that reaches the start is used.
        2. What is active now but explained by neither the hub nor the window (it began before
           the window): the key's newest start or end event; a starting one joins the replay.
        """
        seen = window_keys(events)
        reader = ReconcileReader(self.api, tracker, int(self.option("reconcile_max")))
        found: list[VendorEvent] = []
        # 1. Open in the hub, back to normal in the vendor, nothing in the window.
        for key, since in self.stale_episodes(devices, tracker, seen):
            history = self.read_back(key, since, devices, reader)
            if history is not None:  # the key's whole history since the hub's episode began
                found.extend(history)
                seen.add(key)
            else:
                tracker.counts["reconcile_unfinished"] += 1
        # 2. Active now, unexplained.
        explained = seen | tracker.open_keys()
        for key in device_keys(devices):
            if key in explained or reader.budget <= 0 or not self.active_now(key, devices):
                continue
            found += self.newest_start(key, devices, reader)
        return found

    def stale_episodes(
        self, devices: dict[int, DeviceInfo], tracker: Tracker, seen: set[tuple]
    ) -> list[tuple[tuple, int]]:
        """Keys open in the hub, back to normal in the device read, absent from the window,
        with their earliest such episode start, oldest first (reconcile part 1)."""
        stale: dict[tuple, int] = {}
        for episode in tracker.episodes.values():
            if episode.in_hub and episode.end is None and episode.key not in seen:
                if self.active_now(episode.key, devices) is False:
                    stale[episode.key] = min(episode.start, stale.get(episode.key, episode.start))
        return sorted(stale.items(), key=lambda item: item[1])

    def read_back(
        self, key: tuple, since: int, devices: dict[int, DeviceInfo], reader: "ReconcileReader"
    ) -> list[VendorEvent] | None:
        """The key's events newest first back to ``since``, within what is left of the
        budget; None when the read did not reach ``since`` (refused or out of budget)."""
        size = 50
        history: list[VendorEvent] = []
        reached = False
        filters = self.key_filters(key)
        if key[0] == ZONE:
            filters["event_types"] = [*filters["event_types"], "acknowledged"]
        paginator = OffsetPaginator(
            0,
            size,
            stream="event_log (reconcile)",
            has_more=lambda page_reached: not page_reached,
            max_pages=max(1, reader.budget),
            cap="stop",
        )
        for begin in paginator:
            if reader.budget <= 0:
                break
            items = reader.read(filters, begin, size)
            if items is None:
                break
            reached = collect_since(items, devices, since, history) or len(items) < size
            paginator.advance(reached)
        return history if reached else None

    def newest_start(
        self, key: tuple, devices: dict[int, DeviceInfo], reader: "ReconcileReader"
    ) -> list[VendorEvent]:
        """The key's newest start-or-end event when it starts an episode (reconcile part 2),
        with its acknowledgement when the zone was acknowledged before the window too."""
        filters = self.key_filters(key)
        items = reader.read(filters, 0, 1)
        event = mapping.parse_event(items[0], devices) if items else None
        if event is None or not mapping.starts_episode(event, devices):
            return []
        zone = devices[key[1]].zones.get(key[2]) if key[0] == ZONE else None
        if zone is None or zone.alarm_status != ACKED_STATE or reader.budget <= 0:
            return [event]
        items = reader.read({**filters, "event_types": ["acknowledged"]}, 0, 1)
        ack = mapping.parse_event(items[0], devices) if items else None
        if ack is not None and ack.order >= event.order:
            return [event, ack]
        return [event]

    # --- drafts ---------------------------------------------------------------------------
    def drafts(
        self,
        tracker: Tracker,
        devices: dict[int, DeviceInfo],
        hub: HubView,
        *,
        horizon: datetime | None = None,
    ) -> tuple[list[IncidentDraft], int]:
        """One draft per episode this poll started, ended or read again.

        ``horizon``: the replay read the log only up to this instant (a poll that is behind).
        An episode still open at the horizon that the hub has already ended LATER than it
        was ended by events past the horizon, which an earlier poll read (the bookmark was
        set back): the hub knows more, so no draft reopens it. Readings are taken only for
        zones the device read shows in alarm now.
        """
        touched = [e for e in tracker.episodes.values() if e.touched]
        stored = hub.incidents(e.sid for e in touched)
        ended_later: set[str] = set()
        if horizon is not None:
            ended_later = {
                e.sid
                for e in touched
                if e.end is None
                and not e.in_hub
                and (prior := stored.get(e.sid)) is not None
                and prior.end_time is not None
                and not is_infinite(prior.end_time)
                and prior.end_time > horizon
            }
        drafts: list[IncidentDraft] = []
        need_readings: list[tuple[IncidentDraft, DeviceInfo, ZoneInfo]] = []
        for episode in touched:
            if episode.sid in ended_later:
                tracker.counts["ended_past_horizon"] += 1
                continue
            prior = stored.get(episode.sid)
            device = devices.get(episode.key[1])
            if episode.start_event is not None:
                description, level, tags, metadata = mapping.describe(episode, device)
            elif prior is not None:
                description, level, tags, metadata = prior.description, prior.level, [], {}
            else:  # open in the hub a moment ago, gone now: nothing to keep, nothing to end
                continue
            draft = IncidentDraft(
                start_time=datetime.fromtimestamp(episode.start, UTC),
                end_time=INFINITY if episode.end is None else episode.end,
                source_incident_id=episode.sid,
                description=description,
                level=level,
                metadata=metadata,
                tags=tags,
                details_url=mapping.details_url(episode.key, self.console_root),
            )
            if prior is not None:
                draft.metadata = prior.metadata
                draft.details_url = prior.details_url or draft.details_url
                draft.ticket_url = prior.ticket_url
            elif episode.end is None and episode.kind == ZONE and device is not None:
                zone = device.zones.get(episode.key[2])
                if zone is not None and (
                    horizon is None or zone.alarm_status in mapping.ACTIVE_ZONE_STATES
                ):
                    need_readings.append((draft, device, zone))
            drafts.append(draft)
        added = self.add_readings(need_readings)
        return drafts, added

    def add_readings(self, wanted: list[tuple[IncidentDraft, DeviceInfo, ZoneInfo]]) -> int:
        """The zone's last few data_log values, oldest first, in ``metadata["readings"]``:
        what the sensor showed as the alarm came in. One request for all zones (at most
        ``readings_max_zones``); a refused request leaves the incidents without readings."""
        count = int(self.option("readings"))
        wanted = wanted[: int(self.option("readings_max_zones"))]
        if count <= 0 or not wanted:
            return 0
        points = self.log_points_of(wanted)
        if not points:
            return 0
        try:
            records = self.api.history(
                "data_log",
                {
                    "log_points": sorted(points),
                    "begin_offset": 0,
                    "record_offset": min(5000, len(points) * count),
                },
            )
        except ClientError:
            return 0
        by_point: dict[int, list[dict]] = {}
        for record in records if isinstance(records, list) else []:
            point = as_int(record.get("variable")) if isinstance(record, dict) else None
            if point in points and len(by_point.setdefault(point, [])) < count:
                by_point[point].append(record)
        for point, found in by_point.items():
            draft, device = points[point]
            draft.metadata = {**draft.metadata, "readings": readings_of(found, device)}
        return len(by_point)

    def log_points_of(
        self, wanted: list[tuple[IncidentDraft, DeviceInfo, ZoneInfo]]
    ) -> dict[int, tuple[IncidentDraft, DeviceInfo]]:
        """Each wanted zone's data_log point, from the zone read or else the device's log
        points (one request per device; a refused one leaves its zones without readings)."""
        points: dict[int, tuple[IncidentDraft, DeviceInfo]] = {}
        extra_points: dict[int, dict[int, int]] = {}
        for draft, device, zone in wanted:
            point = zone.log_point
            if point is None:  # not in the zone read: ask the device's log points
                if device.device_id not in extra_points:
                    try:
                        extra_points[device.device_id] = self.api.log_points(device.device_id)
                    except ClientError:
                        extra_points[device.device_id] = {}
                point = extra_points[device.device_id].get(zone.zone_id)
            if point is not None:
                points[point] = (draft, device)
        return points

    # --- acknowledgements -----------------------------------------------------------------
    def acks(self, tracker: Tracker, hub: HubView) -> list[AckRecord]:
        """One AckRecord per vendor acknowledgement, on the episode it acknowledges: the one
        open at that moment, else the key's latest episode begun before it (the alarm had
        already returned to normal), looked up in the hub when this poll did not see it."""
        records = [AckRecord(sid, event.at, event.text) for sid, event in tracker.acks]
        if not tracker.pending_acks:
            return records
        prefixes = {mapping.key_prefix(p.key) for p in tracker.pending_acks}
        known: dict[tuple, list[int]] = {}
        for prefix in prefixes:
            for sid in hub.incident_ids(prefix):
                parsed = mapping.parse_sid(sid)
                if parsed is not None:
                    known.setdefault(parsed[0], []).append(parsed[1])
        for pending in tracker.pending_acks:
            starts = [s for s in known.get(pending.key, ()) if s <= pending.event.epoch]
            if starts:
                sid = mapping.episode_sid(pending.key, max(starts))
                records.append(AckRecord(sid, pending.event.at, pending.event.text))
            else:
                tracker.counts["acks_without_episode"] += 1
        return records

    # --- audit_log ------------------------------------------------------------------------
    def read_audit(
        self, mark: object, devices: dict[int, DeviceInfo]
    ) -> tuple[list[IncidentDraft], dict]:
        """Audit entries as informational stateless incidents, ``audit:<audit_id>``. Entries
        tied to no device are read in the account's zone, which is its first device's."""
        account_tz = next((d.timezone for d in devices.values() if d.timezone), "UTC")
        log = self.read_log(
            "audit_log",
            "audit_id",
            mark if isinstance(mark, dict) else None,
            lambda item: record_time(item, account_tz),
        )
        drafts = []
        for at, item in log.items:
            who, what = text(item.get("who")), text(item.get("what"))
            change = text(item.get("change")).lower()
            tags = [
                ("problem_type", "audit"),
                ("change", change),
                ("user", who),
                ("var_id", str(as_int(item.get("var_id")) or "")),
            ]
            drafts.append(
                IncidentDraft(
                    start_time=at,
                    end_time=None,
                    source_incident_id=f"audit:{as_int(item.get('audit_id'))}",
                    details_url=mapping.audit_details_url(
                        as_int(item.get("var_id")), devices, self.console_root
                    ),
                    description=f"{who or 'someone'}: {what or change or 'change'}"[:1000],
                    level=mapping.AUDIT_LEVEL,
                    metadata={
                        "audit_id": as_int(item.get("audit_id")),
                        "var_id": as_int(item.get("var_id")),
                        "user_id": as_int(item.get("user_id")),
                        "when": mapping.iso_utc(at),
                    },
                    tags=[(k, v) for k, v in tags if v],
                )
            )
        return drafts, log.bookmark


def window_keys(events: list[VendorEvent]) -> set[tuple]:
    """The episode keys the poll's window says something about."""
    seen: set[tuple] = set()
    for event in events:
        if event.device_id is None:
            continue
        if event.type in ("alarm", "return_to_normal") and event.zone_id is not None:
            seen.add((ZONE, event.device_id, event.zone_id))
        elif event.type in ("power", "battery"):
            seen.add((event.type, event.device_id))
        elif event.type in ("offline", "online"):
            seen.add((OFFLINE, event.device_id))
    return seen


def device_keys(devices: dict[int, DeviceInfo]) -> list[tuple]:
    """Every episode key the device read can show active: non-device zones, power, battery
    and offline per device."""
    wanted: list[tuple] = []
    for device in devices.values():
        d = device.device_id
        for zone in device.zones.values():
            if zone.type not in mapping.DEVICE_ZONE_TYPES:
                wanted.append((ZONE, d, zone.zone_id))
        wanted += [(POWER, d), (BATTERY, d), (OFFLINE, d)]
    return wanted


def collect_since(
    items: list[dict], devices: dict[int, DeviceInfo], since: int, history: list[VendorEvent]
) -> bool:
    """Append the page's events at or after ``since`` to ``history``; True when the page
    reaches back to ``since``."""
    reached = False
    for item in items:
        event = mapping.parse_event(item, devices)
        if event is not None and event.epoch >= since:
            history.append(event)
        reached = reached or (event is not None and event.epoch <= since)
    return reached


class ReconcileReader:
    """event_log reads for reconcile, each one spending the request budget. A refused read
    (the vendor does not take these filters) is counted and skipped, not raised."""

    def __init__(self, api: SensaphoneAPI, tracker: Tracker, budget: int) -> None:
        self.api = api
        self.tracker = tracker
        self.budget = budget

    def read(self, filters: dict, begin: int, size: int) -> list[dict] | None:
        self.budget -= 1
        try:
            return self.api.log_page("event_log", filters, begin, size)
        except ClientError:
            self.tracker.counts["reconcile_refused"] += 1
            return None


def readings_of(found: list[dict], device: DeviceInfo) -> list[dict]:
    """data_log records (newest first from the vendor) as readings, oldest first."""
    readings = []
    for record in reversed(found):
        at = record_time(record, device.timezone)
        number = as_float(record.get("value"))
        readings.append(
            {
                "value": number if number is not None else text(record.get("value")),
                "units": text(record.get("units")),
                "at": at.isoformat() if at else None,
                "alarm": as_bool(record.get("is_alarm")),
            }
        )
    return readings
