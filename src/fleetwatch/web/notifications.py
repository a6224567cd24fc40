"""Notifications: stored filters with a live preview, time slots on a week grid, profiles,
the user's destinations (read-only here) and planned maintenance.

Filters are Argus's filter blobs, checked and evaluated by ``fleetwatch.incidents.filterblob``
(``parse_filter`` / ``FilterSpec.q``), exactly as the API's preview and ``?filter_pk=``.
"""

from datetime import time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime, parse_time
from django.views.decorators.http import require_GET, require_POST

from fleetwatch.incidents.filterblob import parse_filter
from fleetwatch.incidents.models import Incident, SourceSystem
from fleetwatch.notifications import services
from fleetwatch.notifications.media import all_media, get_medium
from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)
from fleetwatch.web.http import AuthedRequest

DAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]
PREVIEW_ROWS = 10


def blob_from(data: QueryDict) -> dict:
    """The filter bar of the filter form as a filter blob (absent fields: no condition)."""
    blob: dict = {}
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


def _messages_of(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{k}: {m}" for k, ms in exc.message_dict.items() for m in ms]
    return exc.messages


def _context(request: AuthedRequest, **extra) -> dict:
    user = request.user
    timeslots = list(Timeslot.objects.filter(user=user).prefetch_related("time_recurrences"))
    return {
        "filters": Filter.objects.filter(user=user),
        "timeslots": timeslots,
        "grid": [(slot, _week(slot)) for slot in timeslots],
        "profiles": NotificationProfile.objects.filter(user=user)
        .select_related("timeslot")
        .prefetch_related("filters", "destinations"),
        "destinations": Destination.objects.filter(user=user),
        "sources": SourceSystem.objects.order_by("name"),
        "media": all_media(),
        "maintenance": PlannedMaintenance.objects.prefetch_related("filters")[:50],
        "usable_filters": Filter.objects.filter(Q(user=user) | Q(public=True)),
        "days": DAYS,
        "errors": [],
        **extra,
    }


def _week(slot: Timeslot) -> list[list[str]]:
    """Per weekday (Mon…Sun), the time ranges the slot covers, as text."""
    week: list[list[str]] = [[] for _ in DAYS]
    for recurrence in slot.time_recurrences.all():
        text = (
            "all day" if recurrence.all_day else f"{recurrence.start:%H:%M}–{recurrence.end:%H:%M}"
        )
        for day in recurrence.days:
            week[day - 1].append(text)
    return week


@login_required
@require_GET
def page(request: AuthedRequest) -> HttpResponse:
    return render(request, "web/notifications.html", _context(request))


@login_required
@require_GET
def preview(request: AuthedRequest) -> HttpResponse:
    """The incidents the filter form selects, as the form is filled in (htmx)."""
    blob = blob_from(request.GET)
    context: dict = {"blob": blob, "rows": [], "count": 0, "errors": []}
    try:
        spec = parse_filter(blob)
    except ValidationError as exc:
        context["errors"] = _messages_of(exc)
    else:
        if not spec.is_empty:
            matching = Incident.objects.filter(spec.q())
            context["count"] = matching.count()
            context["rows"] = list(
                matching.with_state()
                .select_related("source")
                .order_by("-start_time", "-id")[:PREVIEW_ROWS]
            )
    return render(request, "web/_filter_preview.html", context)


def _refuse(request: AuthedRequest, problems: list[str]) -> HttpResponse:
    return render(request, "web/notifications.html", _context(request, errors=problems), status=400)


@login_required
@require_POST
def filter_add(request: AuthedRequest) -> HttpResponse:
    stored = Filter(user=request.user, name=request.POST.get("name", "").strip())
    stored.filter = blob_from(request.POST)
    try:
        stored.full_clean()
        stored.save()
    except ValidationError as exc:
        return _refuse(request, _messages_of(exc))
    messages.success(request, f"Filter {stored.name} saved.")
    return redirect("web:notifications")


def _time(raw: str, name: str) -> time:
    value = parse_time(raw or "")
    if value is None:
        raise ValidationError({name: ["Enter a time (HH:MM)."]})
    return value


@login_required
@require_POST
def timeslot_add(request: AuthedRequest) -> HttpResponse:
    """A time slot with one weekly recurrence (days, start, end; end ≤ start: past midnight)."""
    try:
        with transaction.atomic():
            slot = Timeslot(user=request.user, name=request.POST.get("name", "").strip())
            slot.full_clean()
            slot.save()
            recurrence = TimeRecurrence(
                timeslot=slot,
                days=[int(d) for d in request.POST.getlist("days") if d.isdigit()],
                start=_time(request.POST.get("start", ""), "start"),
                end=_time(request.POST.get("end", ""), "end"),
            )
            recurrence.full_clean()
            recurrence.save()
    except ValidationError as exc:
        return _refuse(request, _messages_of(exc))
    messages.success(request, f"Time slot {slot.name} saved.")
    return redirect("web:notifications")


@login_required
@require_POST
def profile_add(request: AuthedRequest) -> HttpResponse:
    user = request.user
    own = Q(user=user)
    timeslot = Timeslot.objects.filter(own, pk=request.POST.get("timeslot") or 0).first()
    if timeslot is None:
        return _refuse(request, ["timeslot: Choose one of your time slots."])
    filters = Filter.objects.filter(own, pk__in=_ids(request, "filters"))
    destinations = Destination.objects.filter(own, pk__in=_ids(request, "destinations"))
    profile = NotificationProfile(
        user=user,
        name=request.POST.get("name", "").strip() or None,
        timeslot=timeslot,
        active=request.POST.get("active") == "on",
    )
    try:
        profile.full_clean()
        with transaction.atomic():
            profile.save()
            profile.filters.set(filters)
            profile.destinations.set(destinations)
    except (ValidationError, IntegrityError) as exc:
        problems = _messages_of(exc) if isinstance(exc, ValidationError) else [str(exc)]
        return _refuse(request, problems)
    messages.success(request, f"Profile {profile} saved.")
    return redirect("web:notifications")


def _ids(request: AuthedRequest, name: str) -> list[int]:
    return [int(pk) for pk in request.POST.getlist(name) if pk.isdigit()]


def _moment(raw: str, name: str, required: bool):
    """A ``datetime-local`` value in the hub's time zone (None when empty and optional)."""
    if not raw.strip():
        if required:
            raise ValidationError({name: ["Enter a date and time."]})
        return None
    value = parse_datetime(raw.strip())
    if value is None:
        raise ValidationError({name: ["Enter a date and time."]})
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@login_required
@require_POST
def maintenance_add(request: AuthedRequest) -> HttpResponse:
    """Planned maintenance (staff only, as in the API): a one-off window, or an RRULE whose
    occurrences each last ``duration_minutes``; events of incidents matching all its filters
    notify nobody meanwhile."""
    if not request.user.is_staff:
        return _refuse(request, ["Only staff may create planned maintenance."])
    usable = Filter.objects.filter(Q(user=request.user) | Q(public=True))
    try:
        minutes = request.POST.get("duration_minutes", "").strip()
        if minutes and not minutes.isdigit():
            raise ValidationError({"duration_minutes": ["Enter a whole number of minutes."]})
        window = PlannedMaintenance(
            created_by=request.user,
            start_time=_moment(request.POST.get("start_time", ""), "start_time", True),
            end_time=_moment(request.POST.get("end_time", ""), "end_time", False),
            recurrence=request.POST.get("recurrence", "").strip(),
            duration=timedelta(minutes=int(minutes)) if minutes else None,
            description=request.POST.get("description", "").strip(),
        )
        window.full_clean()
        with transaction.atomic():
            window.save()
            window.filters.set(usable.filter(pk__in=_ids(request, "filters")))
    except ValidationError as exc:
        return _refuse(request, _messages_of(exc))
    messages.success(request, f"Planned maintenance {window} saved.")
    return redirect("web:notifications")


@login_required
@require_POST
def destination_add(request: AuthedRequest) -> HttpResponse:
    """A destination: a medium and its address (a webhook may have a write-only secret),
    checked by the medium's plug-in and the one-per-address rule, as through the API."""
    media = request.POST.get("media", "")
    medium = get_medium(media)
    if medium is None:
        return _refuse(request, ["media: Choose a medium."])
    raw = {medium.address_field: request.POST.get("address", "").strip()}
    if "secret" in medium.secret_fields and request.POST.get("secret", ""):
        raw["secret"] = request.POST["secret"]
    label = request.POST.get("label", "").strip()
    try:
        settings = services.prepare_destination_settings(media, raw)
        services.check_destination(request.user, media, settings, label)
        destination = Destination(user=request.user, media=media, label=label, settings=settings)
        destination.full_clean()
        destination.save()
    except ValidationError as exc:
        return _refuse(request, _messages_of(exc))
    messages.success(request, f"Destination {label or medium.address(settings)} added.")
    return redirect("web:notifications")
