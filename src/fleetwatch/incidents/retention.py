"""Retention: deleting old incidents for good (Argus keeps everything forever, #250).

Only incidents that can never change state again are deleted: stateful incidents that
*ended* more than ``days`` ago, and stateless ones that *started* more than ``days`` ago
(a stateless incident is never open; left alone they would pile up forever). Open incidents
are never touched, however old. Each goes with its events, acknowledgements and tag
relations.

The work is done in batches, each in its own short transaction, so a first pass over years
of history never holds locks for long or fills memory. On PostgreSQL a batch's incidents are
claimed with ``FOR UPDATE SKIP LOCKED``, so several workers pruning at once split the work
instead of waiting for each other.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from fleetwatch.incidents.models import Event, Incident, IncidentTagRelation

log = logging.getLogger("fleetwatch.retention")
DB = "default"


def expired_incidents(days: int, now: datetime | None = None) -> QuerySet:
    """Incidents older than the retention: ended, or stateless, more than ``days`` ago."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Incident.objects.filter(
        Q(end_time__lte=cutoff) | Q(end_time__isnull=True, start_time__lte=cutoff)
    )


@dataclass
class PruneResult:
    incidents: int = 0
    batches: int = 0


def prune_incidents(
    days: int, batch_size: int = 500, now: datetime | None = None, max_batches: int | None = None
) -> PruneResult:
    """Delete expired incidents in batches of ``batch_size``; returns what was deleted."""
    if days <= 0:
        raise ValueError("retention days must be positive")
    result = PruneResult()
    expired = expired_incidents(days, now).order_by("pk")
    while max_batches is None or result.batches < max_batches:
        with transaction.atomic():
            ids = list(
                expired.select_for_update(skip_locked=True).values_list("pk", flat=True)[
                    :batch_size
                ]
            )
            if not ids:
                break
            # The bulky dependants go with one plain DELETE each (the ORM's collector would
            # first load every event row into memory); the incidents themselves go through
            # the collector, so any model that later refers to incidents is handled too.
            events = Event.objects.filter(incident_id__in=ids)
            # Rows of other apps that refer to events (the notification outbox) go first,
            # found through the model's relations: incidents/ does not know those apps.
            for relation in Event._meta.related_objects:
                relation.related_model._base_manager.filter(
                    **{f"{relation.field.name}__in": events.values("pk")}
                )._raw_delete(DB)
            events._raw_delete(DB)
            IncidentTagRelation.objects.filter(incident_id__in=ids)._raw_delete(DB)
            Incident.objects.filter(pk__in=ids).delete()
        result.incidents += len(ids)
        result.batches += 1
        if len(ids) < batch_size:
            break
    if result.incidents:
        log.info(
            "retention: deleted %d incidents older than %d days (%d batches)",
            result.incidents,
            days,
            result.batches,
        )
    return result


def prune_task_results(days: int, batch_size: int = 500, now: datetime | None = None) -> int:
    """Delete finished background-task rows (successful or failed) older than ``days``."""
    from django_tasks_db.models import DBTaskResult

    if days <= 0:
        raise ValueError("retention days must be positive")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = DBTaskResult.objects.finished().filter(finished_at__lte=cutoff).order_by()
    deleted = 0
    while True:
        ids = list(old.values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        DBTaskResult.objects.filter(id__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch_size:
            break
    if deleted:
        log.info("retention: deleted %d finished task results older than %d days", deleted, days)
    return deleted
