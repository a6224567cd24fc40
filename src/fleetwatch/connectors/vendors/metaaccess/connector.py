"""The MetaAccess connector: three streams over one OAuth token and a 10/min budget.

Streams (Singer vocabulary: each has a paginator and a bookmark):

- ``status_changed`` — ``POST /o/api/v3/devices/status_changed`` (verbose, limit 50), page
  numbers until a short page or 413. ``age`` is the time since the bookmark plus an overlap.
- ``devices`` — the full resync, ``POST /o/api/v3.6/devices`` with a cursor until
  ``next_token`` is null. Used instead of ``status_changed`` when there is no bookmark or it
  is older than the vendor's 24 h delta reaches: a complete list is the only way back.
- ``activities`` — ``POST /o/api/v3/activities`` (action blocked, limit 50), newest first,
  page numbers until a short page, a 413, or a page that reaches activities already seen.

``poll`` only reads (the vendor, and the hub's open incidents and known devices so that ends
need positive evidence and carry the stored fields); the engine stores the result.
"""

import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from fleetwatch.connectors import console
from fleetwatch.connectors.auth import OAuth2ClientCredentials
from fleetwatch.connectors.base import DeviceRecord, PollResult, StoredIncident, VendorConnector
from fleetwatch.connectors.http import VendorError
from fleetwatch.connectors.models import VendorDevice
from fleetwatch.connectors.options import Number, Text
from fleetwatch.connectors.vendors.metaaccess import mapping
from fleetwatch.connectors.vendors.metaaccess.mapping import DEVICE_PREFIX, RESOLVED_STATUSES

TOKEN_PATH = "/o/oauth/token"
ACCOUNT_PATH = "/o/api/v2/account"
STATUS_CHANGED_PATH = "/o/api/v3/devices/status_changed"
DEVICES_PATH = "/o/api/v3.6/devices"
ACTIVITIES_PATH = "/o/api/v3/activities"

MAX_AGE = 86400  # status_changed reaches back at most 24 h
MAX_PAGE_SIZE = 50  # every list endpoint: limit in [1,50], else 406
DEFAULT_OVERLAP = 120.0  # seconds re-read on every window, for late writes and clock skew
DEFAULT_ACTIVITY_FIRST_HOURS = 1
MAX_ACTIVITY_HOURS = 720  # the largest `age` (hours) the activities endpoint accepts
MAX_PAGES = 10_000  # a vendor that never ends a listing is a bug, not a big account


