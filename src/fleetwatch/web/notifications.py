"""Notifications: stored filters with a live preview, time slots on a week grid, profiles,
the user's destinations and planned maintenance — the page and its "add" forms. Editing and
deleting are in ``notif_edit``, the delivery log in ``deliveries``; the forms' parsing and
rules in ``notif_forms``.

Filters are Argus's filter blobs, checked and evaluated by ``fleetwatch.incidents.filterblob``
(``parse_filter`` / ``FilterSpec.q``), exactly as the API's preview and ``?filter_pk=``.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from fleetwatch.incidents.filterblob import parse_filter
from fleetwatch.incidents.models import Incident, SourceSystem
from fleetwatch.notifications.filtering import usable_filters
from fleetwatch.notifications.media import all_media, get_medium
from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    Timeslot,
)
from fleetwatch.web import notif_forms
from fleetwatch.web.http import AuthedRequest, error_lines
from fleetwatch.web.notif_forms import blob_from

__all__ = ["blob_from"]

DAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]
PREVIEW_ROWS = 10


def _context(request: AuthedRequest, **extra) -> dict:
    user = request.user
    timeslots = list(Timeslot.objects.filter(user=user).prefetch_related("time_recurrences"))
    return {
        "filters": Filter.objects.filter(user=user),
        "timeslots": timeslots,
        "grid": [(slot, week(slot)) for slot in timeslots],
        "profiles": NotificationProfile.objects.filter(user=user)
        .select_related("timeslot")
        .prefetch_related("filters", "destinations"),
        "destinations": Destination.objects.filter(user=user),
        "sources": SourceSystem.objects.order_by("name"),
        "media": all_media(),
        "maintenance": PlannedMaintenance.objects.prefetch_related("filters")[:50],
        "usable_filters": usable_filters(user),
        "days": DAYS,
        "errors": [],
        **extra,
    }


def week(slot: Timeslot) -> list[list[str]]:
    """Per weekday (Mon…Sun), the time ranges the slot covers, as text."""
    days: list[list[str]] = [[] for _ in DAYS]
    for recurrence in slot.time_recurrences.all():
        text = (
            "all day" if recurrence.all_day else f"{recurrence.start:%H:%M}–{recurrence.end:%H:%M}"
        )
        for day in recurrence.days:
            days[day - 1].append(text)
    return days


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
        context["errors"] = error_lines(exc)
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


def refuse(request: AuthedRequest, problems: list[str], status: int = 400) -> HttpResponse:
    """The page again, with the form's problems on top (nothing was stored)."""
    context = _context(request, errors=problems)
    return render(request, "web/notifications.html", context, status=status)


def _add(request: AuthedRequest, save: Callable[..., Any], what: str) -> HttpResponse:
    try:
        stored = save(request.user, request.POST)
    except ValidationError as exc:
        return refuse(request, error_lines(exc))
    messages.success(request, f"{what} {stored} saved.")
    return redirect("web:notifications")


@login_required
@require_POST
def filter_add(request: AuthedRequest) -> HttpResponse:
    return _add(request, notif_forms.save_filter, "Filter")


@login_required
@require_POST
def timeslot_add(request: AuthedRequest) -> HttpResponse:
    """A time slot with one weekly recurrence (days, start, end; end ≤ start: past midnight)."""
    return _add(request, notif_forms.save_timeslot, "Time slot")


@login_required
@require_POST
def profile_add(request: AuthedRequest) -> HttpResponse:
    return _add(request, notif_forms.save_profile, "Profile")


@login_required
@require_POST
def maintenance_add(request: AuthedRequest) -> HttpResponse:
    """Planned maintenance (staff only, as in the API): a one-off window, or an RRULE whose
    occurrences each last ``duration_minutes``; events of incidents matching all its filters
    notify nobody meanwhile."""
    if not request.user.is_staff:
        return refuse(request, ["Only staff may create planned maintenance."], status=403)
    return _add(request, notif_forms.save_maintenance, "Planned maintenance")


@login_required
@require_POST
def destination_add(request: AuthedRequest) -> HttpResponse:
    """A destination: a medium and its address (a webhook may have a write-only secret),
    checked by the medium's plug-in and the one-per-address rule, as through the API."""
    try:
        destination = notif_forms.save_destination(request.user, request.POST)
    except ValidationError as exc:
        return refuse(request, error_lines(exc))
    messages.success(request, f"Destination {_name(destination)} added.")
    return redirect("web:notifications")


def _name(destination: Destination) -> str:
    medium = get_medium(destination.media)
    address = medium.address(destination.settings) if medium else ""
    return destination.label or address
