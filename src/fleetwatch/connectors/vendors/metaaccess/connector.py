"""The MetaAccess connector: three streams over one OAuth token and a 10/min budget.

Streams (Singer vocabulary: each has a paginator and a bookmark):

- ``status_changed`` — ``POST /o/api/v3/devices/status_changed`` (verbose, limit 50), page
  numbers until a short page or 413. ``age`` is the time since the bookmark plus an overlap.
- ``devices`` — the full resync, ``POST /o/api/v3.6/devices`` with a cursor until
  ``next_token`` is null. Used instead of ``status_changed`` when there is no bookmark or it
  is older than the vendor's 24 h delta reaches: a complete list is the only way back.
- ``activities`` — ``POST /o/api/v3/activities`` (action blocked, limit 50), newest first,
  page numbers until a short page, a 413, or a page that reaches activities already seen.

``poll`` only reads (the vendor, and the hub's open incidents and known devices through the
``HubView`` so that ends need positive evidence and carry the stored fields); the engine
stores the result. Windows are measured on the vendor's clock (:class:`Clock`).
"""

import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from fleetwatch.connectors import console
from fleetwatch.connectors.auth import OAuth2ClientCredentials
from fleetwatch.connectors.base import HubView, PollResult, VendorConnector
from fleetwatch.connectors.http import VendorError
from fleetwatch.connectors.options import Number, Text
from fleetwatch.connectors.pagination import PageNumberPaginator, TokenPaginator
from fleetwatch.connectors.vendors.metaaccess import mapping
from fleetwatch.connectors.vendors.metaaccess.mapping import DEVICE_PREFIX, RESOLVED_STATUSES

TOKEN_PATH = "/o/oauth/token"
ACCOUNT_PATH = "/o/api/v2/account"
STATUS_CHANGED_PATH = "/o/api/v3/devices/status_changed"
DEVICES_PATH = "/o/api/v3.6/devices"
ACTIVITIES_PATH = "/o/api/v3/activities"

MAX_AGE = 86400  # status_changed reaches back at most 24 h
MAX_PAGE_SIZE = 50  # every list endpoint: limit in [1,50], else 406
MAX_ACTIVITY_HOURS = 720  # the largest `age` (hours) the activities endpoint accepts
MAX_PAGES = 10_000  # a vendor that never ends a listing is a bug, not a big account


