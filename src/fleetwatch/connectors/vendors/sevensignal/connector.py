"""7SIGNAL Mobile Eye: Wi-Fi experience incidents and the agents that report them.

Streams:
- ``incidents``: ``GET /incidents/agents`` over a window from the bookmark (less an overlap,
  so late updates are re-read) to the vendor's now. The vendor has no pagination here; the
  window is the bound (at most 30 days). One stateful incident per vendor incident id.
- ``agents``: ``GET /eyes/agents`` (page from 1) as device records, at most every
  ``agents_every`` seconds (default one hour).

The bookmark is the vendor's own ``range.to``, so the vendor's clock — not ours — decides
what "since the last poll" means.
"""

from datetime import datetime

from fleetwatch.connectors import console
from fleetwatch.connectors.auth import OAuth2ClientCredentials
from fleetwatch.connectors.base import DeviceRecord, HubView, PollResult, VendorConnector
from fleetwatch.connectors.http import ClientError, VendorError
from fleetwatch.connectors.options import Number, Text
from fleetwatch.connectors.pagination import PageNumberPaginator
from fleetwatch.connectors.vendors.sevensignal import mapping

DAY_MS = 86_400_000
MAX_WINDOW_MS = 29 * DAY_MS  # the vendor refuses more than 30 days; keep a day spare
MAX_AGENT_PAGES = 10_000  # a vendor that never ends the agent list is a bug


