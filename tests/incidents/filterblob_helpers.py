"""Incidents built straight through the ORM, in any state a filter can ask about."""

from datetime import timedelta

from django.utils import timezone

from fleetwatch.incidents.models import (
    INFINITY,
    Acknowledgement,
    Event,
    Incident,
    IncidentTagRelation,
    Tag,
)

#: end_time choices: stateless, open, open until a future time, closed.
END_TIMES = ("stateless", "open", "future", "closed")
#: ack choices: none, active forever, active until a future time, expired.
ACKS = ("none", "forever", "until_future", "expired")


def make_incident(
    source,
    *,
    end: str = "open",
    level: int = 5,
    tags: tuple[tuple[str, str], ...] = (),
    event_types: tuple[str, ...] = (),
    ack: str = "none",
) -> Incident:
    now = timezone.now()
    end_time = {
        "stateless": None,
        "open": INFINITY,
        "future": now + timedelta(days=1),
        "closed": now - timedelta(hours=1),
    }[end]
    incident = Incident.objects.create(
        start_time=now - timedelta(days=1), end_time=end_time, source=source, level=level
    )
    actor = source.user
    for key, value in dict.fromkeys(tags):
        tag, _ = Tag.objects.get_or_create(key=key, value=value)
        IncidentTagRelation.objects.create(tag=tag, incident=incident, added_by=actor)
    for type_ in event_types:
        Event.objects.create(incident=incident, actor=actor, timestamp=now, type=type_)
    if ack != "none":
        event = Event.objects.create(
            incident=incident, actor=actor, timestamp=now, type=Event.Type.ACKNOWLEDGE
        )
        expiration = {
            "forever": None,
            "until_future": now + timedelta(days=1),
            "expired": now - timedelta(minutes=1),
        }[ack]
        Acknowledgement.objects.create(event=event, expiration=expiration)
    return incident
