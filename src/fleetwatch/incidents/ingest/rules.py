"""The upsert rules: what a draft does to a new or an existing incident.

Every path that creates incidents goes through here: ``POST /incidents/``, the upsert and bulk
endpoints, and the vendor connectors. A batch gives the result of applying its drafts one by
one in order, exactly as the same drafts sent in separate batches would.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from fleetwatch.incidents import limits
from fleetwatch.incidents.ingest.drafts import IncidentConflict, IncidentDraft
from fleetwatch.incidents.ingest.writers import (
    add_tags,
    can_store_one,
    store_events,
    store_new_incidents,
    store_one,
    store_one_orm,
)
from fleetwatch.incidents.models import (
    INFINITY,
    Event,
    Incident,
    IncidentTagRelation,
    Level,
    SourceSystem,
    is_infinite,
)
from fleetwatch.incidents.signals import announce_tagged, record_events

UPDATABLE = ("description", "level", "details_url", "ticket_url", "metadata")
# Ids per lookup query. PostgreSQL uses the partial unique index (source, source_incident_id)
# only when it can prove ``source_incident_id <> ''`` (stated explicitly below) and the list is
# short enough to beat a table scan in its estimate: 1,000 ids against 115k incidents was a
# 15-30 ms seq scan, two lists of 500 are 1 ms index scans each.
EXISTING_CHUNK = 500


class TooManyTags(ValueError):
    """Some drafts would take their incident past ``limits.TAGS_PER_INCIDENT_MAX`` tags (an
    upsert adds tags and never removes them); ``problems`` maps each draft's index to why.
    Nothing of the batch is stored."""

    def __init__(self, problems: dict[int, str]) -> None:
        super().__init__(problems)
        self.problems = problems


@dataclass(slots=True)
class UpsertResult:
    incident: Incident
    status: str  # created | updated | unchanged


def new_incident(source: SourceSystem, draft: IncidentDraft) -> Incident:
    """An unsaved incident from a draft; fields it does not give take the model's defaults."""
    incident = Incident(
        source=source,
        start_time=draft.start_time,
        end_time=draft.end_time,
        source_incident_id=draft.source_incident_id,
        details_url=draft.details_url or "",
        description=draft.description or "",
        level=Level.INFORMATION if draft.level is None else draft.level,
        ticket_url=draft.ticket_url or "",
        metadata={} if draft.metadata is None else draft.metadata,
    )
    # Its initial events end it (END) exactly when it is born closed; see _mark_closed_by_source.
    incident.closed_by_source = draft.end_time is not None and not is_infinite(draft.end_time)
    return incident


def initial_events(incident: Incident, actor) -> list[Event]:
    def event(kind, timestamp) -> Event:
        return Event(incident=incident, actor=actor, type=kind, timestamp=timestamp)

    if incident.end_time is None:
        return [event(Event.Type.STATELESS, incident.start_time)]
    events = [event(Event.Type.INCIDENT_START, incident.start_time)]
    if not is_infinite(incident.end_time):
        events.append(event(Event.Type.INCIDENT_END, incident.end_time))
    return events


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
    now = now or timezone.now()
    if can_store_one():
        incident = new_incident(source, draft)
        events = initial_events(incident, actor)
        try:
            with transaction.atomic():  # the outbox rows (events_recorded) commit with it
                store_one(incident, events, draft.tags, actor, now)
                record_events(events)
                announce_tagged([incident])
            return incident
        except IntegrityError:
            pass  # the ORM path below says what went wrong
    incident = new_incident(source, draft)
    events = initial_events(incident, actor)
    try:
        with transaction.atomic():
            store_one_orm(incident, events, draft.tags, actor, now)
            record_events(events)
            announce_tagged([incident])
    except IntegrityError:
        existing = _existing(source, [draft.source_incident_id])
        if draft.source_incident_id in existing:
            raise IncidentConflict(
                draft.source_incident_id, existing[draft.source_incident_id].pk
            ) from None
        raise
    return incident


def apply_draft(incident: Incident, draft: IncidentDraft, actor, now) -> list[Event]:
    """Bring an incident (stored, or created earlier in the same batch) in line with a re-sent
    draft; returns the events it takes. ``incident.closed_by_source`` must be set."""
    from fleetwatch.incidents.services import change_incident  # services imports ingest

    events: list[Event] = []
    # Not given, or empty: a source that knows nothing of the ticket a person filed (or of any
    # other field) must not erase it by re-reporting.
    values = {
        name: value
        for name in UPDATABLE
        if (value := getattr(draft, name)) is not None and value not in ("", {})
    }
    # Changed in memory, stored by the batch: one CHI event listing the changes.
    if change := change_incident(incident, values, actor, now=now, save=False):
        events.append(change)
    stateful = incident.end_time is not None
    if stateful and draft.end_time is not None:
        was_open = incident.end_time > now
        will_close = not is_infinite(draft.end_time) and draft.end_time <= now
        if was_open and will_close:
            incident.end_time = draft.end_time
            incident.closed_by_source = True
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
    draft gives them (not given or empty erases nothing; one CHI event lists the changes),
    gains the draft's tags (none are removed), ends when the draft carries a past ``end_time``
    (END event) and restarts when the draft is open again after the *source* ended it (RES
    event; an incident a person closed stays closed). Drafts without ``source_incident_id``
    are always created. Several drafts for one id are applied in order, the first creating
    the incident if it is new: the same result as sending them one at a time.
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
    existing = _existing(source, (d.source_incident_id for d in drafts))
    if existing:
        _mark_closed_by_source(existing.values())
    results: list[UpsertResult] = []
    creates: list[Incident] = []
    updated: dict[int, Incident] = {}
    events: list[Event] = []
    tag_work: list[tuple[Incident, list[tuple[str, str]]]] = []
    for draft in drafts:
        sid = draft.source_incident_id
        incident = existing.get(sid) if sid else None
        if incident is None:
            incident = new_incident(source, draft)
            if sid:  # a later draft for this id applies to it, as to a stored one
                existing[sid] = incident
            creates.append(incident)
            events.extend(initial_events(incident, actor))
            results.append(UpsertResult(incident, "created"))
        else:
            new_events = apply_draft(incident, draft, actor, now)
            events.extend(new_events)
            if new_events and incident.pk is not None:
                updated[incident.pk] = incident
            results.append(UpsertResult(incident, "updated" if new_events else "unchanged"))
        tag_work.append((incident, draft.tags))
    if problems := tag_cap_problems(tag_work):
        raise TooManyTags(problems)
    if creates:
        store_new_incidents(creates)
    if updated:
        Incident.objects.bulk_update(
            list(updated.values()), [*UPDATABLE, "end_time"], batch_size=1000
        )
    store_events(events)
    add_tags(tag_work, actor, fresh={incident.pk for incident in creates})
    record_events(events)
    announce_tagged(list({incident.pk: incident for incident, _ in tag_work}.values()))
    return results