class SevenSignalConnector(VendorConnector):
    vendor = "7signal"
    rate_limit = (5, 1.0)  # the vendor's illustration: replenish 5/s (burst 15)
    option_specs = {
        # each poll re-reads this much before the last window's end, for late changes
        "overlap_minutes": Number(minimum=0, maximum=MAX_WINDOW_MS / 60_000, default=60),
        # seconds between reads of the agent (device) list
        "agents_every": Number(minimum=0, default=3600),
        # page size of /eyes/agents (the vendor's maximum)
        "agents_per_page": Number(minimum=1, maximum=250, integer=True, default=250),
        # the vendor console details_url links to; "": <base URL origin>/console (the emulator)
        console.OPTION: Text(default="", blank=True),
    }

    def authenticator(self, credentials: dict, cache: dict) -> OAuth2ClientCredentials:
        return OAuth2ClientCredentials(credentials, cache, token_path="/oauth2/token")

    def check(self) -> dict:
        _, body = self.http.request("GET", "/eyes", auth=self.auth)
        agents = body.get("agents") if isinstance(body, dict) else None
        if not isinstance(agents, dict):
            raise VendorError("7SIGNAL answered /eyes without its agents summary")
        return {
            "organization": agents.get("organizationName"),
            "devices": agents.get("deviceCount"),
        }

    def poll(self, bookmarks: dict, now: datetime, hub: HubView) -> PollResult:  # noqa: ARG002
        """Reads only the vendor: ends come from the vendor's ``endTimestamp``, so the hub's
        view is not needed here."""
        result = PollResult()
        incidents, window_to = self.read_incidents(bookmarks.get("incidents"))
        root = self.console_root
        result.incidents = [mapping.incident(record, root) for record in incidents]
        result.bookmarks["incidents"] = window_to
        result.notes["vendor_incidents"] = len(incidents)
        if self.agents_due(bookmarks.get("agents"), now):
            result.devices = self.read_agents()
            result.bookmarks["agents"] = now.isoformat()
        return result

    def agents_due(self, last: object, now: datetime) -> bool:
        """The agent list is read every ``agents_every`` seconds — and whenever its bookmark
        is missing, unreadable or in our future (the clock was set back)."""
        try:
            elapsed = (now - datetime.fromisoformat(str(last))).total_seconds()
        except (TypeError, ValueError):
            return True
        return elapsed < 0 or elapsed >= float(self.options["agents_every"])

    def read_incidents(self, bookmark: int | None) -> tuple[list[dict], int]:
        """Every incident overlapping (bookmark - overlap, vendor now]; the first poll takes
        the vendor's default window (its last 24 h).

        The vendor refuses (400) a window that starts in its future or more than 30 days
        back. Then its own now is read (the default window) and the start clamped: a bookmark
        in the vendor's future (its clock was set back, or it is a new vendor instance) takes
        that default window, its last 24 h; one older than 30 days takes the last 29.
        """
        if bookmark is None:
            body = self.fetch_incidents({})
            return body["results"], self.window_end(body)
        overlap_ms = int(float(self.options["overlap_minutes"]) * 60_000)
        start = int(bookmark) - overlap_ms
        try:
            body = self.fetch_incidents({"from": start})
        except ClientError as exc:
            if exc.status != 400:
                raise
            body = None
        if body is not None and self.window_end(body) >= start:
            return body["results"], self.window_end(body)
        # Refused, or answered with a window that ends before it starts (the vendor's now is
        # behind our bookmark): take the vendor's now from its default window, and clamp.
        latest = self.fetch_incidents({})
        vendor_now = self.window_end(latest)
        clamped = max(start, vendor_now - MAX_WINDOW_MS)
        if clamped >= vendor_now - DAY_MS:  # the default window already covers it
            if start > vendor_now:
                self.log.warning(
                    "7SIGNAL connector %s: bookmark %d is ahead of the vendor's clock (%d); "
                    "re-reading the vendor's last 24 h",
                    self.name,
                    bookmark,
                    vendor_now,
                )
            return latest["results"], vendor_now
        body = self.fetch_incidents({"from": clamped})
        return body["results"], self.window_end(body)

    @staticmethod
    def window_end(body: dict) -> int:
        try:
            return int(body["range"]["to"])
        except (TypeError, ValueError) as exc:
            raise VendorError("7SIGNAL answered /incidents/agents with a malformed range") from exc

    def fetch_incidents(self, params: dict) -> dict:
        _, body = self.http.request(
            "GET", "/incidents/agents", params={"order": "asc", **params}, auth=self.auth
        )
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise VendorError("7SIGNAL answered /incidents/agents without a results list")
        if not isinstance(body.get("range"), dict) or "to" not in body["range"]:
            raise VendorError("7SIGNAL answered /incidents/agents without its range")
        if not all(isinstance(r, dict) and r.get("id") for r in body["results"]):
            raise VendorError("7SIGNAL answered /incidents/agents with an incident without id")
        return body

    @property
    def console_root(self) -> str:
        """Where details_url points: the ``console_url`` option, else the emulator's console."""
        return console.console_url(self.options, self.http.base_url)

    def read_agents(self) -> list[DeviceRecord]:
        """``/eyes/agents`` page by page until ``pagination.pages``; a vendor that repeats a
        page (it ignores ``page``) or never ends fails the poll instead of looping."""
        devices: list[DeviceRecord] = []
        per_page = int(self.options["agents_per_page"])

        def more(body: dict) -> bool:
            try:
                pages = int(body["pagination"]["pages"] or 0)
            except (TypeError, ValueError):
                raise VendorError("7SIGNAL answered /eyes/agents with bad pagination") from None
            return paginator.current_value < pages

        def ids(body: dict) -> tuple | None:
            found = tuple(a.get("id") for a in body["results"] if isinstance(a, dict))
            return found or None

        paginator = PageNumberPaginator(
            stream="7SIGNAL /eyes/agents",
            has_more=more,
            fingerprint=ids,
            max_pages=MAX_AGENT_PAGES,
        )
        for page in paginator:
            _, body = self.http.request(
                "GET", "/eyes/agents", params={"page": page, "perPage": per_page}, auth=self.auth
            )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise VendorError("7SIGNAL answered /eyes/agents without a results list")
            pagination = body.get("pagination")
            if not isinstance(pagination, dict) or "pages" not in pagination:
                raise VendorError("7SIGNAL answered /eyes/agents without its pagination")
            devices.extend(
                mapping.agent_record(agent)
                for agent in body["results"]
                if isinstance(agent, dict) and agent.get("id")
            )
            paginator.advance(body)
        return devices
