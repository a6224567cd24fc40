"""Which destinations hear about an event: profiles and maintenance matched in memory.

:func:`load_profiles` and :func:`load_maintenances` read every active profile and every
planned maintenance that can still matter in a constant number of queries (4 and 2), into
plain snapshots; :func:`match_event` then needs no query at all, however many profiles
there are, so the outbox costs the same SQL per event with 1 profile or 10 000. Caching the
snapshots is the caller's business (``notifications.outbox``).

Rules:

* A planned maintenance covers an event when its window covers the event's ``timestamp`` and
  every one of its filters matches the incident (and the event, for ``event_types``); a
  maintenance without filters covers nothing. A covered event notifies nobody.
* A profile matches when it and its owner are active, its time slot contains the event's
  timestamp on its owner's wall clock, and any of its filters matches (a union; no filters:
  nothing).
* At most one message per event and destination: when several profiles (of one user, or a
  destination shared some other way) match, the one that sends soonest wins — no delay before
  a delay, then the lowest profile id.
* ``delay_minutes`` holds back the notification of an *incident start* (``STA``) until
  ``timestamp + delay`` (``Match.send_after``); the sender drops it if by then the incident
  has ended or been acknowledged. Other events are sent at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from fleetwatch.incidents.filterblob import FilterSpec, IncidentFacts, parse_filter
from fleetwatch.incidents.models import Event
from fleetwatch.notifications.schedule import (
    Recurrence,
    Window,
    recurrence_covers,
    timeslot_contains,
)

logger = logging.getLogger(__name__)

#: Event types whose notification a profile's delay holds back.
DELAYED_TYPES = frozenset({Event.Type.INCIDENT_START})
#: Maintenance that ended longer ago than this is not loaded: an event stamped that far in
#: the past is judged without it.
MAINTENANCE_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    profile_id: int
    user_id: int
    tz: tzinfo
    recurrences: tuple[Recurrence, ...]
    filters: tuple[FilterSpec, ...]
    destination_ids: tuple[int, ...]
    delay: timedelta | None = None

    def wants(
        self,
        event_type: str,
        event_time: datetime,
        facts: IncidentFacts,
        local: datetime | None = None,
    ) -> bool:
        """Filters first (cheap and selective), then the time slot; ``local`` is
        ``event_time`` on this profile's wall clock, if the caller already has it."""
        for spec in self.filters:
            if spec.matches(facts, event_type):
                break
        else:
            return False
        if local is None:
            return timeslot_contains(self.recurrences, event_time, self.tz)
        return any(recurrence_covers(r, local) for r in self.recurrences)


@dataclass(frozen=True, slots=True)
class MaintenanceSpec:
    maintenance_id: int
    filters: tuple[FilterSpec, ...]
    windows: tuple[Window, ...]

    def covers(self, event_type: str, event_time: datetime, facts: IncidentFacts) -> bool:
        return (
            bool(self.filters)
            and any(window.covers(event_time) for window in self.windows)
            and all(spec.matches(facts, event_type) for spec in self.filters)
        )


@dataclass(frozen=True, slots=True)
class Match:
    profile_id: int
    destination_id: int
    #: None: send now; else not before this instant (and only if still open and unacked).
    send_after: datetime | None = None


def match_event(
    event_type: str,
    event_time: datetime,
    facts: IncidentFacts,
    profiles: Iterable[ProfileSpec],
    maintenances: Iterable[MaintenanceSpec] = (),
) -> list[Match]:
    """One :class:`Match` per destination that should hear of the event, by destination id."""
    if any(m.covers(event_type, event_time, facts) for m in maintenances):
        return []
    best: dict[int, Match] = {}
    local_times: dict[tzinfo, datetime] = {}
    for profile in profiles:
        local = local_times.get(profile.tz)
        if local is None:
            local = local_times[profile.tz] = event_time.astimezone(profile.tz)
        if not profile.wants(event_type, event_time, facts, local):
            continue
        send_after = None
        if profile.delay and event_type in DELAYED_TYPES:
            send_after = event_time + profile.delay
        for destination_id in profile.destination_ids:
            match = Match(profile.profile_id, destination_id, send_after)
            current = best.get(destination_id)
            if current is None or _sooner(match, current):
                best[destination_id] = match
    return [best[pk] for pk in sorted(best)]


def _sooner(a: Match, b: Match) -> bool:
    def key(m: Match) -> tuple[bool, datetime, int]:
        return (m.send_after is not None, m.send_after or _EPOCH, m.profile_id)

    return key(a) < key(b)


_EPOCH = datetime.min.replace(tzinfo=UTC)


