"""The console's notification forms: each ``save_*`` reads a POSTed form, applies it to a new
or existing object of ``user`` and saves it, or raises Django's ``ValidationError`` naming the
field. The rules are the notifications app's (model ``clean``, ``notifications.services``,
``notifications.validation``), the same the API's serializers call; nothing is checked twice
in two ways.
"""

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime, parse_time

from fleetwatch.accounts.models import User
from fleetwatch.incidents.validation import storable_datetime
from fleetwatch.notifications import services
from fleetwatch.notifications.filtering import usable_filters
from fleetwatch.notifications.media import get_medium
from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)
from fleetwatch.notifications.models.profiles import ALL_DAY_END, ALL_DAY_START
from fleetwatch.notifications.validation import MAX_DELAY_MINUTES

#: The filter-blob keys the console's filter form edits; any other key of a stored filter
#: (made through the API) is kept as it is.
FORM_KEYS = ("open", "acked", "maxlevel", "sourceSystemIds", "tags")


def blob_from(data: QueryDict) -> dict[str, Any]:
    """The filter bar of the filter form as a filter blob (absent fields: no condition)."""
    blob: dict[str, Any] = {}
    for name in ("open", "acked"):
        if data.get(name) in ("true", "false"):
            blob[name] = data[name] == "true"
    maxlevel = data.get("maxlevel", "")
    if maxlevel.isdigit():
        blob["maxlevel"] = int(maxlevel)
    ids = [int(pk) for pk in data.getlist("sourceSystemIds") if pk.isdigit()]
    if ids:
        blob["sourceSystemIds"] = ids
    tags = [t.strip() for t in data.get("tags", "").split(",") if t.strip()]
    if tags:
        blob["tags"] = tags
    return blob


def _ids(data: QueryDict, name: str) -> list[int]:
    """The pks POSTed as ``name``; anything that is not one is a form error, not ignored."""
    values = data.getlist(name)
    if any(not v.isdigit() or len(v) > 18 for v in values):
        raise ValidationError({name: ["Choose from the list."]})
    return [int(v) for v in values]


def _chosen(queryset: QuerySet[Any], data: QueryDict, name: str) -> list[Any]:
    """The objects of ``queryset`` POSTed as ``name``; a pk outside it is a form error."""
    wanted = set(_ids(data, name))
    found = list(queryset.filter(pk__in=wanted))
    if len(found) != len(wanted):
        raise ValidationError({name: ["Choose from the list."]})
    return found


def _save(instance: Any, after: Callable[[], object] | None = None) -> None:
    """``full_clean`` and save (and ``after()`` in the same transaction); a race with the
    database's unique constraints is a form error too."""
    instance.full_clean()
    try:
        with transaction.atomic():
            instance.save()
            if after is not None:
                after()
    except IntegrityError:
        raise ValidationError({"name": ["Another object of yours has that name."]}) from None


def save_filter(user: User, data: QueryDict, instance: Filter | None = None) -> Filter:
    stored = instance or Filter(user=user)
    stored.name = data.get("name", "").strip()
    kept = {k: v for k, v in (stored.filter or {}).items() if k not in FORM_KEYS}
    stored.filter = {**kept, **blob_from(data)}
    if instance is not None:
        stored.public = data.get("public") == "on"
    services.check_unique_name(Filter, user, stored.name, instance)
    _save(stored)
    return stored


def _time(raw: str, name: str) -> time:
    try:
        value = parse_time(raw or "")
    except ValueError:  # well-formed but impossible: 25:99
        value = None
    if value is None:
        raise ValidationError({name: ["Enter a time (HH:MM)."]})
    return value


def _recurrence(data: QueryDict, suffix: str) -> TimeRecurrence:
    days = [int(d) for d in data.getlist(f"days{suffix}") if d.isdigit()]
    if data.get(f"allday{suffix}") == "on":
        start, end = ALL_DAY_START, ALL_DAY_END
    else:
        start, end = (
            _time(data.get(f"start{suffix}", ""), "start"),
            _time(data.get(f"end{suffix}", ""), "end"),
        )
    recurrence = TimeRecurrence(days=days, start=start, end=end)
    recurrence.clean()  # clean_days: weekdays 1–7, at least one
    return recurrence


def _recurrences(data: QueryDict) -> list[TimeRecurrence]:
    """The add form's one recurrence (``days``/``start``/``end``), or the edit form's rows
    ``days-<i>``…; a row marked ``remove-<i>`` goes, the blank last row is ignored."""
    if "rows" not in data:
        return [_recurrence(data, "")]
    rows = data.get("rows", "")
    if not rows.isdigit() or int(rows) > 50:
        raise ValidationError({"rows": ["Reload the page and try again."]})
    found = []
    for i in range(int(rows)):
        blank = not data.getlist(f"days-{i}") and data.get(f"new-{i}") == "1"
        if data.get(f"remove-{i}") == "on" or blank:
            continue
        found.append(_recurrence(data, f"-{i}"))
    return found


