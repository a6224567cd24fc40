"""Turning incident payloads into stored incidents: one validator and one writer.

Every path that creates incidents goes through here: ``POST /incidents/``, the upsert and bulk
endpoints, and the vendor connectors. Validation is plain Python (no serializer per item) so
that a bulk request of thousands of incidents costs a handful of batched queries.
"""

import time
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from fleetwatch.api.validation import (
    DATETIME_RANGE_MESSAGE,
    NUL_MESSAGE,
    json_problem,
    storable_datetime,
)
from fleetwatch.incidents import limits, pg_create
from fleetwatch.incidents.models import (
    INCIDENT_COLUMNS,
    INFINITY,
    Event,
    Incident,
    IncidentTagRelation,
    SourceSystem,
    Tag,
    is_infinite,
)
from fleetwatch.incidents.tags import parse_tag

DATETIME_MESSAGE = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
# Output-only fields a client may echo back from a GET; they are ignored, as in Argus.
READ_ONLY_FIELDS = {"pk", "stateful", "open", "acked", "source"}
_url_validator = URLValidator()


class InvalidIncident(ValueError):
    """The payload is not a valid incident; ``errors`` maps each field to its problems."""

    def __init__(self, errors: dict) -> None:
        super().__init__(errors)
        self.errors = errors


class IncidentConflict(Exception):
    """The source already has an incident with this ``source_incident_id``."""

    def __init__(self, source_incident_id: str, existing_pk: int) -> None:
        super().__init__(source_incident_id)
        self.source_incident_id = source_incident_id
        self.existing_pk = existing_pk

    def as_error(self) -> dict:
        return {
            "source_incident_id": [
                f"This source already has an incident with source_incident_id "
                f"{self.source_incident_id!r}: incident {self.existing_pk}. "
                "Use the upsert endpoint to update it."
            ],
            "existing_incident": self.existing_pk,
        }


@dataclass(slots=True)
class IncidentDraft:
    start_time: datetime
    end_time: datetime | None = INFINITY
    source_incident_id: str = ""
    details_url: str = ""
    description: str = ""
    level: int = 5
    ticket_url: str = ""
    metadata: dict = field(default_factory=dict)
    tags: list[tuple[str, str]] = field(default_factory=list)


def parse_datetime_value(value: object, *, allow_infinity: bool = False) -> datetime:
    """ISO 8601 (``T`` or space; naive means the server's time zone) or ``"infinity"``."""
    if allow_infinity and isinstance(value, str) and value.strip().lower() == "infinity":
        return INFINITY
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(DATETIME_MESSAGE)
    else:
        raise ValueError(DATETIME_MESSAGE)
    if timezone.is_naive(parsed):
        try:
            parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
        except OverflowError:
            raise ValueError(DATETIME_RANGE_MESSAGE) from None
    return storable_datetime(parsed)


def _text(data: Mapping, name: str, errors: dict, *, url: bool = False) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = ["Not a valid string."]
        return ""
    if "\x00" in value:
        errors[name] = [NUL_MESSAGE]
        return ""
    value = value.strip()
    if url and value and "://" in value:
        try:
            _url_validator(value)
        except ValidationError:
            errors[name] = ["Enter a valid URL."]
    elif url and any(ch.isspace() for ch in value):
        errors[name] = ["Enter a valid URL or a relative path without spaces."]
    return value


def parse_tags(value: object) -> tuple[list[tuple[str, str]], object]:
    """Tags as ``[{"tag": "k=v"}, ...]`` (v1/v2) or ``["k=v", ...]``; returns (tags, errors)."""
    if not isinstance(value, list):
        return [], ['Expected a list of {"tag": "key=value"} objects.']
    tags, errors, seen = [], {}, set()  # a set: 40,000 tags took minutes deduplicated by list
    for index, item in enumerate(value):
        if isinstance(item, dict) and item.keys() - {"tag"}:
            errors[str(index)] = {name: ["Unknown field."] for name in item.keys() - {"tag"}}
            continue
        text = item.get("tag") if isinstance(item, dict) else item
        try:
            tag = parse_tag(text)
        except ValueError as exc:
            errors[str(index)] = {"tag": [str(exc)]}
            continue
        if tag not in seen:
            seen.add(tag)
            tags.append(tag)
    return tags, errors or None


