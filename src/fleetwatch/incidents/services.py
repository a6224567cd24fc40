"""Incident services: the domain operations every face calls.

The API views, the bulk endpoints, upsert/bulk ingest, the connectors, the admin and the web
console to come all change incidents through these functions, so the rules (who may, what is
valid, which event records it) exist once. Views parse a request, call one of these and render
the result; nothing here knows about HTTP.

Every change to an incident's fields is recorded as one CHI event whose description lists the
changes, one line each, in the shape Argus uses: ``Change: "level": 2 → 1``.
"""

from collections.abc import Iterable, Mapping, Sized
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from fleetwatch.incidents import limits

# Re-exported (``as``): the event services are part of this module's interface.
from fleetwatch.incidents.events import EventRefused as EventRefused
from fleetwatch.incidents.events import IncidentMissing as IncidentMissing
from fleetwatch.incidents.events import acknowledge as acknowledge
from fleetwatch.incidents.events import acknowledge_many as acknowledge_many
from fleetwatch.incidents.events import bulk_refusal
from fleetwatch.incidents.events import post_event as post_event
from fleetwatch.incidents.events import post_events as post_events
from fleetwatch.incidents.ingest import InvalidIncident, add_tags, parse_incident
from fleetwatch.incidents.models import (
    Acknowledgement,
    Event,
    Incident,
    IncidentTagRelation,
)
from fleetwatch.incidents.permissions import (
    require_change_ack,
    require_change_incident,
    require_delete_incident,
)
from fleetwatch.incidents.signals import (
    announce_deleting,
    announce_tagged,
    announce_untagged,
    record_events,
)
from fleetwatch.incidents.tags import format_tag

if TYPE_CHECKING:
    from fleetwatch.accounts.models import User

#: The fields a change may set, in the order their lines appear in the CHI event.
FIELDS = ("details_url", "ticket_url", "description", "level", "metadata")
TAG_NOT_YOURS = "Cannot remove this tag when you're not the one who added it."


class InvalidChange(InvalidIncident):
    """A change the rules refuse; ``errors`` maps each field (or tag) to its problem."""


