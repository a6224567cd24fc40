"""Messages rendered from an event and its incident *as they were when the event was recorded*.

The outbox calls ``render_message`` inside the event's transaction and stores the result in
``Delivery.message``; the media only format that snapshot. So a start notification delayed by
retries or a profile's delay still reads "started", never shows the end, and a later edit of
the incident does not rewrite what was sent. Only what a recipient may see is in it: no
metadata, no actor ids, no internal flags.
"""

from datetime import datetime
from html import escape
from typing import Any

from django.conf import settings
from django.utils import timezone

from fleetwatch.incidents.models import Event, Incident, Level, is_infinite
from fleetwatch.incidents.tags import format_tag

SMS_LENGTH = 160


def incident_url(pk: int) -> str:
    """The hub's page of an incident (``FLEETWATCH_URL``; the admin's, until a console has
    its own)."""
    return f"{settings.FRONTEND_URL.rstrip('/')}/admin/incidents/incident/{pk}/change/"


def _iso(value: datetime | None) -> str | None:
    if value is None or is_infinite(value):
        return None
    return value.isoformat()


def _local(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def incident_snapshot(
    incident: Incident, tags: list[tuple[str, str]], acked: bool
) -> dict[str, Any]:
    """What a message shows of an incident (the incident must have its source and source type
    loaded)."""
    stateful = incident.end_time is not None
    is_open = incident.end_time is not None and incident.end_time > timezone.now()
    return {
        "pk": incident.pk,
        "url": incident_url(incident.pk),
        "start_time": incident.start_time.isoformat(),
        "end_time": _iso(incident.end_time),
        "stateful": stateful,
        "open": is_open,
        "acked": acked,
        "level": incident.level,
        "level_name": Level(incident.level).label,
        "description": incident.description,
        "source": {"name": incident.source.name, "type": incident.source.type_id},
        "source_incident_id": incident.source_incident_id,
        "details_url": incident.details_url,
        "ticket_url": incident.ticket_url,
        "tags": [format_tag(k, v) for k, v in sorted(tags)],
    }


OPENING = {Event.Type.INCIDENT_START, Event.Type.INCIDENT_RESTART, Event.Type.REOPEN}
CLOSING = {Event.Type.INCIDENT_END, Event.Type.CLOSE}


def as_of(incident: dict[str, Any], event: Event) -> dict[str, Any]:
    """The incident snapshot as the event left it: several events stored together (a source
    reporting an incident that already ended: STA and END in one batch) each see their own
    moment, so the start message never shows the end."""
    if not incident["stateful"]:
        return incident
    if event.type in OPENING:
        return {**incident, "end_time": None, "open": True}
    if event.type in CLOSING:
        return {**incident, "end_time": event.timestamp.isoformat(), "open": False}
    return incident


def render_message(event: Event, incident: dict[str, Any], actor_name: str) -> dict[str, Any]:
    """The snapshot one delivery sends: subject, text, HTML, a short (SMS) text, and the
    structured event and incident (for webhooks)."""
    incident = as_of(incident, event)
    kind = Event.Type(event.type).label
    level = incident["level_name"]
    subject = f"[Fleetwatch] {kind}: {incident['description'] or 'incident'} (#{incident['pk']})"
    when = _local(event.timestamp)
    lines = [
        f"{kind} at {when}",
        "",
        f"Incident #{incident['pk']}: {incident['description']}",
        f"Level: {incident['level']} ({level})",
        f"Source: {incident['source']['name']} ({incident['source']['type']})",
        f"Started: {_local(datetime.fromisoformat(incident['start_time']))}",
    ]
    if incident["end_time"]:
        lines.append(f"Ended: {_local(datetime.fromisoformat(incident['end_time']))}")
    if incident["tags"]:
        lines.append(f"Tags: {', '.join(incident['tags'])}")
    if event.description:
        lines += ["", event.description]
    if incident["details_url"]:
        lines += ["", f"Details: {incident['details_url']}"]
    lines += ["", f"In the hub: {incident['url']}"]
    text = "\n".join(lines) + "\n"
    html_rows = "".join(f"<p>{escape(line)}</p>" for line in lines if line)
    html = (
        f"<html><body><h2>{escape(subject)}</h2>{html_rows}"
        f'<p><a href="{escape(incident["url"])}">Open incident #{incident["pk"]}</a></p>'
        "</body></html>"
    )
    short = f"{kind} #{incident['pk']} L{incident['level']}: {incident['description']}"
    if len(short) > SMS_LENGTH:
        short = short[: SMS_LENGTH - 1] + "…"
    return {
        "subject": subject,
        "text": text,
        "html": html,
        "short": short,
        "event": {
            "pk": event.pk,
            "type": str(event.type),
            "type_name": kind,
            "timestamp": event.timestamp.isoformat(),
            "description": event.description,
            "actor": actor_name,
        },
        "incident": incident,
    }