def parse_bookmark(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class Clock:
    """The vendor's clock as this poll learns it from its first answer: the newest time the
    vendor reported (``last_seen`` of the devices listed: ``source`` "data"), else the
    answer's ``Date`` header ("date"). A lower bound of the vendor's now when the answer was
    made — safe as a bookmark, since a window from it can only read more.

    Windows are measured on this clock, not ours: at the demo's 10× speed, or with a vendor
    whose clock is off, the hub's "time since the last poll" says nothing about how far back
    the vendor counts ``age``. Two readings are compared only when they come from the same
    source (an emulator's ``Date`` is the real time, its data the simulated one)."""

    def __init__(self) -> None:
        self.now: datetime | None = None
        self.source: str | None = None

    def read(self, items: Iterable[dict], date: datetime | None) -> None:
        if self.source is not None:
            return  # only the first answer of the poll
        seen = [t for t in (mapping.parse_gmt(i.get("last_seen")) for i in items) if t]
        if seen:
            self.now, self.source = max(seen), "data"
        elif date is not None:
            self.now, self.source = date, "date"


class MetaAccessConnector(VendorConnector):
    """OPSWAT MetaAccess: non-compliant devices as stateful incidents, blocked access
    activities as stateless ones, and the device inventory."""

    vendor = "metaaccess"
    rate_limit = (10, 60.0)  # "Rate limited: YES, 10/min" on every endpoint page
    option_specs = {
        # seconds every window re-reads beyond the last poll, for late writes and clock skew
        "overlap": Number(minimum=0, maximum=MAX_AGE, default=120.0),
        # how far back the first poll reads blocked activities
        "activities_first_hours": Number(
            minimum=1, maximum=MAX_ACTIVITY_HOURS, integer=True, default=1
        ),
        "page_size": Number(minimum=1, maximum=MAX_PAGE_SIZE, integer=True, default=50),
        # the vendor console details_url links to; "": <base URL origin>/console (the emulator)
        console.OPTION: Text(default="", blank=True),
    }

    # --- configuration ------------------------------------------------------------------------
    @property
    def overlap(self) -> float:
        return float(self.options["overlap"])

    @property
    def console_root(self) -> str:
        """Where details_url points: the ``console_url`` option, else the emulator's console."""
        return console.console_url(self.options, self.http.base_url)

    @property
    def page_size(self) -> int:
        return int(self.options["page_size"])

    def authenticator(self, credentials: dict, cache: dict) -> OAuth2ClientCredentials:
        return OAuth2ClientCredentials(
            credentials, cache, token_path=TOKEN_PATH, placement="query", use_refresh_token=True
        )

    def check(self) -> dict:
        """``GET /o/api/v2/account``: one request that proves the token works."""
        _, body = self.http.request("GET", ACCOUNT_PATH, auth=self.auth)
        if not isinstance(body, dict):
            raise VendorError("the account endpoint answered without an object")
        return {
            "account": body.get("name"),
            "devices_used": body.get("devices_used"),
            "devices_uncompliant": body.get("devices_uncompliant"),
        }

    # --- the poll -----------------------------------------------------------------------------
    def poll(self, bookmarks: dict, now: datetime, hub: HubView) -> PollResult:
        last_poll = parse_bookmark(bookmarks.get("status_changed"))
        if last_poll is not None and (last_poll - now).total_seconds() > self.overlap:
            # The last poll lies in our future: the clock was set back, so how long ago it
            # really was is unknown. Only a full resync cannot miss anything.
            last_poll = None
        vendor_mark = parse_bookmark(bookmarks.get("vendor_clock")) if last_poll else None
        mark_from = bookmarks.get("vendor_clock_from") if vendor_mark else None
        since = max(0.0, (now - last_poll).total_seconds()) if last_poll else None
        full = since is None or since + self.overlap > MAX_AGE
        pages = {"status_changed": 0, "devices": 0, "activities": 0, "clock": 0}
        clock = Clock()
        widened = False

        if not full:
            age = math.ceil(since + self.overlap)
            monitored, deleted = self.read_status_changed(age, pages, clock)
            if clock.source != "data" and mark_from == "data":
                # Nothing changed within the window, so the answer told no vendor time (and
                # its Date header may be another clock than its data): read the devices that
                # changed most recently, one page, for how far the vendor's clock has run.
                clock = Clock()
                self.read_clock(pages, clock)
            elapsed = (
                self.vendor_elapsed(clock.now, vendor_mark) if clock.source == mark_from else None
            )
            if elapsed is not None and elapsed > age:
                # The vendor's clock ran further than ours since the last poll (a faster
                # clock, an outage measured in its time): the window did not reach back to
                # the last poll. Read again, wide enough (the overlap twice: its clock moves
                # on while we read) — or, past what status_changed reaches, the full list.
                # (Within the window, the overlap absorbs how far a reading lags its now.)
                widened = True
                needed = math.ceil(elapsed + 2 * self.overlap)
                full = needed > MAX_AGE
                if not full:
                    monitored, deleted = self.read_status_changed(needed, pages, Clock())
        if full:
            clock = Clock()
            listed = self.dedupe(self.read_device_list(pages, clock))
            monitored, deleted = listed, []
        activities = self.read_activities(
            since, bookmarks.get("activities"), clock.now if clock.source == "data" else None, pages
        )

        result = PollResult()
        ended = self.device_incidents(result, monitored, deleted, full, last_poll, now, hub)
        self.device_records(result, monitored, deleted, full, hub)
        result.incidents.extend(
            mapping.activity_incident(item, now, self.console_root)
            for item in self.dedupe_activities(activities)
        )
        if clock.now is not None:  # else the last reading stands (earlier: only safer)
            vendor_mark, mark_from = clock.now, clock.source
        result.bookmarks = {
            "status_changed": now.isoformat(),
            "vendor_clock": vendor_mark.isoformat() if vendor_mark else None,
            "vendor_clock_from": mark_from,
            "activities": self.activities_bookmark(activities, bookmarks, since, now),
            "full_sync": now.isoformat() if full else bookmarks.get("full_sync"),
        }
        result.notes = {
            "full_sync": full,
            "widened": widened,
            "pages": pages,
            "devices_seen": len(monitored) + len(deleted),
            "activities_seen": len(activities),
            "ended": ended,
        }
        return result

    def read_clock(self, pages: dict, clock: Clock) -> None:
        """One ``status_changed`` page over the whole day the vendor keeps: the newest
        ``last_seen`` among the devices that changed most recently is the vendor's now (a
        lower bound). With nothing changed in a day there is nothing to miss either."""
        status, body = self.http.request(
            "POST",
            STATUS_CHANGED_PATH,
            json={"age": MAX_AGE, "verbose": 1, "limit": self.page_size, "page": 1},
            auth=self.auth,
            accept=(413,),
        )
        pages["clock"] += 1
        if status == 413 or not isinstance(body, dict):
            return
        clock.read(self.records(body, "monitored_devices", required=False), None)

    @staticmethod
    def vendor_elapsed(vendor_now: datetime | None, vendor_mark: datetime | None) -> float | None:
        """Seconds since the last poll on the vendor's clock; None when a reading is missing."""
        if vendor_now is None or vendor_mark is None:
            return None
        return max(0.0, (vendor_now - vendor_mark).total_seconds())

    def device_incidents(
        self,
        result: PollResult,
        monitored: list[dict],
        deleted: list[dict],
        full: bool,
        last_poll: datetime | None,
        now: datetime,
        hub: HubView,
    ) -> int:
        """Open or refresh an incident per non-compliant device; end the hub's open ones that
        the vendor now reports compliant, exempted or deleted — or, after a complete list,
        leaves out. Returns how many end."""
        stored = hub.open_incidents(DEVICE_PREFIX)
        # A change reported now happened after the hub was last in sync (less the overlap).
        floor = last_poll - timedelta(seconds=self.overlap) if last_poll else None
        ends: dict[str, datetime] = {}
        for item in monitored:
            sid = DEVICE_PREFIX + mapping.text(item.get("device_id"))
            state = mapping.status(item)
            if state == "non-compliant":
                draft = mapping.device_incident(item, now, stored.get(sid), self.console_root)
                result.incidents.append(draft)
            elif state in RESOLVED_STATUSES and sid in stored:
                seen = mapping.parse_gmt(item.get("last_seen")) or now
                ends[sid] = min(max(seen, floor) if floor else seen, now)
            # any other status is no evidence either way: leave the incident as it is
        for item in deleted:
            sid = DEVICE_PREFIX + mapping.text(item.get("device_id"))
            if sid in stored:
                ends[sid] = now
        if full:
            listed = {DEVICE_PREFIX + mapping.text(item.get("device_id")) for item in monitored}
            for sid in stored.keys() - listed:
                ends[sid] = now  # absent from a complete list: deleted
        result.incidents.extend(
            mapping.end_incident(sid, stored[sid], end) for sid, end in ends.items()
        )
        return len(ends)

    def device_records(
        self,
        result: PollResult,
        monitored: list[dict],
        deleted: list[dict],
        full: bool,
        hub: HubView,
    ) -> None:
        result.devices = [mapping.device_record(item) for item in monitored]
        gone = {mapping.text(item.get("device_id")): item for item in deleted}
        if full:
            listed = {record.vendor_id for record in result.devices}
            for vendor_id in hub.device_ids() - listed:
                gone.setdefault(vendor_id, {"device_id": vendor_id})
        # Only devices the hub knows: one enrolled and deleted between two polls is no news.
        known = hub.devices(gone)
        result.devices.extend(
            mapping.deleted_record(item, known[vendor_id])
            for vendor_id, item in gone.items()
            if vendor_id in known
        )

    # --- streams ------------------------------------------------------------------------------
    def read_status_changed(
        self, age: int, pages: dict, clock: Clock
    ) -> tuple[list[dict], list[dict]]:
        """Every device whose latest change is within ``age`` seconds. The vendor pages both
        lists as one sequence, newest first; a change during paging pushes items down, so an
        item may come twice (the first, newest copy wins) but none is skipped. Pages run
        until a short page or a 413."""
        monitored: list[dict] = []
        deleted: list[dict] = []
        paginator = PageNumberPaginator(
            stream="status_changed",
            max_pages=MAX_PAGES,
            has_more=lambda got: got >= self.page_size,
        )
        for page in paginator:
            status, body = self.http.request(
                "POST",
                STATUS_CHANGED_PATH,
                json={
                    "age": min(age, MAX_AGE),
                    "verbose": 1,
                    "limit": self.page_size,
                    "page": page,
                },
                auth=self.auth,
                accept=(413,),
            )
            if status == 413:  # past the last page
                paginator.stop()
                break
            pages["status_changed"] += 1
            if not isinstance(body, dict):
                raise VendorError("status_changed answered without an object")
            # An answer with neither list (`{}`, `{"error": …}`) is not "nothing changed":
            # taking it so would move the bookmark past changes never read.
            if "monitored_devices" not in body and "deleted_devices" not in body:
                raise VendorError("status_changed answered without monitored_devices")
            got_monitored = self.records(body, "monitored_devices", required=False)
            got_deleted = self.records(body, "deleted_devices", required=False)
            clock.read(got_monitored, self.http.vendor_date())
            monitored.extend(got_monitored)
            deleted.extend(got_deleted)
            paginator.advance(len(got_monitored) + len(got_deleted))
        monitored = self.dedupe(monitored)
        seen = {mapping.text(item.get("device_id")) for item in monitored}
        deleted = [
            item for item in self.dedupe(deleted) if mapping.text(item.get("device_id")) not in seen
        ]
        return monitored, deleted

    def read_device_list(self, pages: dict, clock: Clock) -> Iterator[dict]:
        """The complete live device list through the v3.6 cursor, which stays stable while
        devices are deleted or enrolled (page numbers would shift)."""
        paginator = TokenPaginator(
            lambda body: body["next_token"], stream="the v3.6 device list", max_pages=MAX_PAGES
        )
        for token in paginator:
            body_in: dict = {"limit": self.page_size}
            if token:
                body_in["token"] = token
            _, body = self.http.request("POST", DEVICES_PATH, json=body_in, auth=self.auth)
            pages["devices"] += 1
            if not isinstance(body, dict):
                raise VendorError("the v3.6 device list answered without an object")
            # A complete list ends every open incident of a device it leaves out, so only a
            # page that says what it holds (`devices`, a list) and whether more follow
            # (`next_token`, null on the last page) counts: `{}` or `{"error": …}` is not an
            # empty account.
            items = self.records(body, "devices", required=True)
            if "next_token" not in body:
                raise VendorError("the v3.6 device list answered without next_token")
            clock.read(items, self.http.vendor_date())
            yield from items
            paginator.advance(body)

    def activity_hours(self, since: float | None, vendor_window: float | None = None) -> int:
        """The activities window in whole hours (the API's unit): the time since the last
        poll plus the overlap, rounded up — on our clock or, when longer, on the vendor's
        (``vendor_window`` seconds); on a first poll ``activities_first_hours``."""
        if since is None:
            hours = int(self.options["activities_first_hours"])
        else:
            seconds = max(since + self.overlap, vendor_window or 0.0)
            hours = math.ceil(seconds / 3600)
        return min(MAX_ACTIVITY_HOURS, max(1, hours))

    def read_activities(
        self,
        since: float | None,
        bookmark: object,
        vendor_now: datetime | None,
        pages: dict,
    ) -> list[dict]:
        """Blocked activities, newest first. The window is hours wide, so paging stops at the
        first page that reaches the newest activity already seen (less the overlap). The
        window reaches back to that activity on the vendor's clock too (the newest one is a
        vendor time), so a vendor clock running ahead of ours cannot leave a gap."""
        newest_seen = parse_bookmark(bookmark)
        cutoff = newest_seen - timedelta(seconds=self.overlap) if newest_seen else None
        vendor_window = None
        if vendor_now is not None and cutoff is not None:
            vendor_window = (vendor_now - cutoff).total_seconds()
        hours = self.activity_hours(since, vendor_window)
        # A window widened on the vendor's clock may reach back past what earlier polls
        # read: keep only what is not older than the cutoff (older was seen, or predates the
        # first poll's window and is history, not news).
        widened = vendor_window is not None and since is not None
        widened = widened and vendor_window > since + self.overlap
        found: list[dict] = []

        def more(items: list[dict]) -> bool:
            if len(items) < self.page_size:
                return False
            times = [mapping.parse_activity_time(i.get("timestamp")) for i in items]
            oldest = min((t for t in times if t is not None), default=None)
            return cutoff is None or oldest is None or oldest >= cutoff

        paginator = PageNumberPaginator(stream="activities", max_pages=MAX_PAGES, has_more=more)
        for page in paginator:
            status, body = self.http.request(
                "POST",
                ACTIVITIES_PATH,
                json={"action": ["blocked"], "age": hours, "limit": self.page_size, "page": page},
                auth=self.auth,
                accept=(413,),
            )
            if status == 413:
                paginator.stop()
                break
            pages["activities"] += 1
            if not isinstance(body, list):
                raise VendorError("activities answered without a list")
            items = [i for i in body if isinstance(i, dict)]
            # Only what was asked for (a missing action is taken to be the one asked for).
            found.extend(
                i
                for i in items
                if mapping.text(i.get("action")) in ("", "blocked")
                and not (widened and self.older_than(i, cutoff))
            )
            paginator.advance(items if len(body) >= self.page_size else [])
        return found

    @staticmethod
    def older_than(item: dict, cutoff: datetime | None) -> bool:
        when = mapping.parse_activity_time(item.get("timestamp"))
        return cutoff is not None and when is not None and when < cutoff

    def activities_bookmark(
        self, activities: list[dict], bookmarks: dict, since: float | None, now: datetime
    ) -> str:
        """The newest activity time ever seen (the vendor's clock, like the activities); with
        none yet, the start of the window just read — early, so it never hides one."""
        times = [mapping.parse_activity_time(a.get("timestamp")) for a in activities]
        previous = parse_bookmark(bookmarks.get("activities"))
        newest = max([t for t in [*times, previous] if t is not None], default=None)
        if newest is None:
            newest = now - timedelta(hours=self.activity_hours(since))
        return newest.isoformat()

    # --- helpers ------------------------------------------------------------------------------
    @staticmethod
    def records(body: dict, key: str, *, required: bool) -> list[dict]:
        """The device items under ``key``. A missing key is an empty list only where that is
        harmless (``required=False``); otherwise, like a key that is not a list, it fails the
        poll as a malformed answer."""
        items = body.get(key)
        if items is None and not required:
            return []
        if not isinstance(items, list):
            raise VendorError(f"MetaAccess answered without a {key} list")
        return [i for i in items if isinstance(i, dict) and mapping.text(i.get("device_id"))]

    @staticmethod
    def dedupe(items: Iterable[dict]) -> list[dict]:
        """One record per device, the first (newest) kept."""
        seen: dict[str, dict] = {}
        for item in items:
            seen.setdefault(mapping.text(item.get("device_id")), item)
        return list(seen.values())

    @staticmethod
    def dedupe_activities(items: list[dict]) -> list[dict]:
        unique: dict[str, dict] = {}
        for item in items:
            unique.setdefault(mapping.activity_key(item), item)
        return list(unique.values())