def save_timeslot(user: User, data: QueryDict, instance: Timeslot | None = None) -> Timeslot:
    """A time slot and its weekly recurrences (end ≤ start: past midnight), replaced whole."""
    slot = instance or Timeslot(user=user)
    slot.name = data.get("name", "").strip()
    recurrences = _recurrences(data)
    services.check_unique_name(Timeslot, user, slot.name, instance)

    def store_recurrences() -> None:
        slot.time_recurrences.all().delete()
        for recurrence in recurrences:
            recurrence.timeslot = slot
        TimeRecurrence.objects.bulk_create(recurrences)

    _save(slot, store_recurrences)
    return slot


def _delay(data: QueryDict) -> int | None:
    raw = data.get("delay_minutes", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DELAY_MINUTES:
        raise ValidationError(
            {"delay_minutes": [f"Enter a whole number of minutes, 1 to {MAX_DELAY_MINUTES}."]}
        )
    return int(raw)


def save_profile(
    user: User, data: QueryDict, instance: NotificationProfile | None = None
) -> NotificationProfile:
    """A profile: one of the user's time slots, filters they may use, their destinations."""
    timeslot = Timeslot.objects.filter(user=user, pk=_one_id(data, "timeslot")).first()
    if timeslot is None:
        raise ValidationError({"timeslot": ["Choose one of your time slots."]})
    filters = _chosen(usable_filters(user), data, "filters")
    destinations = _chosen(Destination.objects.filter(user=user), data, "destinations")
    profile = instance or NotificationProfile(user=user)
    profile.name = data.get("name", "").strip() or None
    profile.timeslot = timeslot
    profile.active = data.get("active") == "on"
    profile.delay_minutes = _delay(data)
    services.check_unique_name(NotificationProfile, user, profile.name, instance)

    def relate() -> None:
        profile.filters.set(filters)
        profile.destinations.set(destinations)

    _save(profile, relate)
    return profile


def _one_id(data: QueryDict, name: str) -> int:
    raw = data.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else 0


def save_destination(
    user: User, data: QueryDict, instance: Destination | None = None
) -> Destination:
    """A destination: a medium and its address (a webhook may have a write-only secret: left
    empty it stays as it was, ``remove_secret`` drops it). A managed one (synced from the
    account) keeps its address; only its label changes."""
    media = instance.media if instance is not None else data.get("media", "")
    medium = get_medium(media)
    if medium is None:
        raise ValidationError({"media": ["Choose a medium."]})
    destination = instance or Destination(user=user, media=media)
    destination.label = data.get("label", "").strip()
    if instance is None or not instance.managed:
        raw: dict[str, Any] = {**destination.settings}
        raw[medium.address_field] = data.get("address", "").strip()
        if "secret" in medium.secret_fields:
            if data.get("secret", ""):
                raw["secret"] = data["secret"]
            elif data.get("remove_secret") == "on":
                raw["secret"] = ""
        destination.settings = services.prepare_destination_settings(media, raw, instance)
    services.check_destination(user, media, destination.settings, destination.label, instance)
    _save(destination)
    return destination


def _moment(raw: str, name: str, required: bool) -> datetime | None:
    """A ``datetime-local`` value in the hub's time zone (None when empty and optional)."""
    if not raw.strip():
        if required:
            raise ValidationError({name: ["Enter a date and time."]})
        return None
    try:
        value = parse_datetime(raw.strip())
    except ValueError:  # well-formed but impossible: 2030-13-45T10:00
        value = None
    if value is None:
        raise ValidationError({name: ["Enter a date and time."]})
    try:
        value = timezone.make_aware(value) if timezone.is_naive(value) else value
        return storable_datetime(value)
    except (ValueError, OverflowError) as exc:  # year 1 east of UTC, a DST gap
        raise ValidationError({name: [str(exc) or "Enter a date and time."]}) from None


def _duration(data: QueryDict) -> timedelta | None:
    minutes = data.get("duration_minutes", "").strip()
    if minutes and (not minutes.isdigit() or len(minutes) > 9):
        raise ValidationError({"duration_minutes": ["Enter a whole number of minutes."]})
    return timedelta(minutes=int(minutes)) if minutes else None


def save_maintenance(
    user: User, data: QueryDict, instance: PlannedMaintenance | None = None
) -> PlannedMaintenance:
    """Planned maintenance (staff only, as in the API; the caller checks): a one-off window, or
    an RRULE whose occurrences each last ``duration_minutes``."""
    start = _moment(data.get("start_time", ""), "start_time", True)
    if instance is not None:
        services.check_maintenance_change(instance, start)
    # Maintenance is hub-wide and written by staff: any stored filter may be named (as the API).
    filters = _chosen(Filter.objects.all(), data, "filters")
    window = instance or PlannedMaintenance(created_by=user)
    window.start_time = start  # type: ignore[assignment]  # required: never None here
    window.end_time = _moment(data.get("end_time", ""), "end_time", False)
    window.recurrence = data.get("recurrence", "").strip()
    window.duration = _duration(data)
    window.description = data.get("description", "").strip()
    _save(window, lambda: window.filters.set(filters))
    return window
