"""MetaAccess records → Fleetwatch incidents and device records (pure functions, no I/O).

Every rule here is listed, with its reason, in docs/connectors/metaaccess.md.
"""

import hashlib
import re
from datetime import UTC, datetime

from fleetwatch.connectors import console
from fleetwatch.connectors.base import INFINITY, DeviceRecord, IncidentDraft, StoredIncident

DEVICE_PREFIX = "device:"
ACTIVITY_PREFIX = "activity:"
#: Argus levels: 2 High, 3 Moderate, 4 Low.
LEVELS = {"critical": 2, "warning": 3}
DEFAULT_LEVEL = 4
ACTIVITY_LEVEL = 4
#: Statuses that are positive evidence a device no longer needs an open incident.
RESOLVED_STATUSES = {"compliant", "exempted"}
PRIVATE = "<private>"  # what the vendor sends for fields withheld for privacy
#: How many issues a description names (critical first); the rest are counted.
TOP_ISSUES = 3

MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_ACTIVITY_TIME = re.compile(
    r"^\s*([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{1,2}),\s*(\d{4}),?\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])\s*$"
)


# --- field helpers ----------------------------------------------------------------------------


def text(value: object) -> str:
    """A clean string, or "" for missing, non-string or privacy-withheld values."""
    if value is None or isinstance(value, dict | list):
        return ""
    value = str(value).strip()
    return "" if value == PRIVATE else value


def parse_gmt(value: object) -> datetime | None:
    """The vendor's GMT timestamps (``2017-10-16T03:11:09Z``); None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_activity_time(value: object) -> datetime | None:
    """``May 18, 2018 10:40:00 AM`` (UTC) without depending on the process locale."""
    match = _ACTIVITY_TIME.match(value) if isinstance(value, str) else None
    if not match:
        return None
    month_name, day, year, hour, minute, second, half = match.groups()
    month = MONTHS.get(month_name.lower())
    hour = int(hour)
    if month is None or not 1 <= hour <= 12:
        return None
    hour = hour % 12 + (12 if half.upper() == "PM" else 0)
    try:
        return datetime(int(year), month, int(day), hour, int(minute), int(second or 0), tzinfo=UTC)
    except ValueError:
        return None


def device_name(item: dict) -> str:
    """Hostname (``device_name`` in status_changed, ``host_name`` in the v3.6 list), else the
    admin's nickname, else the hardware id: a name is never empty or ``<private>``."""
    return (
        text(item.get("device_name"))
        or text(item.get("host_name"))
        or text(item.get("hostname"))
        or text(item.get("nick_name"))
        or text(item.get("device_id"))
    )


def issues(item: dict) -> dict:
    """Issue counters, accepting both spellings the vendor uses (``total_issue`` in its
    examples, ``total_issues`` in its field table)."""
    raw = item.get("issue") if isinstance(item.get("issue"), dict) else {}

    def count(name: str) -> int:
        value = raw.get(name, raw.get(name + "s"))
        try:
            return max(0, int(value))
        except (TypeError, ValueError):
            return 0

    critical, warning = count("total_critical_issue"), count("total_warning_issue")
    total = max(count("total_issue"), critical + warning)
    return {"total": total, "critical": critical, "warning": warning}


def severity(item: dict) -> str:
    """The vendor's severity, or one derived from the issue counters when it is missing."""
    value = text(item.get("severity")).lower()
    if value:
        return value
    counts = issues(item)
    if counts["critical"]:
        return "critical"
    return "warning" if counts["warning"] else "no_issues"


def issue_names(item: dict) -> list[str] | None:
    """The device's issues, critical first, from ``categories[]`` (status_changed, verbose):
    ``"Real-time protection is turned off (Antivirus)"``. None when the record carries no
    ``categories`` (the v3.6 list, or verbose 0): the issues are then unknown, not absent."""
    raw = item.get("categories")
    if not isinstance(raw, list):
        return None
    ranked = []
    for position, category in enumerate(raw):
        if not isinstance(category, dict):
            continue
        issue = category.get("issue")
        if isinstance(issue, dict):  # the vendor's shape is undocumented: take a description
            issue = issue.get("description") or issue.get("name")
        words, name = text(issue), text(category.get("name"))
        if not words and not name:
            continue
        label = f"{words} ({name})" if words and name else words or name
        rank = 0 if text(category.get("severity")).lower() == "critical" else 1
        ranked.append((rank, position, label))
    return [label for _, _, label in sorted(ranked)]


