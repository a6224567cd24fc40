"""The transactional outbox: ``events_recorded`` → Delivery rows, in the events' transaction.

Every path that stores events sends ``fleetwatch.incidents.signals.events_recorded`` inside its
transaction; the receiver here matches the events against the active notification profiles
(``matching.match_event``) and bulk-inserts one pending Delivery per event and destination,
with the message rendered from the event and incident as they are at that moment. The rows
commit or roll back with the events, so a crash after the commit loses nothing (a worker
sends them later) and a rolled-back event notifies nobody.

Queries per call, whatever the number of events or profiles: none while no profile is active;
otherwise the incidents' facts (3), and when something matches the incidents and actors (2)
and one INSERT. The profiles and planned maintenance are a per-process snapshot
(``FLEETWATCH_NOTIFICATION_PROFILE_CACHE_SECONDS``), cleared at once by changes made in the
same process.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from fleetwatch.incidents.filterblob import facts_for
from fleetwatch.incidents.models import Event, Incident
from fleetwatch.incidents.signals import events_recorded
from fleetwatch.notifications import models as m
from fleetwatch.notifications.render import incident_snapshot, render_message


@dataclass(frozen=True)
class Snapshot:
    profiles: list[Any]
    maintenances: list[Any]
    media: dict[int, str]  # destination pk -> medium slug
    loaded_at: float


_lock = threading.Lock()
_snapshot: Snapshot | None = None


def clear_cache(*args, **kwargs) -> None:
    """Forget the snapshot (a profile, or its m2m relations, changed)."""
    global _snapshot
    _snapshot = None


def _clear_if_profiles(*args, **kwargs) -> None:
    """A filter, destination, time slot or maintenance changed: it can only matter while some
    profile is active (a new user's default time slot costs no reload)."""
    current = _snapshot
    if current is None or current.profiles:
        clear_cache()


post_save.connect(clear_cache, sender=m.NotificationProfile, dispatch_uid="outbox-profile-s")
post_delete.connect(clear_cache, sender=m.NotificationProfile, dispatch_uid="outbox-profile-d")
for _model in (m.Filter, m.Destination, m.Timeslot, m.TimeRecurrence, m.PlannedMaintenance):
    uid = f"outbox-{_model.__name__}"
    post_save.connect(_clear_if_profiles, sender=_model, dispatch_uid=f"{uid}-s")
    post_delete.connect(_clear_if_profiles, sender=_model, dispatch_uid=f"{uid}-d")
for _through in (
    m.NotificationProfile.filters.through,
    m.NotificationProfile.destinations.through,
    m.PlannedMaintenance.filters.through,
):
    m2m_changed.connect(clear_cache, sender=_through, dispatch_uid=f"outbox-{_through.__name__}")


def prime_empty() -> None:
    """Cache an empty snapshot (tests: a fresh database has no profiles)."""
    global _snapshot
    _snapshot = Snapshot([], [], {}, time.monotonic())


def snapshot() -> Snapshot:
    """The active profiles and the maintenance windows, loaded at most every
    ``NOTIFICATION_PROFILE_CACHE_SECONDS``."""
    global _snapshot
    from fleetwatch.notifications.matching import load_maintenances, load_profiles

    current = _snapshot
    ttl = settings.NOTIFICATION_PROFILE_CACHE_SECONDS
    if current is not None and time.monotonic() - current.loaded_at < ttl:
        return current
    with _lock:
        profiles = list(load_profiles())
        maintenances = list(load_maintenances()) if profiles else []
        ids = {pk for profile in profiles for pk in profile.destination_ids}
        media = dict(m.Destination.objects.filter(pk__in=ids).values_list("pk", "media"))
        fresh = Snapshot(profiles, maintenances, media, time.monotonic())
        if ttl > 0:
            _snapshot = fresh
        return fresh


@receiver(events_recorded, dispatch_uid="notifications-outbox")
def write_deliveries(sender, events: list[Event], **kwargs) -> list[m.Delivery]:
    """Pending Delivery rows for every (event, destination) the profiles match."""
    from fleetwatch.notifications.matching import match_event

    current = snapshot()
    if not current.profiles or not events:
        return []
    facts = facts_for({event.incident_id for event in events})
    planned: list[tuple[Event, Any]] = []
    for event in events:
        fact = facts.get(event.incident_id)
        if fact is None:
            continue
        for match in match_event(
            str(event.type), event.timestamp, fact, current.profiles, current.maintenances
        ):
            if match.destination_id in current.media:
                planned.append((event, match))
    if not planned:
        return []
    incident_ids = {event.incident_id for event, _ in planned}
    incidents = Incident.objects.select_related("source").in_bulk(incident_ids)
    actors = dict(
        get_user_model()
        .objects.filter(pk__in={event.actor_id for event, _ in planned})
        .values_list("pk", "username")
    )
    snapshots: dict[int, dict] = {}
    messages: dict[int, dict] = {}
    now = timezone.now()
    rows = []
    for event, match in planned:
        incident_pk = event.incident_id
        if incident_pk not in snapshots:
            fact = facts[incident_pk]
            snapshots[incident_pk] = incident_snapshot(
                incidents[incident_pk], list(fact.tags), fact.acked
            )
        if event.pk not in messages:
            messages[event.pk] = render_message(
                event, snapshots[incident_pk], actors.get(event.actor_id, "")
            )
        send_after = match.send_after or now
        rows.append(
            m.Delivery(
                event_id=event.pk,
                destination_id=match.destination_id,
                profile_id=match.profile_id,
                media=current.media[match.destination_id],
                next_attempt_at=max(send_after, now),
                # The engine sets send_after only for a delayed start: check it when sending.
                drop_if_resolved=match.send_after is not None,
                message=messages[event.pk],
                created=now,
            )
        )
    # ignore_conflicts: the same event announced twice (never expected) stays one message.
    return m.Delivery.objects.bulk_create(rows, ignore_conflicts=True)
