"""The event rules: who may post which event type, and what each does to an incident.

As in Argus: source systems and end users have separate allow-lists; an event that is invalid
for the incident's state is refused for end users, but *recorded without changing anything*
when a source system sends it (an END arriving after a person already closed the incident).
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Acknowledgement, Event, Incident

T = Event.Type
SOURCE_TYPES = {
    T.INCIDENT_START,
    T.INCIDENT_END,
    T.INCIDENT_RESTART,
    T.OTHER,
    T.INCIDENT_CHANGE,
    T.STATELESS,
}
END_USER_TYPES = {T.CLOSE, T.REOPEN, T.ACKNOWLEDGE, T.OTHER}
CLOSING = {T.INCIDENT_END, T.CLOSE}
OPENING = {T.INCIDENT_RESTART, T.REOPEN}


class EventRefused(ValueError):
    """Raised with the message Argus gives under ``"type"``."""


def is_source(user) -> bool:
    return hasattr(user, "source_system")


def role_error(user, event_type: str) -> str | None:
    if is_source(user):
        if event_type not in SOURCE_TYPES:
            return f"A source system cannot post events of type '{event_type}'."
    elif event_type not in END_USER_TYPES:
        return f"An end user cannot post events of type '{event_type}'."
    return None


def state_error(incident: Incident, event_type: str, now: datetime) -> str | None:
    if incident.end_time is None:
        if event_type == T.INCIDENT_START:
            return "Stateless incident cannot have an INCIDENT_START event."
        if event_type in CLOSING | OPENING:
            return "Cannot change the state of a stateless incident."
        return None
    if event_type == T.INCIDENT_START:
        if incident.events.filter(type=T.INCIDENT_START).exists():
            return "The incident already has a related event of type 'Incident start'."
    elif event_type == T.STATELESS:
        return "A stateful incident cannot have a stateless event."
    elif event_type in CLOSING and incident.end_time <= now:
        return "The incident is already closed."
    elif event_type in OPENING and incident.end_time > now:
        return "The incident is already open."
    return None


def apply_event(incident: Incident, event_type: str, timestamp: datetime) -> bool:
    """Change the incident's state for a valid event; returns whether it changed."""
    if event_type in CLOSING:
        incident.end_time = timestamp
    elif event_type in OPENING:
        incident.end_time = INFINITY
    else:
        return False
    incident.save(update_fields=["end_time"])
    return True


def post_event(
    incident: Incident,
    actor,
    event_type: str,
    timestamp: datetime | None = None,
    description: str = "",
    *,
    acks_url: str = "acks/",
) -> Event:
    """Validate and store one event (raises EventRefused with Argus's message)."""
    if event_type == T.ACKNOWLEDGE:
        raise EventRefused(
            f"Acknowledgements of this incidents should be posted through {acks_url}."
        )
    if error := role_error(actor, event_type):
        raise EventRefused(error)
    now = timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        error = state_error(incident, event_type, now)
        if error and not is_source(actor):
            raise EventRefused(error)
        event = Event.objects.create(
            incident=incident,
            actor=actor,
            type=event_type,
            timestamp=timestamp or now,
            description=description,
        )
        if not error:
            apply_event(incident, event_type, event.timestamp)
    return event


def acknowledge(
    incident: Incident,
    actor,
    timestamp: datetime | None = None,
    description: str = "",
    expiration: datetime | None = None,
) -> Acknowledgement:
    """Anyone may acknowledge (source systems too, as Argus 2.10 allows)."""
    timestamp = timestamp or timezone.now()
    if expiration is not None and expiration <= timestamp:
        raise ValueError("'expiration' is earlier than creation timestamp.")
    with transaction.atomic():
        event = Event.objects.create(
            incident=incident,
            actor=actor,
            type=T.ACKNOWLEDGE,
            timestamp=timestamp,
            description=description,
        )
        return Acknowledgement.objects.create(event=event, expiration=expiration)