def upsert_allowed(
    source: SourceSystem, actor, drafts: list[IncidentDraft]
) -> tuple[dict[int, UpsertResult], dict[int, str]]:
    """``upsert_incidents`` for the drafts that keep their incident within the tag cap:
    ``({index: result}, {index: why refused})``. Refusing a draft only shrinks the tag sets
    the others build, so a second pass passes unless a concurrent writer added tags."""
    refused: dict[int, str] = {}
    indexes = list(range(len(drafts)))
    while indexes:
        try:
            results = upsert_incidents(source, actor, [drafts[i] for i in indexes])
        except TooManyTags as exc:
            for position, problem in exc.problems.items():
                refused[indexes[position]] = problem
            indexes = [i for position, i in enumerate(indexes) if position not in exc.problems]
            continue
        return dict(zip(indexes, results, strict=True)), refused
    return {}, refused


def tag_cap_problems(tag_work: list[tuple[Incident, list[tuple[str, str]]]]) -> dict[int, str]:
    """``{index: why}`` for the entries of ``tag_work`` (one per draft, in order) after which
    their incident would hold more than ``limits.TAGS_PER_INCIDENT_MAX`` tags, counting the
    tags it holds and those earlier drafts of the batch give it.

    Inside the upsert's transaction, so the count is the one the write sees. One aggregate
    query when a stored incident gains tags; the stored tag sets are read only for incidents
    that could pass the cap.
    """
    cap = limits.TAGS_PER_INCIDENT_MAX
    given: dict[int, int] = {}  # by id(incident): new incidents of the batch have no pk yet
    for incident, tags in tag_work:
        given[id(incident)] = given.get(id(incident), 0) + len(tags)
    stored = {incident.pk for incident, tags in tag_work if tags and incident.pk is not None}
    counts: dict[int, int] = {}
    if stored:
        counts = dict(
            Incident.objects.filter(pk__in=stored)
            .annotate(n=Count("tag_relations"))
            .values_list("pk", "n")
        )
    # Keyed by id(): a batch holds one object per incident, and unsaved models are unhashable.
    suspects = {id(i) for i, _ in tag_work if counts.get(i.pk, 0) + given[id(i)] > cap}
    if not suspects:
        return {}
    stored_tags = _stored_tags({i.pk for i, _ in tag_work if id(i) in suspects and i.pk})
    held: dict[int, set[tuple[str, str]]] = {}
    problems: dict[int, str] = {}
    for index, (incident, tags) in enumerate(tag_work):
        if id(incident) not in suspects:
            continue
        before = held.setdefault(id(incident), set(stored_tags.get(incident.pk, ())))
        after = before | set(tags)
        if len(after) > cap and len(after) > len(before):
            name = incident.source_incident_id or "(new)"
            problems[index] = (
                f"{limits.tag_count_problem(len(after))} Incident {name!r} would have {len(after)}."
            )
        else:
            before |= after
    return problems


def _stored_tags(pks: set[int]) -> dict[int, set[tuple[str, str]]]:
    """The tags (key, value) the incidents ``pks`` hold, in one query."""
    held: dict[int, set[tuple[str, str]]] = {pk: set() for pk in pks}
    if pks:
        rows = IncidentTagRelation.objects.filter(incident_id__in=pks).values_list(
            "incident_id", "tag__key", "tag__value"
        )
        for pk, key, value in rows:
            held[pk].add((key, value))
    return held


def _mark_closed_by_source(incidents: Iterable[Incident]) -> None:
    """Set ``closed_by_source`` on each: was its latest END/CLO an END (one query)."""
    by_pk = {incident.pk: incident for incident in incidents}
    for incident in by_pk.values():
        incident.closed_by_source = False
    latest: dict[int, str] = {}
    rows = (
        Event.objects.filter(
            incident_id__in=by_pk, type__in=[Event.Type.INCIDENT_END, Event.Type.CLOSE]
        )
        .order_by("incident_id", "timestamp", "id")
        .values_list("incident_id", "type")
    )
    for incident_id, event_type in rows:
        latest[incident_id] = event_type
    for incident_id, event_type in latest.items():
        by_pk[incident_id].closed_by_source = event_type == Event.Type.INCIDENT_END