def parse_level(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f'"{value}" is not a valid choice.')
    try:
        level = int(value)
    except ValueError:
        raise ValueError(f'"{value}" is not a valid choice.') from None
    if not 1 <= level <= 5:
        raise ValueError(f'"{value}" is not a valid choice.')
    return level


def parse_incident(
    data: object, *, require_tags: bool = True, allow_metadata: bool = True
) -> IncidentDraft:
    """Validate one incident payload; raises InvalidIncident naming each bad field."""
    if not isinstance(data, Mapping):
        raise InvalidIncident({"non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, object] = {}
    allowed = {
        "start_time",
        "end_time",
        "source_incident_id",
        "details_url",
        "description",
        "level",
        "ticket_url",
        "tags",
        *READ_ONLY_FIELDS,
    }
    if allow_metadata:
        allowed.add("metadata")
    for name in data:
        if name not in allowed:
            errors[name] = ["Unknown field."]

    start_time = None
    if data.get("start_time") in (None, ""):
        errors["start_time"] = ["This field is required."]
    else:
        try:
            start_time = parse_datetime_value(data["start_time"])
        except ValueError as exc:
            errors["start_time"] = [str(exc)]

    end_time: datetime | None = INFINITY
    if "end_time" in data:
        if data["end_time"] is None:
            end_time = None
        else:
            try:
                end_time = parse_datetime_value(data["end_time"], allow_infinity=True)
            except ValueError as exc:
                errors["end_time"] = [str(exc)]

    level = 5
    if data.get("level") is not None:
        try:
            level = parse_level(data["level"])
        except ValueError as exc:
            errors["level"] = [str(exc)]

    metadata: dict = {}
    if allow_metadata and data.get("metadata") is not None:
        if not isinstance(data["metadata"], dict):
            errors["metadata"] = ["Expected a JSON object."]
        elif problem := json_problem(data["metadata"]):
            errors["metadata"] = [problem]
        else:
            metadata = data["metadata"]

    tags: list[tuple[str, str]] = []
    if "tags" in data:
        tags, tag_errors = parse_tags(data["tags"])
        if tag_errors:
            errors["tags"] = tag_errors
        elif problem := limits.tag_count_problem(len(tags)):
            errors["tags"] = [problem]
    elif require_tags:
        errors["tags"] = ["This field is required."]

    sid = data.get("source_incident_id", "")
    if sid is None:
        sid = ""
    if isinstance(sid, int) and not isinstance(sid, bool):
        sid = str(sid)
    if not isinstance(sid, str):
        errors["source_incident_id"] = ["Not a valid string."]
        sid = ""
    elif "\x00" in sid:
        errors["source_incident_id"] = [NUL_MESSAGE]
        sid = ""
    elif problem := limits.too_long(sid.strip(), limits.SOURCE_INCIDENT_ID_MAX_LENGTH):
        errors["source_incident_id"] = [problem]
        sid = ""
    draft_text = {
        name: _text(data, name, errors, url=name.endswith("_url"))
        for name in ("details_url", "description", "ticket_url")
    }
    if (
        start_time
        and end_time
        and "end_time" not in errors
        and not is_infinite(end_time)
        and end_time < start_time
    ):
        errors.setdefault("non_field_errors", []).append(
            "'end_time' cannot be before 'start_time'."
        )
    if errors:
        raise InvalidIncident(errors)
    return IncidentDraft(
        start_time=start_time,
        end_time=end_time,
        source_incident_id=sid.strip(),
        level=level,
        metadata=metadata,
        tags=tags,
        **draft_text,
    )


# --- writing ----------------------------------------------------------------------------------


def _find_tags(keys: set[str], values: set[str]) -> list[tuple[int, str, str]]:
    """``Tag.objects.filter(key__in=keys, value__in=values).values_list("pk", "key", "value")``
    as plain SQL: compiling the ORM query cost more than running it. On PostgreSQL the sets
    go as two array parameters, so the SQL text is one and psycopg caches its conversion."""
    q = connection.ops.quote_name
    table = q(Tag._meta.db_table)
    keys, values = sorted(keys), sorted(values)
    if connection.vendor == "postgresql":
        where, params = f"{q('key')} = ANY(%s) AND {q('value')} = ANY(%s)", [keys, values]
    else:
        where = (
            f"{q('key')} IN ({', '.join(['%s'] * len(keys))}) "
            f"AND {q('value')} IN ({', '.join(['%s'] * len(values))})"
        )
        params = [*keys, *values]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {q('id')}, {q('key')}, {q('value')} FROM {table} WHERE {where}", params
        )
        return cursor.fetchall()


def _tag_ids(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Get or create every tag in two or three queries, whatever their number."""
    wanted = set(pairs)
    if not wanted:
        return {}
    keys = {k for k, _ in wanted}
    values = {v for _, v in wanted}
    found = {(k, v): pk for pk, k, v in _find_tags(keys, values) if (k, v) in wanted}
    missing = wanted - found.keys()
    if missing:
        Tag.objects.bulk_create(
            [Tag(key=k, value=v) for k, v in sorted(missing)], ignore_conflicts=True
        )
        keys = {k for k, _ in missing}
        values = {v for _, v in missing}
        for pk, k, v in _find_tags(keys, values):
            if (k, v) in missing:
                found[(k, v)] = pk
    return found


RELATION_COLUMNS = ("tag_id", "incident_id", "added_by_id", "added_time")
EVENT_COLUMNS = ("incident_id", "actor_id", "timestamp", "received", "type", "description")


COPY_MIN_ROWS = 8  # fewer rows: one INSERT statement


def _copy_rows(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """PostgreSQL ``COPY ... FROM STDIN`` of plain tuples: no model instances, no ORM compile.

    About 4x cheaper in Python than ``bulk_create`` (whose UNNEST arrays psycopg dumps value by
    value). Only for rows that cannot conflict: COPY has no ``ON CONFLICT``.
    """
    quote = connection.ops.quote_name
    table = f"{quote(model._meta.db_table)} ({', '.join(map(quote, columns))})"
    if len(rows) <= COPY_MIN_ROWS:
        # A COPY is three round trips (start, data, end), a small INSERT one: a single
        # incident's event and tag relations went 3.2 -> 2.7 ms a POST.
        values = ", ".join([f"({', '.join(['%s'] * len(columns))})"] * len(rows))
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} VALUES {values}", [v for row in rows for v in row])
        return
    sql = f"COPY {table} FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


def add_tags(
    incidents_tags: list[tuple[Incident, list[tuple[str, str]]]],
    actor,
    now=None,
    *,
    fresh: Container[int] = (),
) -> None:
    """Relate tags to incidents (existing relations are kept as they are).

    ``fresh``: pks of incidents created in this transaction, which have no relation yet; on
    PostgreSQL theirs are COPYed.
    """
    tag_ids = _tag_ids(tag for _, tags in incidents_tags for tag in tags)
    now = now or timezone.now()
    pairs = dict.fromkeys(
        (tag_ids[tag], incident.pk) for incident, tags in incidents_tags for tag in tags
    )
    if fresh and connection.vendor == "postgresql":
        new = [(tag, incident, actor.pk, now) for tag, incident in pairs if incident in fresh]
        if new:
            _copy_rows(IncidentTagRelation, RELATION_COLUMNS, new)
        pairs = [pair for pair in pairs if pair[1] not in fresh]
    if pairs:
        IncidentTagRelation.objects.bulk_create(
            [
                IncidentTagRelation(
                    incident_id=incident, tag_id=tag, added_by=actor, added_time=now
                )
                for tag, incident in pairs
            ],
            ignore_conflicts=True,
        )


ROW_COLUMNS = ("id", *INCIDENT_COLUMNS)
# A batch this large may have grown the table past what the planner last saw.
STATS_CHECK_BATCH = 500
_last_analyze = 0.0


def _refresh_planner_statistics(highest_pk: int) -> None:
    """ANALYZE the incident table when a bulk load has outgrown the planner's statistics.

    A fresh database filled by a backfill has no statistics until autovacuum's next round (a
    minute away): the planner then guesses that ``source_incident_id IN (500 ids)`` matches
    the whole table and scans it, and a batch of 1,000 costs 250 ms instead of 100 ms. The
    highest pk just drawn bounds the table's size; when the planner believes in fewer than
    half as many rows, refresh it (at most every 5 s per process; the advisory lock keeps
    workers from queueing behind each other's ANALYZE).
    """
    global _last_analyze
    if time.monotonic() - _last_analyze < 5:
        return
    table = Incident._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples * 2 < %s AND pg_try_advisory_xact_lock(hashtext(%s))"
            " FROM pg_class WHERE oid = %s::regclass",
            [highest_pk, f"fleetwatch.analyze.{table}", table],
        )
        row = cursor.fetchone()
        if row and row[0]:
            _last_analyze = time.monotonic()
            cursor.execute(f'ANALYZE "{table}"')


def _store_new_incidents(incidents: list[Incident]) -> None:
    """Insert new incidents and set their pks, as ``bulk_create`` does.

    On PostgreSQL: pks drawn from the id sequence in one query (increasing, in list order, as
    ``bulk_create`` assigns them), then one COPY; a taken ``source_incident_id`` fails it with
    the same IntegrityError. Else ``bulk_create``.
    """
    if connection.vendor != "postgresql":
        Incident.objects.bulk_create(incidents, batch_size=1000)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [Incident._meta.db_table, Incident._meta.pk.column, len(incidents)],
        )
        pks = sorted(row[0] for row in cursor.fetchall())
    if len(incidents) >= STATS_CHECK_BATCH:
        transaction.on_commit(lambda: _refresh_planner_statistics(pks[-1]))
    rows = []
    for incident, pk in zip(incidents, pks, strict=True):
        incident.pk = pk
        incident._state.adding = False
        incident._state.db = connection.alias
        rows.append((pk, *pg_create.incident_values(incident)))
    _copy_rows(Incident, ROW_COLUMNS, rows)


def _store_events(events: list[Event]) -> None:
    """Insert new events (their pks are not needed): COPY on PostgreSQL, else ``bulk_create``."""
    if not events:
        return
    if connection.vendor == "postgresql":
        rows = [
            # str(): a TextChoices member would be dumped by psycopg as its enum *name*.
            (e.incident_id, e.actor_id, e.timestamp, e.received, str(e.type), e.description)
            for e in events
        ]
        _copy_rows(Event, EVENT_COLUMNS, rows)
    else:
        Event.objects.bulk_create(events, batch_size=2000)


def _initial_events(incident: Incident, actor) -> list[Event]:
    if incident.end_time is None:
        return [
            Event(
                incident=incident,
                actor=actor,
                type=Event.Type.STATELESS,
                timestamp=incident.start_time,
            )
        ]
    events = [
        Event(
            incident=incident,
            actor=actor,
            type=Event.Type.INCIDENT_START,
            timestamp=incident.start_time,
        )
    ]
    if not is_infinite(incident.end_time):
        events.append(
            Event(
                incident=incident,
                actor=actor,
                type=Event.Type.INCIDENT_END,
                timestamp=incident.end_time,
            )
        )
    return events


def _new_incident(source: SourceSystem, draft: IncidentDraft) -> Incident:
    return Incident(
        source=source,
        start_time=draft.start_time,
        end_time=draft.end_time,
        source_incident_id=draft.source_incident_id,
        details_url=draft.details_url,
        description=draft.description,
        level=draft.level,
        ticket_url=draft.ticket_url,
        metadata=draft.metadata,
    )


# Ids per lookup query. PostgreSQL uses the partial unique index (source, source_incident_id)
# only when it can prove ``source_incident_id <> ''`` (stated explicitly below) and the list is
# short enough to beat a table scan in its estimate: 1,000 ids against 115k incidents was a
# 15-30 ms seq scan, two lists of 500 are 1 ms index scans each.
EXISTING_CHUNK = 500


def _existing(source: SourceSystem, sids: Iterable[str]) -> dict[str, Incident]:
    sids = sorted(s for s in set(sids) if s)
    found: dict[str, Incident] = {}
    for start in range(0, len(sids), EXISTING_CHUNK):
        chunk = sids[start : start + EXISTING_CHUNK]
        for incident in Incident.objects.filter(
            source=source, source_incident_id__in=chunk
        ).exclude(source_incident_id=""):
            found[incident.source_incident_id] = incident
    return found


def create_incident(source: SourceSystem, actor, draft: IncidentDraft, now=None) -> Incident:
    """Create one incident; IncidentConflict if its ``source_incident_id`` is taken.

    The unique constraint is the check (no SELECT first): a duplicate fails the INSERT, the
    transaction rolls back and the existing incident is looked up for the error message.
    """
    if connection.vendor == "postgresql":
        now = now or timezone.now()
        incident = _new_incident(source, draft)
        if pg_create.create_in_one_statement(
            incident, _initial_events(incident, actor), draft.tags, actor, now
        ):
            return incident
    try:
        with transaction.atomic():
            incident = _new_incident(source, draft)
            incident.save()
            _store_events(_initial_events(incident, actor))
            add_tags([(incident, draft.tags)], actor, now, fresh={incident.pk})
    except IntegrityError:
        existing = _existing(source, [draft.source_incident_id])
        if draft.source_incident_id in existing:
            raise IncidentConflict(
                draft.source_incident_id, existing[draft.source_incident_id].pk
            ) from None
        raise
    return incident


@dataclass(slots=True)
class UpsertResult:
    incident: Incident
    status: str  # created | updated | unchanged


UPDATABLE = ("description", "level", "details_url", "ticket_url", "metadata")


def _apply_draft(incident: Incident, draft: IncidentDraft, actor, now) -> list[Event]:
    """Bring an existing incident in line with a re-sent draft; returns the events it takes."""
    events: list[Event] = []
    changes = []
    for name in UPDATABLE:
        new = getattr(draft, name)
        old = getattr(incident, name)
        # An empty value means "not given": a source that knows nothing of the ticket a
        # person filed (or of any other field) must not erase it by re-reporting.
        if new in ("", {}) and name != "level":
            continue
        if new != old:
            shown_old = f"{len(old)} item(s)" if name == "metadata" else repr(old)
            shown_new = f"{len(new)} item(s)" if name == "metadata" else repr(new)
            changes.append(f'Change: "{name}": {shown_old} → {shown_new}')
            setattr(incident, name, new)
    if changes:
        events.append(
            Event(
                incident=incident,
                actor=actor,
                type=Event.Type.INCIDENT_CHANGE,
                timestamp=now,
                description="\n".join(changes),
            )
        )
    stateful = incident.end_time is not None
    if stateful and draft.end_time is not None:
        was_open = incident.end_time > now
        will_close = not is_infinite(draft.end_time) and draft.end_time <= now
        if was_open and will_close:
            incident.end_time = draft.end_time
            events.append(
                Event(
                    incident=incident,
                    actor=actor,
                    type=Event.Type.INCIDENT_END,
                    timestamp=draft.end_time,
                )
            )
        elif not was_open and is_infinite(draft.end_time) and incident.closed_by_source:
            incident.end_time = INFINITY
            events.append(
                Event(
                    incident=incident, actor=actor, type=Event.Type.INCIDENT_RESTART, timestamp=now
                )
            )
    return events


def upsert_incidents(
    source: SourceSystem, actor, drafts: list[IncidentDraft]
) -> list[UpsertResult]:
    """Create or update by ``source_incident_id``, in batched queries, in one transaction.

    An existing incident takes the draft's description, level, URLs and metadata where the
    draft gives them (an empty value erases nothing; one CHI event lists the changes), gains
    the draft's tags (none are removed), ends when the draft carries a past ``end_time`` (END
    event) and restarts when the draft is open again after the *source* ended it (RES event;
    an incident a person closed stays closed). Drafts without ``source_incident_id`` are
    always created.
    """
    now = timezone.now()
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _upsert_batch(source, actor, drafts, now)
        except IntegrityError:
            if attempt:  # a concurrent writer created the same ids twice in a row
                raise
    raise AssertionError("unreachable")


def _upsert_batch(source, actor, drafts, now) -> list[UpsertResult]:
    # Within one batch the last draft for an id wins, as if they had been sent in order.
    existing = _existing(source, (d.source_incident_id for d in drafts))
    if existing:
        _mark_closed_by_source(existing.values())
    results: list[UpsertResult | None] = [None] * len(drafts)
    to_create: dict[str, int] = {}
    creates: list[tuple[int, Incident]] = []
    updated: dict[int, Incident] = {}
    events: list[Event] = []
    tag_work: list[tuple[Incident, list[tuple[str, str]]]] = []
    for index, draft in enumerate(drafts):
        sid = draft.source_incident_id
        incident = existing.get(sid) if sid else None
        if incident is None and sid in to_create:
            incident = creates[to_create[sid]][1]
        if incident is None:
            incident = _new_incident(source, draft)
            if sid:
                to_create[sid] = len(creates)
            creates.append((index, incident))
            results[index] = UpsertResult(incident, "created")
        elif incident.pk is None:  # duplicate within the batch, not yet stored
            for name in (*UPDATABLE, "end_time"):
                setattr(incident, name, getattr(draft, name))
            results[index] = UpsertResult(incident, "updated")
        else:
            new_events = _apply_draft(incident, draft, actor, now)
            events.extend(new_events)
            if new_events:
                updated[incident.pk] = incident
            results[index] = UpsertResult(incident, "updated" if new_events else "unchanged")
        tag_work.append((incident, draft.tags))
    if creates:
        _store_new_incidents([incident for _, incident in creates])
        for _, incident in creates:
            events.extend(_initial_events(incident, actor))
    if updated:
        Incident.objects.bulk_update(
            list(updated.values()), [*UPDATABLE, "end_time"], batch_size=1000
        )
    _store_events(events)
    add_tags(tag_work, actor, fresh={incident.pk for _, incident in creates})
    return results  # type: ignore[return-value]


def _mark_closed_by_source(incidents: Iterable[Incident]) -> None:
    """Set ``closed_by_source`` on each: was its latest END/CLO an END (one query)."""
    by_pk = {incident.pk: incident for incident in incidents}
    for incident in by_pk.values():
        incident.closed_by_source = False
    latest: dict[int, str] = {}
    rows = (
        Event.objects.filter(incident_id__in=by_pk, type__in=["END", "CLO"])
        .order_by("incident_id", "timestamp", "id")
        .values_list("incident_id", "type")
    )
    for incident_id, event_type in rows:
        latest[incident_id] = event_type
    for incident_id, event_type in latest.items():
        by_pk[incident_id].closed_by_source = event_type == "END"