def issues_text(counts: dict, names: list[str]) -> str:
    """``2 critical, 2 warning issues: A (Antivirus), B (Firewall), C (Backup) and 1 more``."""
    summary = f"{counts['critical']} critical, {counts['warning']} warning issues"
    if not names:
        return summary
    shown = ", ".join(names[:TOP_ISSUES])
    more = len(names) - TOP_ISSUES
    return f"{summary}: {shown}" + (f" and {more} more" if more > 0 else "")


def iso_utc(when: datetime | None) -> str | None:
    """A vendor time for metadata: ISO 8601 in UTC, never the vendor's display string."""
    return when.astimezone(UTC).isoformat() if when else None


def device_url(item: dict, console_root: str) -> str:
    """The device's page in the vendor console: ``<console_url>/devices/<device_id>``."""
    return console.link(console_root, "devices", text(item.get("device_id")))


def level_for(item: dict) -> int:
    return LEVELS.get(severity(item), DEFAULT_LEVEL)


def status(item: dict) -> str:
    return text(item.get("status")).lower()


def os_info(item: dict) -> dict:
    return item.get("os_info") if isinstance(item.get("os_info"), dict) else {}


def first_adapter(item: dict) -> dict:
    """The first network adapter that carries a MAC (else the first one, else nothing)."""
    adapters = [a for a in item.get("network_info") or [] if isinstance(a, dict)]
    for adapter in adapters:
        if text(adapter.get("mac")) or text(adapter.get("mac_addr")):
            return adapter
    return adapters[0] if adapters else {}


def all_macs(item: dict) -> list[str]:
    """Every adapter's MAC, in the vendor's order, once each: a docked laptop has a wired and
    a wireless one, and another vendor may know the machine by either."""
    found: list[str] = []
    for adapter in item.get("network_info") or []:
        if isinstance(adapter, dict):
            mac = text(adapter.get("mac")) or text(adapter.get("mac_addr"))
            if mac and mac.upper() not in (m.upper() for m in found):
                found.append(mac)
    return found


# --- incidents --------------------------------------------------------------------------------


def device_incident(
    item: dict, now: datetime, stored: StoredIncident | None = None, console_root: str = ""
) -> IncidentDraft:
    """A non-compliant device as an open, stateful incident ``device:<device_id>``.

    Its description names the top issues when the record lists them; a record that does not
    (the v3.6 list) keeps the names stored for the same counts, so a full resync does not
    rewrite the description. ``details_url`` is the device's console page (``console_root``);
    without one, the vendor's ``remediation_link``."""
    counts = issues(item)
    name = device_name(item)
    seen = parse_gmt(item.get("last_seen"))
    info = os_info(item)
    names = issue_names(item)
    if names is None:
        prior = stored.metadata if stored and isinstance(stored.metadata, dict) else {}
        kept = prior.get("issue_names")
        names = kept if prior.get("issues") == counts and isinstance(kept, list) else []
    tags = [
        ("device", name),
        ("device_id", text(item.get("device_id"))),
        ("group", text(item.get("group_name"))),
        ("os", text(info.get("family"))),
        ("status", status(item)),
    ]
    remediation = text(item.get("remediation_link"))
    if console_root:
        link = device_url(item, console_root)
    else:
        link = remediation or (stored.details_url if stored else "")
    metadata = {"status": status(item), "severity": severity(item), "issues": counts}
    if names:
        metadata["issue_names"] = names
    if remediation:
        metadata["remediation_link"] = remediation
    return IncidentDraft(
        # The report that said "non-compliant" came at or before last_seen; never after now.
        start_time=min(seen, now) if seen else now,
        end_time=INFINITY,
        source_incident_id=DEVICE_PREFIX + text(item.get("device_id")),
        details_url=link,
        description=f"{name} non-compliant: {issues_text(counts, names)}",
        level=level_for(item),
        ticket_url=stored.ticket_url if stored else "",
        metadata=metadata,
        tags=[(k, v) for k, v in tags if v],
    )


