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

import logging
from datetime import UTC, datetime

from fleetwatch.connectors import console
from fleetwatch.connectors.auth import OAuth2ClientCredentials
from fleetwatch.connectors.base import DeviceRecord, PollResult, VendorConnector
from fleetwatch.connectors.http import ClientError, VendorError
from fleetwatch.connectors.options import Number, Text
from fleetwatch.incidents.ingest import IncidentDraft
from fleetwatch.incidents.models import INFINITY

log = logging.getLogger("fleetwatch.connectors")

DAY_MS = 86_400_000
MAX_WINDOW_MS = 29 * DAY_MS  # the vendor refuses more than 30 days; keep a day spare


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def from_ms(value: int | float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def band_label(band) -> str:
    try:
        return f"{float(band):g} GHz"
    except (TypeError, ValueError):
        return str(band or "?")


def level_for(count: float, population: float, thresholds: dict) -> int:
    """Share of agents impacted against the vendor's ``minPercentImpacted`` (default 10 %):
    5× the minimum or more is High (2), 2× Moderate (3), otherwise Low (4)."""
    if not population:
        return 4
    share = 100.0 * float(count or 0) / float(population)
    minimum = float(thresholds.get("minPercentImpacted") or 10)
    if share >= 5 * minimum:
        return 2
    if share >= 2 * minimum:
        return 3
    return 4


def iso_utc(value: object) -> str | None:
    """A vendor time as an ISO 8601 timestamp in UTC (``…+00:00``) for metadata; None when
    absent or unreadable (never the vendor's own string)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_ts(value)
    except ValueError:
        return None
    return parsed.isoformat() if parsed else None


def details_url(record: dict, console_root: str) -> str:
    """The vendor console page of the incident: ``<console_url>/incidents/<id>``."""
    return console.link(console_root, "incidents", record["id"])


def is_open(record: dict) -> bool:
    """Open until the vendor reports an ``endTimestamp`` (its FAQ: a missing or empty one means
    "not reported" yet). ``asOfTimestamp`` keeps moving after the end and says nothing more."""
    return not record.get("endTimestamp")


class SevenSignalConnector(VendorConnector):
    vendor = "7signal"
    rate_limit = (5, 1.0)  # the vendor's illustration: replenish 5/s (burst 15)
    option_specs = {
        "overlap_minutes": Number(minimum=0, maximum=MAX_WINDOW_MS / 60_000),
        "agents_every": Number(minimum=0),
        "agents_per_page": Number(minimum=1, maximum=250, integer=True),
        console.OPTION: Text(),
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

    def poll(self, bookmarks: dict, now: datetime) -> PollResult:
        result = PollResult()
        incidents, window_to = self.read_incidents(bookmarks.get("incidents"))
        result.incidents = [self.draft(record) for record in incidents]
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
        return elapsed < 0 or elapsed >= float(self.options.get("agents_every", 3600))

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
        overlap_ms = int(float(self.options.get("overlap_minutes", 60)) * 60_000)
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
                log.warning(
                    "7SIGNAL connector %s: bookmark %d is ahead of the vendor's clock (%d); "
                    "re-reading the vendor's last 24 h",
                    self.connector.name,
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
        return console.console_url(self.options, self.connector.base_url)

    def draft(self, record: dict) -> IncidentDraft:
        thresholds = record.get("thresholds") or {}
        count, population = record.get("countImpacted") or 0, record.get("populationCount") or 0
        network, kind = record.get("network") or "?", record.get("type") or "UNKNOWN"
        location = record.get("locationName") or record.get("location") or "?"
        end = None if is_open(record) else parse_ts(record.get("endTimestamp"))
        organisation = record.get("organizationName") or ""
        tags = [
            ("type", kind),
            ("network", network),
            ("band", band_label(record.get("band"))),
            ("location", location),
            ("location_id", record.get("location") or ""),
            ("organisation", organisation),
        ]
        return IncidentDraft(
            start_time=parse_ts(record["startTimestamp"]),
            end_time=INFINITY if end is None else end,
            source_incident_id=str(record["id"]),
            details_url=details_url(record, self.console_root),
            description=(
                f"{kind} on {network} ({band_label(record.get('band'))}) at {location}: "
                f"{count:g} of {population:g} agents impacted"
            ),
            level=level_for(count, population, thresholds),
            metadata={
                "countImpacted": count,
                "populationCount": population,
                "thresholds": thresholds,
                "determined": iso_utc(record.get("timestampDeterminedToBeIncident")),
            },
            tags=[(k, v) for k, v in tags if v],
        )

    def read_agents(self) -> list[DeviceRecord]:
        devices, page = [], 1
        per_page = int(self.options.get("agents_per_page", 250))
        while True:
            _, body = self.http.request(
                "GET", "/eyes/agents", params={"page": page, "perPage": per_page}, auth=self.auth
            )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise VendorError("7SIGNAL answered /eyes/agents without a results list")
            pagination = body.get("pagination")
            if not isinstance(pagination, dict) or "pages" not in pagination:
                raise VendorError("7SIGNAL answered /eyes/agents without its pagination")
            for agent in body["results"]:
                if not isinstance(agent, dict) or not agent.get("id"):
                    continue
                devices.append(
                    DeviceRecord(
                        vendor_id=agent["id"],
                        name=agent.get("name") or "",
                        mac=agent.get("mac") or "",
                        ip=agent.get("localIpAddress") or "",
                        os=" ".join(p for p in (agent.get("platform"), agent.get("version")) if p),
                        last_seen=from_ms(agent.get("lastSeen")),
                        data={
                            k: agent.get(k)
                            for k in (
                                "manufacturer",
                                "model",
                                "lastSsid",
                                "lastDefinedLocation",
                                "isLicensed",
                            )
                        },
                    )
                )
            try:
                pages = int(pagination["pages"] or 0)
            except (TypeError, ValueError):
                raise VendorError("7SIGNAL answered /eyes/agents with bad pagination") from None
            if page >= pages:
                return devices
            page += 1