# -- loading ---------------------------------------------------------------------------------


def load_profiles() -> list[ProfileSpec]:
    """Every active profile of an active user as a snapshot, in four queries whatever their
    number (a deactivated account hears nothing)."""
    from fleetwatch.notifications.models import NotificationProfile, TimeRecurrence

    active = NotificationProfile.objects.filter(active=True, user__is_active=True)
    rows = list(
        active.order_by("pk").values_list(
            "pk", "user_id", "user__time_zone", "timeslot_id", "delay_minutes"
        )
    )
    if not rows:
        return []
    recurrences: dict[int, list[Recurrence]] = defaultdict(list)
    for timeslot_id, days, start, end in (
        TimeRecurrence.objects.filter(timeslot_id__in=active.values("timeslot_id"))
        .order_by("pk")
        .values_list("timeslot_id", "days", "start", "end")
    ):
        recurrences[timeslot_id].append(Recurrence(frozenset(days or ()), start, end))
    filters = _filters_of(
        NotificationProfile.filters.through.objects.filter(
            notificationprofile__active=True
        ).values_list("notificationprofile_id", "filter_id", "filter__filter")
    )
    destinations: dict[int, list[int]] = defaultdict(list)
    for profile_id, destination_id in (
        NotificationProfile.destinations.through.objects.filter(notificationprofile__active=True)
        .order_by("destination_id")
        .values_list("notificationprofile_id", "destination_id")
    ):
        destinations[profile_id].append(destination_id)
    return [
        ProfileSpec(
            profile_id=pk,
            user_id=user_id,
            tz=_zone(time_zone or settings.TIME_ZONE),
            recurrences=tuple(recurrences[timeslot_id]),
            filters=filters.get(pk, ()),
            destination_ids=tuple(destinations[pk]),
            delay=timedelta(minutes=delay) if delay else None,
        )
        for pk, user_id, time_zone, timeslot_id, delay in rows
    ]


def load_maintenances(now: datetime | None = None) -> list[MaintenanceSpec]:
    """Every planned maintenance that has not ended (or ended within
    :data:`MAINTENANCE_LOOKBACK`) as a snapshot, in two queries."""
    from fleetwatch.notifications.models import PlannedMaintenance

    now = now or timezone.now()
    current = PlannedMaintenance.objects.filter(
        Q(end_time__isnull=True) | Q(end_time__gt=now - MAINTENANCE_LOOKBACK)
    )
    rows = list(
        current.order_by("pk").values_list("pk", "start_time", "end_time", "recurrence", "duration")
    )
    if not rows:
        return []
    filters = _filters_of(
        PlannedMaintenance.filters.through.objects.filter(
            plannedmaintenance_id__in=current.values("pk")
        ).values_list("plannedmaintenance_id", "filter_id", "filter__filter")
    )
    specs = []
    for pk, start, end, recurrence, duration in rows:
        try:
            window = _window(start, end, recurrence, duration, settings.TIME_ZONE)
        except ValueError as exc:
            logger.warning("Planned maintenance %s has an unusable recurrence: %s", pk, exc)
            continue
        specs.append(MaintenanceSpec(pk, filters.get(pk, ()), (window,)))
    return specs


def _filters_of(rows: Iterable[tuple[int, int, object]]) -> dict[int, tuple[FilterSpec, ...]]:
    """owner pk → its parsed filters, each stored blob parsed once."""
    parsed: dict[int, FilterSpec] = {}
    by_owner: dict[int, list[FilterSpec]] = defaultdict(list)
    for owner_id, filter_id, blob in sorted(rows, key=lambda row: (row[0], row[1])):
        if filter_id not in parsed:
            parsed[filter_id] = _parse_stored(filter_id, blob)
        by_owner[owner_id].append(parsed[filter_id])
    return {owner: tuple(specs) for owner, specs in by_owner.items()}


def _parse_stored(filter_id: int, blob: object) -> FilterSpec:
    """A stored blob the API validated; one that no longer parses matches nothing (logged)."""
    try:
        return parse_filter(blob)
    except ValidationError as exc:
        logger.warning("Filter %s cannot be used and matches nothing: %s", filter_id, exc)
        return FilterSpec()


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        logger.warning("Unknown time zone %r; using %s", name, settings.TIME_ZONE)
        return ZoneInfo(settings.TIME_ZONE)


@lru_cache(maxsize=1024)
def _window(
    start: datetime, end: datetime | None, recurrence: str, duration: timedelta | None, tz: str
) -> Window:
    """Kept across snapshot reloads: each maintenance's RRULE is parsed once per process."""
    return Window.build(start, end, recurrence, duration, ZoneInfo(tz))