def incident_for_change(pk: int) -> Incident:
    """As much of incident ``pk`` as the write services read (its pk and ``source_id``; other
    fields load on access), or Incident.DoesNotExist.

    Plain SQL: an ack POST spent about three quarters of its CPU building the full render
    queryset (state annotations, tag prefetch) for a response that shows none of it, and
    compiling even ``only("id", "source_id").get()`` cost more than running it.
    """
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {q('source_id')} FROM {q(Incident._meta.db_table)} WHERE {q('id')} = %s",
            [pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Incident.DoesNotExist(f"No incident {pk}.")
    return Incident.from_db(connection.alias, ["id", "source_id"], [pk, row[0]])


# --- the one "Change: ..." text ---------------------------------------------------------------


def shown(name: str, value: object) -> str:
    """A value as a change line shows it: metadata by size, tags sorted, the rest by repr."""
    if name == "metadata" and isinstance(value, Sized):
        return f"{len(value)} item(s)"
    if name == "tags" and isinstance(value, Iterable):
        return str(sorted(value))
    if isinstance(value, datetime):
        return repr(value.isoformat())
    return repr(value)


def describe_change(name: str, old: object, new: object) -> str:
    """``Change: "level": 2 → 1`` — one changed field, as Argus writes it."""
    return f'Change: "{name}": {shown(name, old)} → {shown(name, new)}'


def change_description(changes: Mapping[str, tuple[object, object]]) -> str:
    """Every ``name: (old, new)`` of one change, one line each (a CHI event's description)."""
    return "\n".join(describe_change(name, old, new) for name, (old, new) in changes.items())


# --- changing incidents -----------------------------------------------------------------------


def _tag_texts(incident: Incident) -> dict[str, IncidentTagRelation]:
    return {format_tag(r.tag.key, r.tag.value): r for r in incident.tag_relations.all()}


def _diff(incident: Incident, values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    unknown = set(values) - {*FIELDS, "tags"}
    if unknown:
        raise ValueError(f"Not changeable: {', '.join(sorted(unknown))}")
    changes = {
        name: (getattr(incident, name), values[name])
        for name in FIELDS
        if name in values and values[name] != getattr(incident, name)
    }
    if "tags" in values:
        old = set(_tag_texts(incident))
        new = {format_tag(k, v) for k, v in values["tags"]}
        if old != new:
            changes["tags"] = (old, new)
    return changes


def _set_tags(incident: Incident, old: set[str], new: set[str], actor: "User") -> None:
    """Tags as a set: add what is new, remove what is gone (only one's own, unless superuser)."""
    relations = _tag_texts(incident)
    removing = [relations[text] for text in sorted(old - new)]
    refused = {
        format_tag(r.tag.key, r.tag.value): TAG_NOT_YOURS
        for r in removing
        if r.added_by_id != actor.pk and not actor.is_superuser
    }
    if refused:
        raise InvalidChange(refused)
    if removing:
        IncidentTagRelation.objects.filter(pk__in=[r.pk for r in removing]).delete()
        announce_untagged([incident.pk])
    adding = [(key, value) for key, _, value in (t.partition("=") for t in sorted(new - old))]
    add_tags([(incident, adding)], actor)


def change_incident(
    incident: Incident,
    values: Mapping[str, object],
    actor: "User",
    *,
    now: datetime | None = None,
    save: bool = True,
) -> Event | None:
    """Set ``values`` (already valid: see ``parse_changes``) on ``incident`` as ``actor``.

    Returns the CHI event recording what changed, or None when nothing did. ``values`` may hold
    any of ``FIELDS`` and ``tags`` (``(key, value)`` pairs; the full set: missing tags are
    removed). Raises NotAllowed (see ``permissions``) or InvalidChange.

    ``save=False`` is for batched writers (bulk ticket_url, upsert): the incident is changed in
    memory only and the event returned unsaved; the caller stores both in its own batch
    (``tags`` cannot be batched this way).
    """
    require_change_incident(actor, incident)
    now = now or timezone.now()
    changes = _diff(incident, values)
    if not changes:
        return None
    if not save and "tags" in changes:
        raise ValueError("Tags cannot be changed without saving.")
    event = Event(
        incident=incident,
        actor=actor,
        type=Event.Type.INCIDENT_CHANGE,
        timestamp=now,
        description=change_description(changes),
    )
    fields = [name for name in changes if name != "tags"]
    if not save:
        for name in fields:
            setattr(incident, name, changes[name][1])
        return event
    with transaction.atomic():
        if "tags" in changes:  # first: a refused removal leaves the incident as it was
            _set_tags(incident, *changes["tags"], actor)
            announce_tagged([incident])
        for name in fields:
            setattr(incident, name, changes[name][1])
        if fields:
            incident.save(update_fields=fields)
        event.save()
        record_events([event])
    return event


def parse_changes(incident: Incident, data: Mapping[str, object]) -> dict[str, object]:
    """Raw values (decoded JSON, form data) checked by the rules of creation; InvalidIncident
    names each bad field. Only the names in ``FIELDS`` and ``tags`` are read."""
    probe: dict[str, object] = {"start_time": incident.start_time, "tags": data.get("tags", [])}
    probe.update({name: data[name] for name in FIELDS if name in data})
    draft = parse_incident(probe)
    values = {name: getattr(draft, name) for name in FIELDS if name in data}
    if "tags" in data:
        values["tags"] = draft.tags
    return values


def edit_incident(incident: Incident, data: Mapping[str, object], actor: "User") -> Event | None:
    """A person's or a source's edit (PATCH/PUT, a console form): may they, is it valid, do it.

    ``incident`` should have its tag relations prefetched (``tag_relations__tag``).
    """
    require_change_incident(actor, incident)
    return change_incident(incident, parse_changes(incident, data), actor)


def change_incidents(
    ids: Iterable[int], values: Mapping[str, object], actor: "User"
) -> dict[int, Event | Exception | None]:
    """The same change on many incidents in a constant number of queries (bulk ticket_url).

    Per id: the CHI event, None (nothing to change), IncidentMissing or NotAllowed — an incident
    the actor may not change is left as it is.
    """
    ids = list(dict.fromkeys(ids))
    now = timezone.now()
    found = Incident.objects.in_bulk(ids)
    results: dict[int, Event | Exception | None] = {}
    changed: list[Incident] = []
    events: list[Event] = []
    fields: set[str] = set()
    for pk in ids:
        incident = found.get(pk)
        if (refusal := bulk_refusal(actor, pk, incident)) is not None:
            results[pk] = refusal
        elif incident is not None:
            fields.update(name for name in values if values[name] != getattr(incident, name))
            event = change_incident(incident, values, actor, now=now, save=False)
            results[pk] = event
            if event is not None:
                changed.append(incident)
                events.append(event)
    if changed:
        with transaction.atomic():
            Incident.objects.bulk_update(changed, sorted(fields), batch_size=1000)
            Event.objects.bulk_create(events, batch_size=1000)
            record_events(events)
    return results


def change_ticket_url(incident: Incident, url: str, actor: "User") -> Event | None:
    """``PUT incidents/<pk>/ticket_url/``: one field, recorded as any other change."""
    return change_incident(incident, {"ticket_url": url}, actor)


# --- tags, deletion ---------------------------------------------------------------------------


def add_tag(incident: Incident, tag: tuple[str, str], actor: "User") -> None:
    """Relate one tag (kept as it is when already there); InvalidChange if it would take the
    incident past ``limits.TAGS_PER_INCIDENT_MAX`` tags."""
    require_change_incident(actor, incident)
    current = set(
        IncidentTagRelation.objects.filter(incident=incident).values_list("tag__key", "tag__value")
    )
    if tag not in current and (problem := limits.tag_count_problem(len(current) + 1)):
        raise InvalidChange({"tag": [problem]})
    with transaction.atomic():
        add_tags([(incident, [tag])], actor)
        announce_tagged([incident])


def remove_tag(relation: IncidentTagRelation, actor: "User") -> None:
    """Remove a tag from its incident (only one's own, unless superuser); a tag no incident
    has any more is deleted."""
    require_change_incident(actor, relation.incident)
    if relation.added_by_id != actor.pk and not actor.is_superuser:
        text = format_tag(relation.tag.key, relation.tag.value)
        raise InvalidChange({text: TAG_NOT_YOURS})
    with transaction.atomic():
        tag = relation.tag
        relation.delete()
        announce_untagged([relation.incident_id])
        if not tag.incident_relations.exists():
            tag.delete()


def delete_incident(incident: Incident, actor: "User") -> None:
    """Delete an incident with its events and acks (when incidents are not indelible)."""
    require_delete_incident(actor, incident)
    with transaction.atomic():
        announce_deleting([incident.pk])
        Acknowledgement.objects.filter(event__incident=incident).delete()
        Event.objects.filter(incident=incident).delete()
        incident.delete()


# --- acknowledgements -------------------------------------------------------------------------


def change_ack_expiration(
    ack: Acknowledgement, expiration: datetime | None, actor: "User"
) -> Acknowledgement:
    """Move an acknowledgement's expiry (None: never), recorded as an OTH event.

    Only the author or a superuser may (one user silently un-acking another's incident is
    what Argus allows); an expired ack stays as it is, and the new expiry must be in the
    future. ``ack.event`` should be loaded.
    """
    require_change_ack(actor, ack)
    if ack.expired:
        raise InvalidChange({"expiration": ["Cannot change expired Acknowledgement."]})
    now = timezone.now()
    if expiration is not None and expiration <= now:
        raise InvalidChange(
            {
                "expiration": [
                    f"'expiration' must be later than current moment ({now.isoformat()}) or null."
                ]
            }
        )
    if expiration == ack.expiration:
        return ack
    old = ack.expiration
    with transaction.atomic():
        ack.expiration = expiration
        ack.save(update_fields=["expiration"])
        event = Event.objects.create(
            incident_id=ack.event.incident_id,
            actor=actor,
            type=Event.Type.OTHER,
            timestamp=now,
            description=describe_change(f"acknowledgement {ack.pk} expiration", old, expiration),
        )
        record_events([event])
    return ack
