"""Console views: parse the request, call the incident services, render a template.

Every rule (who may, what is valid, which event records it) is the services' own; a refusal
they raise is shown to the person as a message, never as a 500.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Q
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from fleetwatch.incidents import services
from fleetwatch.incidents.models import Event, Incident, SourceSystem
from fleetwatch.incidents.permissions import NotAllowed
from fleetwatch.notifications.models import Filter
from fleetwatch.web import listing
from fleetwatch.web.deliveries import incident_deliveries
from fleetwatch.web.http import AuthedRequest, error_lines

BULK_ACTIONS = {"ack", "close", "reopen", "ticket"}


#: How long a poll key (below) lets its holder ask "changed?" without the session lookup.
POLL_KEY_MAX_AGE = 12 * 3600
_poll_signer = signing.TimestampSigner(salt="fleetwatch.web.poll")


def _list_context(request: AuthedRequest) -> dict:
    kiosk = request.GET.get("kiosk") == "1"
    page = listing.page(request.GET, request.user, kiosk=kiosk)
    checked = {int(pk) for pk in request.GET.getlist("ids") if pk.isdigit()}
    return {
        "listing": page,
        "marker": listing.change_marker(),
        "poll_key": _poll_signer.sign(str(request.user.pk)),
        "checked": checked,
        "kiosk": kiosk,
        "incident_prefix": reverse("web:incidents") + "incidents/",
        "saved_filters": Filter.objects.filter(Q(user=request.user) | Q(public=True)),
        "poll_seconds": settings.WEB_POLL_SECONDS,
        "levels": [(1, "Critical"), (2, "High"), (3, "Moderate"), (4, "Low"), (5, "Information")],
    }


@login_required
@require_GET
def incident_list(request: AuthedRequest) -> HttpResponse:
    """The live list: filter bar, badges, keyset paging, bulk actions; ``?kiosk=1``: wallboard."""
    return render(request, "web/incidents.html", _list_context(request))


@require_GET
def incidents_changed(request: AuthedRequest) -> HttpResponse:
    """The live update's poll: 204 when nothing changed since ``marker``, else the refreshed
    results fragment.

    The 204 path is the one that runs every second in every open list, so it checks only the
    signed ``key`` the list was rendered with (an HMAC, no session or user row) and reads one
    index entry: all it can tell a holder of a stolen or stale key is "nothing changed". The
    fragment itself needs the full login check (session, user row, password hash); a missing
    or bad key, or a logged-out session, is a 403.
    """
    try:
        _poll_signer.unsign(request.GET.get("key", ""), max_age=POLL_KEY_MAX_AGE)
    except signing.BadSignature:
        return HttpResponse(status=403)
    if request.GET.get("marker", "") == str(listing.change_marker()):
        return HttpResponse(status=204)
    if not request.user.is_authenticated:
        return HttpResponse(status=403)
    return render(request, "web/_results.html", _list_context(request))


def _parse_ids(request: AuthedRequest) -> list[int]:
    return [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()][:1000]


def _report(request: AuthedRequest, verb: str, results: dict) -> None:
    done = [pk for pk, result in results.items() if not isinstance(result, Exception)]
    refused = {pk: result for pk, result in results.items() if isinstance(result, Exception)}
    if done:
        messages.success(request, f"{verb} {len(done)} incident(s).")
    for pk, problem in sorted(refused.items()):
        messages.error(request, f"Incident {pk}: {problem}")


@login_required
@require_POST
def incident_bulk(request: AuthedRequest) -> HttpResponse:
    """Acknowledge, close, reopen or set the ticket URL of the selected incidents."""
    back = reverse("web:incidents") + "?" + request.POST.get("back", "")
    action = request.POST.get("action", "")
    ids = _parse_ids(request)
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose an action.")
        return redirect(back)
    if not ids:
        messages.error(request, "Select at least one incident.")
        return redirect(back)
    user = request.user
    try:
        if action == "ack":
            acks = services.acknowledge_many(ids, user, description="Acknowledged in console")
            _report(request, "Acknowledged", acks)
        elif action == "close":
            _report(request, "Closed", services.post_events(ids, user, Event.Type.CLOSE))
        elif action == "reopen":
            _report(request, "Reopened", services.post_events(ids, user, Event.Type.REOPEN))
        else:
            url = _ticket_url(request.POST.get("ticket_url", ""))
            changes = services.change_incidents(ids, {"ticket_url": url}, user)
            _report(request, "Set the ticket URL of", changes)
    except (ValidationError, ValueError) as exc:
        messages.error(request, _message(exc))
    return redirect(back)


def _ticket_url(raw: str) -> str:
    url = raw.strip()
    if url:
        URLValidator()(url)
    return url


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(error_lines(exc))
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict):
        return "; ".join(f"{k}: {v}" for k, v in errors.items())
    return str(exc)


def _incident(pk: int) -> Incident:
    try:
        return (
            Incident.objects.with_state()
            .select_related("source", "source__type")
            .prefetch_related("tag_relations__tag")
            .get(pk=pk)
        )
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None


@login_required
@require_GET
def incident_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """Fields, tags, metadata, the timeline of events and acks, and the actions."""
    incident = _incident(pk)
    events = (
        Event.objects.filter(incident=incident)
        .select_related("actor", "ack")
        .order_by("timestamp", "id")
    )
    return render(
        request,
        "web/incident.html",
        {
            "incident": incident,
            "events": events,
            "now": timezone.now(),
            "deliveries": incident_deliveries(incident.pk, request.user),
        },
    )


def _expiration(raw: str):
    """A ``datetime-local`` value in the server's time zone, or None; ValueError if bad."""
    if not raw.strip():
        return None
    value = parse_datetime(raw.strip())
    if value is None:
        raise ValueError("Expiration: enter a date and time.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@login_required
@require_POST
def incident_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    """One action on one incident: ack (with expiry), comment, close, reopen, ticket URL."""
    incident = _incident(pk)
    user = request.user
    text = request.POST.get("description", "").strip()
    try:
        if action == "ack":
            services.acknowledge(
                incident,
                user,
                description=text,
                expiration=_expiration(request.POST.get("expiration", "")),
            )
            messages.success(request, "Acknowledged.")
        elif action == "comment":
            if not text:
                raise ValueError("Comment: write something.")
            services.post_event(incident, user, Event.Type.OTHER, description=text)
            messages.success(request, "Comment added.")
        elif action == "close":
            services.post_event(incident, user, Event.Type.CLOSE, description=text)
            messages.success(request, "Closed.")
        elif action == "reopen":
            services.post_event(incident, user, Event.Type.REOPEN, description=text)
            messages.success(request, "Reopened.")
        elif action == "ticket":
            url = _ticket_url(request.POST.get("ticket_url", ""))
            services.change_ticket_url(incident, url, user)
            messages.success(request, "Ticket URL saved.")
        else:
            raise Http404("No such action.")
    except NotAllowed as exc:
        messages.error(request, str(exc))
    except (ValidationError, ValueError) as exc:
        messages.error(request, _message(exc))
    return redirect("web:incident", pk=pk)


#: The filter bar's fields a stored filter (filter blob) cannot express.
NOT_STORABLE = {
    "search",
    "start_time__gte",
    "start_time__lte",
    "filter_pk",
    "notificationprofile_pk",
}


def blob_of_filter_bar(params: dict[str, str]) -> dict:
    """The filter bar as a filter blob; ValidationError naming what a blob cannot hold."""
    unstorable = sorted(NOT_STORABLE & set(params))
    if unstorable:
        raise ValidationError(
            {name: ["A saved filter cannot hold this; clear it first."] for name in unstorable}
        )
    blob: dict = {}
    for name in ("open", "acked"):
        if name in params:
            blob[name] = params[name] == "true"
    if "level__lte" in params:
        blob["maxlevel"] = int(params["level__lte"]) if params["level__lte"].isdigit() else 0
    if "tags" in params:
        blob["tags"] = [t.strip() for t in params["tags"].split(",") if t.strip()]
    if "source__type__in" in params:
        blob["source_types"] = [t.strip() for t in params["source__type__in"].split(",")]
    if "source__name__in" in params:
        names = {n.strip() for n in params["source__name__in"].split(",") if n.strip()}
        found = dict(SourceSystem.objects.filter(name__in=names).values_list("name", "pk"))
        if missing := sorted(names - set(found)):
            raise ValidationError({"source__name__in": [f"No source named {', '.join(missing)}."]})
        blob["sourceSystemIds"] = sorted(found.values())
    return blob


@login_required
@require_POST
def save_filter(request: AuthedRequest) -> HttpResponse:
    """Save the filter bar's conditions as the user's named filter (a notifications filter:
    usable as ``?filter_pk=``, in profiles and in planned maintenance)."""
    back = request.POST.get("back", "")
    params = listing.filter_params(QueryDict(back))
    stored = Filter(user=request.user, name=request.POST.get("name", "").strip())
    try:
        stored.filter = blob_of_filter_bar(params)
        stored.full_clean()
        stored.save()
    except ValidationError as exc:
        messages.error(request, _message(exc))
        return redirect(reverse("web:incidents") + "?" + back)
    messages.success(request, f"Filter {stored.name} saved.")
    return redirect(reverse("web:incidents") + f"?filter_pk={stored.pk}")