def end_incident(sid: str, stored: StoredIncident, end: datetime) -> IncidentDraft:
    """The stored incident, unchanged except that it ends at ``end`` (never before it began)."""
    return IncidentDraft(
        start_time=stored.start_time,
        end_time=max(end, stored.start_time),
        source_incident_id=sid,
        details_url=stored.details_url,
        description=stored.description,
        level=stored.level,
        ticket_url=stored.ticket_url,
        metadata=stored.metadata,
        tags=[],
    )


def activity_key(item: dict) -> str:
    """A stable id for one access activity: the vendor gives none, so hash what makes it one."""
    parts = [
        text(item.get(k)) for k in ("device_id", "app_name", "app_user", "access_rule", "timestamp")
    ]
    return ACTIVITY_PREFIX + hashlib.sha1("|".join(parts).encode()).hexdigest()


def activity_incident(item: dict, now: datetime, console_root: str = "") -> IncidentDraft:
    """A blocked access as a stateless incident (it happened; there is nothing to end),
    linked to its device's console page."""
    app, user = text(item.get("app_name")) or "?", text(item.get("app_user")) or "?"
    rule, device = text(item.get("access_rule")) or "?", device_name(item)
    action = text(item.get("action")) or "blocked"
    tags = [
        ("app", text(item.get("app_name"))),
        ("user", text(item.get("app_user"))),
        ("rule", text(item.get("access_rule"))),
        ("device", device),
        ("device_id", text(item.get("device_id"))),
        ("group", text(item.get("device_group"))),
        ("action", action),
    ]
    return IncidentDraft(
        start_time=parse_activity_time(item.get("timestamp")) or now,
        end_time=None,
        source_incident_id=activity_key(item),
        details_url=device_url(item, console_root) if console_root else "",
        description=f"{action.capitalize()} {app} for {user} on {device} (rule {rule})",
        level=ACTIVITY_LEVEL,
        metadata={
            "timestamp": iso_utc(parse_activity_time(item.get("timestamp"))),
            "device_status": text(item.get("device_status")),
        },
        tags=[(k, v) for k, v in tags if v],
    )


# --- devices ----------------------------------------------------------------------------------


def device_record(item: dict) -> DeviceRecord:
    """A device from status_changed (verbose) or the v3.6 list. ``data`` holds only fields
    both shapes carry, so alternating between them does not rewrite the row each time."""
    adapter = first_adapter(item)
    info = os_info(item)
    return DeviceRecord(
        vendor_id=text(item.get("device_id")),
        name=device_name(item),
        mac=text(adapter.get("mac")) or text(adapter.get("mac_addr")),
        ip=text(adapter.get("ipv4")) or text(adapter.get("ipv4_addr")),
        os=text(info.get("name")) or text(info.get("family")),
        last_seen=parse_gmt(item.get("last_seen")),
        data={
            "status": status(item),
            "severity": severity(item),
            "issues": issues(item),
            "group": text(item.get("group_name")),
            "nick_name": text(item.get("nick_name")),
            "device_type": text(item.get("device_type")),
            "agent_version": text(item.get("agent_version")),
            "os_family": text(info.get("family")),
            "os_version": text(info.get("version")),
            "macs": all_macs(item),
        },
    )


def deleted_record(item: dict, known: DeviceRecord | None) -> DeviceRecord:
    """A device the vendor no longer has. Its report is minimal (id, name, MAC, IP), so what
    the hub knew about it is kept and only ``deleted`` (and any fresher field) changes."""
    adapter = first_adapter(item)
    base = known or DeviceRecord(vendor_id=text(item.get("device_id")))
    return DeviceRecord(
        vendor_id=base.vendor_id,
        name=text(item.get("device_name")) or base.name,
        mac=text(adapter.get("mac")) or base.mac,
        ip=text(adapter.get("ipv4")) or base.ip,
        os=base.os,
        last_seen=base.last_seen,
        data=base.data,
        deleted=True,
    )
