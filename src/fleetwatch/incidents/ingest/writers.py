"""Storing what the upsert rules decided: incidents, events, tags and their relations.

Each writer takes the fast path of ``fleetwatch.fastsql`` when it is on (COPY, ids drawn from
the sequence, the one-statement create: PostgreSQL; plain tag SQL: every database) and the
ORM otherwise; both store the same rows. The writers decide nothing: which incidents are new,
which change and which events they take is ``rules``'s business.
"""

from collections.abc import Container, Iterable
from datetime import datetime

from django.db import connection
from django.utils import timezone

from fleetwatch import fastsql
from fleetwatch.fastsql import pg_copy, pg_create
from fleetwatch.fastsql.tags import find_tags
from fleetwatch.incidents.models import Event, Incident, IncidentTagRelation, Tag


def _existing_tags(keys: set[str], values: set[str]) -> list[tuple[int, str, str]]:
    if fastsql.enabled():
        return find_tags(keys, values)
    return list(
        Tag.objects.filter(key__in=keys, value__in=values).values_list("pk", "key", "value")
    )


def tag_ids(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Get or create every tag in two or three queries, whatever their number."""
    wanted = set(pairs)
    if not wanted:
        return {}
    keys = {k for k, _ in wanted}
    values = {v for _, v in wanted}
    found = {(k, v): pk for pk, k, v in _existing_tags(keys, values) if (k, v) in wanted}
    missing = wanted - found.keys()
    if missing:
        Tag.objects.bulk_create(
            [Tag(key=k, value=v) for k, v in sorted(missing)], ignore_conflicts=True
        )
        keys = {k for k, _ in missing}
        values = {v for _, v in missing}
        for pk, k, v in _existing_tags(keys, values):
            if (k, v) in missing:
                found[(k, v)] = pk
    return found


def _start_times(incidents: Iterable[Incident]) -> dict[int, datetime]:
    """Each incident's ``start_time``, which its tag relations carry (their page order); one
    query for those loaded without it (``services.incident_for_change``), none otherwise."""
    times, missing = {}, []
    for incident in incidents:
        if "start_time" in incident.get_deferred_fields():
            missing.append(incident.pk)
        else:
            times[incident.pk] = incident.start_time
    if missing:
        times.update(Incident.objects.filter(pk__in=missing).values_list("pk", "start_time"))
    return times


def add_tags(
    incidents_tags: list[tuple[Incident, list[tuple[str, str]]]],
    actor,
    now=None,
    *,
    fresh: Container[int] = (),
) -> None:
    """Relate tags to incidents (existing relations are kept as they are).

    ``fresh``: pks of incidents created in this transaction, which have no relation yet; with
    the fast SQL on PostgreSQL theirs are COPYed. Each relation is written with its incident's
    ``start_time`` (NOT NULL: see ``IncidentTagRelation``).
    """
    ids = tag_ids(tag for _, tags in incidents_tags for tag in tags)
    now = now or timezone.now()
    pairs = dict.fromkeys(
        (ids[tag], incident.pk) for incident, tags in incidents_tags for tag in tags
    )
    if not pairs:
        return
    starts = _start_times(incident for incident, tags in incidents_tags if tags)
    if fresh and fastsql.postgresql():
        new = [
            (tag, incident, actor.pk, now, starts[incident])
            for tag, incident in pairs
            if incident in fresh
        ]
        if new:
            pg_copy.copy_rows(IncidentTagRelation, pg_copy.RELATION_COLUMNS, new)
        pairs = dict.fromkeys(pair for pair in pairs if pair[1] not in fresh)
    if pairs:
        IncidentTagRelation.objects.bulk_create(
            [
                IncidentTagRelation(
                    incident_id=incident,
                    tag_id=tag,
                    added_by=actor,
                    added_time=now,
                    start_time=starts[incident],
                )
                for tag, incident in pairs
            ],
            ignore_conflicts=True,
        )


def store_new_incidents(incidents: list[Incident]) -> None:
    """Insert new incidents and set their pks (increasing, in list order, as ``bulk_create``
    assigns them); a taken ``source_incident_id`` raises IntegrityError either way."""
    if fastsql.postgresql():
        pg_copy.store_new_incidents(incidents)
    else:
        Incident.objects.bulk_create(incidents, batch_size=1000)
    if connection.vendor == "postgresql":  # planner upkeep, not an ORM bypass: always
        pg_copy.after_bulk_insert(incidents)


def store_events(events: list[Event]) -> None:
    """Insert new events and set their pks (the notification outbox refers to them)."""
    if not events:
        return
    for event in events:
        if event.incident_id is None:  # made while its incident was not yet stored
            event.incident_id = event.incident.pk
    if fastsql.postgresql():
        pg_copy.store_events(events)
    else:
        Event.objects.bulk_create(events, batch_size=2000)


def can_store_one() -> bool:
    """Whether ``store_one`` (the one-statement create) is available."""
    return fastsql.postgresql()


def store_one(incident: Incident, events: list[Event], tags, actor, now) -> None:
    """Store one new incident with its events and tags in one statement, setting the pks;
    only when ``can_store_one()``. Run it in the caller's transaction (which also holds the
    outbox rows): a conflict raises IntegrityError and the caller's transaction rolls back;
    ``store_one_orm`` then says what went wrong."""
    pg_create.create_in_one_statement(incident, events, tags, actor, now, savepoint=False)


def store_one_orm(incident: Incident, events: list[Event], tags, actor, now) -> None:
    """The ORM's store of one new incident; run it in the caller's transaction."""
    incident.save()
    store_events(events)
    add_tags([(incident, tags)], actor, now, fresh={incident.pk})
