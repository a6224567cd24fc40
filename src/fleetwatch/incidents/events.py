"""The event rules: who may post which event type, and what each does to an incident.

Every function here checks ``permissions`` first (a source acts on its own incidents only).
The bulk versions take ids and answer per id, in a constant number of queries whatever the
number of ids: a refusal (``EventRefused``, ``NotAllowed``, ``IncidentMissing``) is returned as
that id's result, never applied.

As in Argus: source systems and end users have separate allow-lists; an event that is invalid
for the incident's state is refused for end users, but *recorded without changing anything*
when a source system sends it (an END arriving after a person already closed the incident).
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Acknowledgement, Event, Incident
from fleetwatch.incidents.permissions import NotAllowed, incident_refusal, require_change_incident
from fleetwatch.incidents.signals import record_events

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


class AckRefused(ValueError):
    """An acknowledgement's values are refused, with the message Argus gives under
    ``"non_field_errors"`` (an expiry before the ack's own timestamp)."""


class IncidentMissing(LookupError):
    """No incident has this id (a bulk request's per-id result)."""

    def __init__(self, pk: int) -> None:
        super().__init__(f"Incident with id {pk} could not be found.")
        self.pk = pk


def bulk_refusal(actor, pk: int, incident: Incident | None) -> Exception | None:
    """Why ``actor`` may not act on incident ``pk`` of a bulk request (``incident`` as found, or
    None when it does not exist), or None: the one rule of every bulk path."""
    if incident is None:
        return IncidentMissing(pk)
    if (reason := incident_refusal(actor, incident)) is not None:
        return NotAllowed(reason)
    return None


def is_source(user) -> bool:
    return hasattr(user, "source_system")


def role_error(user, event_type: str) -> str | None:
    if is_source(user):
        if event_type not in SOURCE_TYPES:
            return f"A source system cannot post events of type '{event_type}'."
    elif event_type not in END_USER_TYPES:
        return f"An end user cannot post events of type '{event_type}'."
    return None


def state_error(
    incident: Incident, event_type: str, now: datetime, *, has_start: bool | None = None
) -> str | None:
    """Why ``event_type`` makes no sense for the incident's state (None: it does).

    ``has_start``: whether the incident already has an STA event, when the caller knows
    (bulk: one query for all); None looks it up when needed.
    """
    if incident.end_time is None:
        if event_type == T.INCIDENT_START:
            return "Stateless incident cannot have an INCIDENT_START event."
        if event_type in CLOSING | OPENING:
            return "Cannot change the state of a stateless incident."
        return None
    if event_type == T.INCIDENT_START:
        if has_start is None:
            has_start = incident.events.filter(type=T.INCIDENT_START).exists()
        if has_start:
            return "The incident already has a related event of type 'Incident start'."
    elif event_type == T.STATELESS:
        return "A stateful incident cannot have a stateless event."
    elif event_type in CLOSING and incident.end_time <= now:
        return "The incident is already closed."
    elif event_type in OPENING and incident.end_time > now:
        return "The incident is already open."
    return None


def new_end_time(event_type: str, timestamp: datetime) -> datetime | None:
    """The ``end_time`` a valid event of this type sets (None: it changes no state)."""
    if event_type in CLOSING:
        return timestamp
    if event_type in OPENING:
        return INFINITY
    return None


def post_events(
    ids: Iterable[int],
    actor,
    event_type: str,
    timestamp: datetime | None = None,
    description: str = "",
    *,
    acks_url: str = "acks/",
) -> dict[int, Event | Exception]:
    """Validate and store one event per incident; per id the stored event or the refusal.

    The type is checked for the actor's role once (raises EventRefused: nothing would be
    stored). Then per incident: NotAllowed, IncidentMissing, or — for an end user — the state
    rule's EventRefused; a source system's invalid transition is stored and changes nothing.
    Queries: lock the incidents, (STA: which have one), insert the events, one UPDATE per
    state change — whatever the number of ids.
    """
    event_type = T(event_type).value
    if event_type == T.ACKNOWLEDGE:
        raise EventRefused(
            f"Acknowledgements of this incidents should be posted through {acks_url}."
        )
    if error := role_error(actor, event_type):
        raise EventRefused(error)
    ids = list(dict.fromkeys(ids))
    now = timezone.now()
    timestamp = timestamp or now
    source_actor = is_source(actor)
    results: dict[int, Event | Exception] = {}
    with transaction.atomic():
        found = {
            incident.pk: incident
            for incident in Incident.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .only("id", "source_id", "end_time")
        }
        started: set[int] = set()
        if event_type == T.INCIDENT_START:
            started = set(
                Event.objects.filter(incident_id__in=list(found), type=T.INCIDENT_START)
                .values_list("incident_id", flat=True)
                .distinct()
            )
        events: list[Event] = []
        state_changes: list[int] = []
        for pk in ids:
            incident = found.get(pk)
            if (refusal := bulk_refusal(actor, pk, incident)) is not None:
                results[pk] = refusal
                continue
            assert incident is not None
            error = state_error(incident, event_type, now, has_start=pk in started)
            if error and not source_actor:
                results[pk] = EventRefused(error)
                continue
            event = Event(
                incident=incident,
                actor=actor,
                type=event_type,
                timestamp=timestamp,
                description=description,
            )
            events.append(event)
            results[pk] = event
            if not error and new_end_time(event_type, timestamp) is not None:
                state_changes.append(pk)
        Event.objects.bulk_create(events)
        end_time = new_end_time(event_type, timestamp)
        if state_changes:
            Incident.objects.filter(pk__in=state_changes).update(end_time=end_time)
            for pk in state_changes:
                found[pk].end_time = end_time
        record_events(events)
    return results


def post_event(
    incident: Incident | int,
    actor,
    event_type: str,
    timestamp: datetime | None = None,
    description: str = "",
    *,
    acks_url: str = "acks/",
) -> Event:
    """Validate and store one event on ``incident`` (or the incident with that pk: it is read
    under lock anyway); raises EventRefused with Argus's message, NotAllowed or
    IncidentMissing."""
    pk = incident if isinstance(incident, int) else incident.pk
    result = post_events([pk], actor, event_type, timestamp, description, acks_url=acks_url)[pk]
    if isinstance(result, Exception):
        raise result
    return result


def _check_expiration(timestamp: datetime, expiration: datetime | None) -> None:
    if expiration is not None and expiration <= timestamp:
        raise AckRefused("'expiration' is earlier than creation timestamp.")


def _ack_statement() -> str:
    q = connection.ops.quote_name
    event_columns = ", ".join(map(q, ACK_EVENT_COLUMNS))
    return (
        f"WITH e AS (INSERT INTO {q(Event._meta.db_table)} ({event_columns}) "
        f"VALUES ({', '.join(['%s'] * len(ACK_EVENT_COLUMNS))}) RETURNING {q('id')}) "
        f"INSERT INTO {q(Acknowledgement._meta.db_table)} ({q('event_id')}, {q('expiration')}) "
        f"SELECT {q('id')}, %s FROM e RETURNING {q('event_id')}"
    )


ACK_EVENT_COLUMNS = ("incident_id", "actor_id", "timestamp", "received", "type", "description")


def _store_ack_in_one_statement(
    incident: Incident, actor, timestamp, description, expiration
) -> Acknowledgement:
    """PostgreSQL: the ACK event and its acknowledgement in one statement (a CTE), as plain
    SQL — compiling two ORM INSERTs cost more CPU than the rest of an ack POST's view."""
    event = Event(
        incident=incident,
        actor=actor,
        type=T.ACKNOWLEDGE.value,
        timestamp=timestamp,
        description=description,
    )
    params = [
        incident.pk,
        actor.pk,
        timestamp,
        event.received,
        event.type,
        description,
        expiration,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_ack_statement(), params)
        (event.pk,) = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias
    ack = Acknowledgement(event=event, expiration=expiration)
    ack._state.adding = False
    ack._state.db = connection.alias
    return ack


def _store_acks(
    incidents: list[Incident], actor, timestamp, description, expiration
) -> list[Acknowledgement]:
    """The ACK events and their acknowledgements: two INSERTs for any number (one for a single
    ack on PostgreSQL)."""
    if len(incidents) == 1 and connection.vendor == "postgresql":
        # The outbox rows commit with the ack (no savepoint inside a caller's transaction:
        # an error here fails it as a whole anyway).
        with transaction.atomic(savepoint=False):
            ack = _store_ack_in_one_statement(
                incidents[0], actor, timestamp, description, expiration
            )
            record_events([ack.event])
        return [ack]
    with transaction.atomic():
        events = Event.objects.bulk_create(
            [
                Event(
                    incident=incident,
                    actor=actor,
                    type=T.ACKNOWLEDGE,
                    timestamp=timestamp,
                    description=description,
                )
                for incident in incidents
            ]
        )
        acks = Acknowledgement.objects.bulk_create(
            [Acknowledgement(event=event, expiration=expiration) for event in events]
        )
        record_events(events)
        return acks


def acknowledge(
    incident: Incident,
    actor,
    timestamp: datetime | None = None,
    description: str = "",
    expiration: datetime | None = None,
) -> Acknowledgement:
    """Anyone may acknowledge an incident they may change (source systems too, as Argus 2.10
    allows, but only their own). ``incident`` needs only its pk and ``source_id``."""
    require_change_incident(actor, incident)
    timestamp = timestamp or timezone.now()
    _check_expiration(timestamp, expiration)
    (ack,) = _store_acks([incident], actor, timestamp, description, expiration)
    return ack


def acknowledge_many(
    ids: Iterable[int],
    actor,
    timestamp: datetime | None = None,
    description: str = "",
    expiration: datetime | None = None,
) -> dict[int, Acknowledgement | Exception]:
    """Acknowledge many incidents in three queries; per id the ack, IncidentMissing or
    NotAllowed. A bad ``expiration`` raises ValueError (nothing is stored)."""
    timestamp = timestamp or timezone.now()
    _check_expiration(timestamp, expiration)
    ids = list(dict.fromkeys(ids))
    found = Incident.objects.only("id", "source_id").in_bulk(ids)
    results: dict[int, Acknowledgement | Exception] = {}
    allowed: list[Incident] = []
    for pk in ids:
        incident = found.get(pk)
        if (refusal := bulk_refusal(actor, pk, incident)) is not None:
            results[pk] = refusal
        elif incident is not None:
            allowed.append(incident)
    for ack in _store_acks(allowed, actor, timestamp, description, expiration):
        results[ack.event.incident_id] = ack
    return results
