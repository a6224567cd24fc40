"""7SIGNAL records → Fleetwatch incidents and device records (pure functions, no I/O).

Every rule here is listed, with its reason, in docs/connectors/7signal.md.
"""

from datetime import UTC, datetime

from fleetwatch.connectors import console
from fleetwatch.connectors.base import INFINITY, DeviceRecord, IncidentDraft


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


def incident(record: dict, console_root: str) -> IncidentDraft:
    """One stateful incident per vendor incident id, linked to its page in the vendor console
    (``console_root``: the connector's ``console_url``, see ``connectors/console.py``)."""
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
        details_url=details_url(record, console_root),
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


def agent_record(agent: dict) -> DeviceRecord:
    """An ``/eyes/agents`` item as a device record."""
    return DeviceRecord(
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