def parse_bookmark(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class MetaAccessConnector(VendorConnector):
    """OPSWAT MetaAccess: non-compliant devices as stateful incidents, blocked access
    activities as stateless ones, and the device inventory."""

    vendor = "metaaccess"
    rate_limit = (10, 60.0)  # "Rate limited: YES, 10/min" on every endpoint page
    option_specs = {
        "overlap": Number(minimum=0, maximum=MAX_AGE),
        "activities_first_hours": Number(minimum=1, maximum=MAX_ACTIVITY_HOURS, integer=True),
        "page_size": Number(minimum=1, maximum=MAX_PAGE_SIZE, integer=True),
        console.OPTION: Text(),
    }

    # --- configuration ------------------------------------------------------------------------
    @property
    def overlap(self) -> float:
        return max(0.0, float(self.options.get("overlap", DEFAULT_OVERLAP)))

    @property
    def console_root(self) -> str:
        """Where details_url points: the ``console_url`` option, else the emulator's console."""
        return console.console_url(self.options, self.connector.base_url)

    @property
    def page_size(self) -> int:
        return min(MAX_PAGE_SIZE, max(1, int(self.options.get("page_size", MAX_PAGE_SIZE))))

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
    def poll(self, bookmarks: dict, now: datetime) -> PollResult:
        last_poll = parse_bookmark(bookmarks.get("status_changed"))
        if last_poll is not None and (last_poll - now).total_seconds() > self.overlap:
            # The last poll lies in our future: the clock was set back, so how long ago it
            # really was is unknown. Only a full resync cannot miss anything.
            last_poll = None
        since = max(0.0, (now - last_poll).total_seconds()) if last_poll else None
        full = since is None or since + self.overlap > MAX_AGE
        pages = {"status_changed": 0, "devices": 0, "activities": 0}

        if full:
            listed = self.dedupe(self.read_device_list(pages))
            monitored, deleted = listed, []
        else:
            monitored, deleted = self.read_status_changed(math.ceil(since + self.overlap), pages)
        activities = self.read_activities(since, bookmarks.get("activities"), now, pages)

        result = PollResult()
        ended = self.device_incidents(result, monitored, deleted, full, last_poll, now)
        self.device_records(result, monitored, deleted, full)
        result.incidents.extend(
            mapping.activity_incident(item, now, self.console_root)
            for item in self.dedupe_activities(activities)
        )
        result.bookmarks = {
            "status_changed": now.isoformat(),
            "activities": self.activities_bookmark(activities, bookmarks, since, now),
            "full_sync": now.isoformat() if full else bookmarks.get("full_sync"),
        }
        result.notes = {
            "full_sync": full,
            "pages": pages,
            "devices_seen": len(monitored) + len(deleted),
            "activities_seen": len(activities),
            "ended": ended,
        }
        return result

    def device_incidents(
        self,
        result: PollResult,
        monitored: list[dict],
        deleted: list[dict],
        full: bool,
        last_poll: datetime | None,
        now: datetime,
    ) -> int:
        """Open or refresh an incident per non-compliant device; end the hub's open ones that
        the vendor now reports compliant, exempted or deleted — or, after a complete list,
        leaves out. Returns how many end."""
        stored = self.open_device_incidents()
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
        self, result: PollResult, monitored: list[dict], deleted: list[dict], full: bool
    ) -> None:
        result.devices = [mapping.device_record(item) for item in monitored]
        gone = {mapping.text(item.get("device_id")): item for item in deleted}
        if full:
            listed = {record.vendor_id for record in result.devices}
            for vendor_id in self.known_device_ids() - listed:
                gone.setdefault(vendor_id, {"device_id": vendor_id})
        # Only devices the hub knows: one enrolled and deleted between two polls is no news.
        known = self.known_devices(gone)
        result.devices.extend(
            mapping.deleted_record(item, known[vendor_id])
            for vendor_id, item in gone.items()
            if vendor_id in known
        )

    # --- streams ------------------------------------------------------------------------------
    def read_status_changed(self, age: int, pages: dict) -> tuple[list[dict], list[dict]]:
        """Every device whose latest change is within ``age`` seconds. The vendor pages both
        lists as one sequence, newest first; a change during paging pushes items down, so an
        item may come twice (the first, newest copy wins) but none is skipped."""
        monitored: list[dict] = []
        deleted: list[dict] = []
        page = 1
        while True:
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
            monitored.extend(got_monitored)
            deleted.extend(got_deleted)
            if len(got_monitored) + len(got_deleted) < self.page_size:
                break
            page = self.next_page(page, "status_changed")
        monitored = self.dedupe(monitored)
        seen = {mapping.text(item.get("device_id")) for item in monitored}
        deleted = [
            item for item in self.dedupe(deleted) if mapping.text(item.get("device_id")) not in seen
        ]
        return monitored, deleted

    def read_device_list(self, pages: dict) -> Iterator[dict]:
        """The complete live device list through the v3.6 cursor, which stays stable while
        devices are deleted or enrolled (page numbers would shift)."""
        token: str | None = None
        used: set[str] = set()
        while True:
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
            yield from items
            token = body["next_token"]
            if not token:
                return
            if not isinstance(token, str) or token in used or len(used) >= MAX_PAGES:
                raise VendorError("the v3.6 device list repeated or garbled its cursor")
            used.add(token)

    def activity_hours(self, since: float | None) -> int:
        """The activities window in whole hours (the API's unit): the time since the last
        poll plus the overlap, rounded up; on a first poll ``activities_first_hours``."""
        if since is None:
            hours = int(self.options.get("activities_first_hours", DEFAULT_ACTIVITY_FIRST_HOURS))
        else:
            hours = math.ceil((since + self.overlap) / 3600)
        return min(MAX_ACTIVITY_HOURS, max(1, hours))

    def read_activities(
        self, since: float | None, bookmark: object, now: datetime, pages: dict
    ) -> list[dict]:
        """Blocked activities, newest first. The window is hours wide, so paging stops at the
        first page that reaches the newest activity already seen (less the overlap)."""
        newest_seen = parse_bookmark(bookmark)
        cutoff = newest_seen - timedelta(seconds=self.overlap) if newest_seen else None
        hours = self.activity_hours(since)
        found: list[dict] = []
        page = 1
        while True:
            status, body = self.http.request(
                "POST",
                ACTIVITIES_PATH,
                json={"action": ["blocked"], "age": hours, "limit": self.page_size, "page": page},
                auth=self.auth,
                accept=(413,),
            )
            if status == 413:
                break
            pages["activities"] += 1
            if not isinstance(body, list):
                raise VendorError("activities answered without a list")
            items = [i for i in body if isinstance(i, dict)]
            # Only what was asked for (a missing action is taken to be the one asked for).
            found.extend(i for i in items if mapping.text(i.get("action")) in ("", "blocked"))
            if len(body) < self.page_size:
                break
            times = [mapping.parse_activity_time(i.get("timestamp")) for i in items]
            oldest = min((t for t in times if t is not None), default=None)
            if cutoff is not None and oldest is not None and oldest < cutoff:
                break
            page = self.next_page(page, "activities")
        return found

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
    def next_page(page: int, stream: str) -> int:
        if page >= MAX_PAGES:
            raise VendorError(f"{stream} kept paging past page {MAX_PAGES}")
        return page + 1

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

    def open_device_incidents(self) -> dict[str, StoredIncident]:
        """This connector's open device incidents and the fields an end must keep."""
        return self.stored_incidents(prefix=DEVICE_PREFIX, open_only=True)

    def known_device_ids(self) -> set[str]:
        return set(
            VendorDevice.objects.filter(connector=self.connector, deleted=False).values_list(
                "vendor_id", flat=True
            )
        )

    def known_devices(self, vendor_ids: Iterable[str]) -> dict[str, DeviceRecord]:
        """What the hub stored about these devices, so a deletion keeps their details."""
        ids = sorted(vendor_ids)
        found: dict[str, DeviceRecord] = {}
        for start in range(0, len(ids), 500):  # bounded IN lists
            chunk = ids[start : start + 500]
            for d in VendorDevice.objects.filter(connector=self.connector, vendor_id__in=chunk):
                found[d.vendor_id] = DeviceRecord(
                    vendor_id=d.vendor_id,
                    name=d.name,
                    mac=d.mac,
                    ip=d.ip,
                    os=d.os,
                    last_seen=d.last_seen,
                    data=d.data,
                    deleted=d.deleted,
                )
        return found
