"""Editing and deleting notification objects in the console, and a destination's "send test".

``/notifications/<kind>/<pk>/`` shows the edit form (GET) and saves it (POST);
``/notifications/<kind>/<pk>/delete/`` deletes (POST). Profiles, filters, time slots and
destinations are the user's own: another user's is a 404, as one that does not exist (and as
in the API). Planned maintenance is hub-wide: staff change it, anyone else gets a 403. Deleting
follows the API's rules (``notifications.services``): a filter or destination in use by a
profile, or a destination synced from the account, stays, with the reason shown.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from fleetwatch.incidents.models import SourceSystem
from fleetwatch.incidents.validation import MAX_ID
from fleetwatch.notifications import services, testsend
from fleetwatch.notifications.filtering import usable_filters
from fleetwatch.notifications.media import get_medium
from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    Timeslot,
)
from fleetwatch.web import notif_forms
from fleetwatch.web.http import AuthedRequest, error_lines
from fleetwatch.web.notif_forms import FORM_KEYS
from fleetwatch.web.notifications import DAYS, refuse


def _plain_delete(obj: Any) -> None:
    obj.delete()


@dataclass(frozen=True)
class Kind:
    model: type[Model]
    title: str
    save: Callable[..., Any]
    delete: Callable[[Any], None]
    owned: bool = True  # the user's own (else hub-wide, staff-written)


KINDS = {
    "filters": Kind(Filter, "Filter", notif_forms.save_filter, services.delete_filter),
    "timeslots": Kind(Timeslot, "Time slot", notif_forms.save_timeslot, _plain_delete),
    "profiles": Kind(NotificationProfile, "Profile", notif_forms.save_profile, _plain_delete),
    "destinations": Kind(
        Destination, "Destination", notif_forms.save_destination, services.delete_destination
    ),
    "maintenance": Kind(
        PlannedMaintenance,
        "Planned maintenance",
        notif_forms.save_maintenance,
        _plain_delete,
        owned=False,
    ),
}


def _lookup(request: AuthedRequest, kind: str, pk: int) -> tuple[Kind, Any]:
    """The object the URL names, if the user may change it (404: not theirs or no such)."""
    spec = KINDS.get(kind)
    if spec is None or pk > MAX_ID:
        raise Http404("No such kind of notification object.")
    objects = spec.model._default_manager.all()
    if spec.owned:
        objects = objects.filter(user=request.user)
    obj = objects.filter(pk=pk).first()
    if obj is None:
        raise Http404(f"No {spec.title.lower()} {pk} of yours.")
    if not spec.owned and not request.user.is_staff:
        raise PermissionDenied(f"Only staff may change {spec.title.lower()}.")
    return spec, obj


def _choices(request: AuthedRequest, kind: str, obj: Any) -> dict[str, Any]:
    """What the kind's form offers to choose from."""
    user = request.user
    if kind == "profiles":
        return {
            "timeslots": Timeslot.objects.filter(user=user),
            "filters": usable_filters(user),
            "destinations": Destination.objects.filter(user=user),
            "chosen_filters": {f.pk for f in obj.filters.all()},
            "chosen_destinations": {d.pk for d in obj.destinations.all()},
        }
    if kind == "maintenance":
        current = [f.pk for f in obj.filters.all()]
        return {
            "filters": Filter.objects.filter(Q(pk__in=current) | Q(user=user) | Q(public=True)),
            "chosen_filters": set(current),
        }
    if kind == "filters":
        return _filter_form(obj)
    if kind == "timeslots":
        return {"recurrences": list(obj.time_recurrences.all())}
    return _destination_form(obj)


def _filter_form(obj: Filter) -> dict[str, Any]:
    blob = obj.filter or {}
    return {
        "sources": SourceSystem.objects.order_by("name"),
        "blob": blob,
        "chosen_sources": set(blob.get("sourceSystemIds") or []),
        "tags_text": ", ".join(blob.get("tags") or []),
        "kept": {k: v for k, v in blob.items() if k not in FORM_KEYS},
    }


def _destination_form(obj: Destination) -> dict[str, Any]:
    medium = get_medium(obj.media)
    return {
        "address": medium.address(obj.settings) if medium else "",
        "has_secret": bool(medium and any(obj.settings.get(k) for k in medium.secret_fields)),
        "takes_secret": bool(medium and "secret" in medium.secret_fields),
    }


def _form(
    request: AuthedRequest, kind: str, obj: Any, errors: list[str], status: int = 200
) -> HttpResponse:
    context = {
        "kind": kind,
        "title": KINDS[kind].title,
        "obj": obj,
        "errors": errors,
        "days": DAYS,
        **_choices(request, kind, obj),
    }
    return render(request, "web/notifications_edit.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: AuthedRequest, kind: str, pk: int) -> HttpResponse:
    spec, obj = _lookup(request, kind, pk)
    if request.method == "GET":
        return _form(request, kind, obj, [])
    try:
        spec.save(request.user, request.POST, obj)
    except ValidationError as exc:
        # The form again as it was filled in (the fields the save had applied to the unsaved
        # object; relations and recurrences as stored): nothing was saved.
        return _form(request, kind, obj, error_lines(exc), status=400)
    messages.success(request, f"{spec.title} {obj} saved.")
    return redirect("web:notifications")


@login_required
@require_POST
def delete(request: AuthedRequest, kind: str, pk: int) -> HttpResponse:
    spec, obj = _lookup(request, kind, pk)
    name = str(obj)
    try:
        spec.delete(obj)
    except ValidationError as exc:
        return refuse(request, error_lines(exc))
    messages.success(request, f"{spec.title} {name} deleted.")
    return redirect("web:notifications")


@login_required
@require_POST
def send_test(request: AuthedRequest, pk: int) -> HttpResponse:
    """Send a test message to one of the user's destinations and say how it went."""
    _, destination = _lookup(request, "destinations", pk)
    try:
        outcome = testsend.send_test(destination)
    except testsend.TooManyTests as exc:
        return refuse(request, [str(exc)], status=429)
    if outcome.sent:
        messages.success(request, outcome.detail)
    else:
        messages.error(request, outcome.detail)
    return redirect("web:notifications")
