"""One new incident as one PostgreSQL statement: incident, initial events, tags and tag
relations written by data-modifying CTEs.

A single statement outside a transaction block is its own transaction, so the write is as
atomic as ``transaction.atomic()`` around four inserts, in one round trip instead of seven
(BEGIN, incident, events, tag lookup, tag insert, relations, COMMIT): a ``POST /incidents/``
spent more time waiting on those round trips than in Python.

Anything unusual makes the statement fail as a whole, and the caller falls back to the
ordinary path, which reports it properly: a taken ``source_incident_id`` (unique violation),
or a tag another transaction created after this statement's snapshot (its id comes back NULL,
and the NOT NULL ``tag_id`` rejects the relation).
"""

from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Model
from psycopg.types.json import Jsonb

from fleetwatch.incidents.models import (
    INCIDENT_COLUMNS,
    Event,
    Incident,
    IncidentTagRelation,
    Tag,
)

if TYPE_CHECKING:
    from fleetwatch.accounts.models import User

_sql_cache: dict[tuple[int, int], str] = {}


def incident_values(incident: Incident) -> tuple[Any, ...]:
    """The ``INCIDENT_COLUMNS`` of an unsaved incident, as psycopg parameters."""
    return (
        incident.start_time,
        incident.end_time,
        incident.source_id,
        incident.source_incident_id,
        incident.details_url,
        incident.description,
        incident.level,
        incident.ticket_url,
        Jsonb(incident.metadata),
    )


EVENT_FIELDS = ("incident", "actor", "timestamp", "received", "type", "description")
#: ``start_time``: the incident's, as every writer of relations gives it (its page order).
RELATION_FIELDS = ("tag", "incident", "added_by", "added_time", "start_time")


def _statement(events: int, tags: int) -> str:
    q = connection.ops.quote_name

    def table(model: type[Model]) -> str:
        return q(model._meta.db_table)

    def column(model: type[Model], name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, Field) and field.column is not None, name  # concrete fields
        return q(field.column)

    def columns(model: type[Model], names: Iterable[str]) -> str:
        return ", ".join(column(model, name) for name in names)

    def values(width: int, rows: int, types: tuple[str, ...] = ()) -> str:
        cast = [f"%s::{t}" for t in types] or ["%s"] * width
        return ", ".join(f"({', '.join(cast)})" for _ in range(rows))

    event_types = ("bigint", "timestamptz", "timestamptz", "text", "text")
    parts = [
        f"inc AS (INSERT INTO {table(Incident)} ({', '.join(map(q, INCIDENT_COLUMNS))}) "
        f"VALUES {values(len(INCIDENT_COLUMNS), 1)} RETURNING {q('id')}, {q('start_time')})",
        f"ev AS (INSERT INTO {table(Event)} "
        f"({columns(Event, EVENT_FIELDS)}) "
        f"SELECT inc.{q('id')}, e.* FROM inc, "
        f"(VALUES {values(5, events, event_types)}) AS e RETURNING {q('id')})",
    ]
    if tags:
        key, value, tag_id = q("key"), q("value"), q("id")
        parts += [
            f"wanted (k, v) AS (VALUES {values(2, tags, ('text', 'text'))})",
            f"new_tag AS (INSERT INTO {table(Tag)} ({key}, {value}) SELECT k, v FROM wanted "
            f"ON CONFLICT DO NOTHING RETURNING {tag_id}, {key}, {value})",
            f"tag_ids (id, k, v) AS (SELECT {tag_id}, {key}, {value} FROM new_tag UNION ALL "
            f"SELECT t.{tag_id}, t.{key}, t.{value} FROM {table(Tag)} t "
            f"JOIN wanted w ON t.{key} = w.k AND t.{value} = w.v)",
            f"rel AS (INSERT INTO {table(IncidentTagRelation)} "
            f"({columns(IncidentTagRelation, RELATION_FIELDS)}) "
            f"SELECT (SELECT i.id FROM tag_ids i WHERE i.k = w.k AND i.v = w.v LIMIT 1), "
            f"inc.{q('id')}, %s::bigint, %s::timestamptz, inc.{q('start_time')} "
            f"FROM inc, wanted w)",
        ]
    # The events' pks too (drawn in VALUES order): the notification outbox refers to them.
    return (
        f"WITH {', '.join(parts)} SELECT (SELECT {q('id')} FROM inc), "
        f"ARRAY(SELECT {q('id')} FROM ev ORDER BY {q('id')})"
    )


def create_in_one_statement(
    incident: Incident,
    events: list[Event],
    tags: Sequence[tuple[str, str]],
    actor: "User",
    now: datetime,
    *,
    savepoint: bool = True,
) -> bool:
    """Store ``incident`` (unsaved) with ``events`` and ``tags`` (``(key, value)`` pairs,
    distinct); sets its pk and its events' pks and returns True, or returns False having
    stored nothing. ``savepoint=False`` (the caller's transaction rolls back as a whole) lets
    the IntegrityError through instead of paying for a savepoint."""
    key = (len(events), len(tags))
    sql = _sql_cache.get(key)
    if sql is None:
        sql = _sql_cache[key] = _statement(*key)
    params = list(incident_values(incident))
    for event in events:
        # str(): a TextChoices member would be dumped by psycopg as its enum *name*.
        params += [
            event.actor_id,
            event.timestamp,
            event.received,
            str(event.type),
            event.description,
        ]
    if tags:
        params += [part for tag in tags for part in tag]
        params += [actor.pk, now]
    if not savepoint:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            pk, event_pks = cursor.fetchone()
    else:
        try:
            # Inside a caller's transaction the statement needs a savepoint to fail on its own.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    pk, event_pks = cursor.fetchone()
        except IntegrityError:
            return False
    incident.pk = pk
    incident._state.adding = False
    incident._state.db = connection.alias
    for event, event_pk in zip(events, event_pks, strict=True):
        event.pk = event_pk
        event.incident_id = pk
        event._state.adding = False
        event._state.db = connection.alias
    return True
