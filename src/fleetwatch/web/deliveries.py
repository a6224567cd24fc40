"""The delivery log (``/notifications/deliveries/``) and an incident's notifications.

A user sees the deliveries to their own destinations; staff see everyone's. Newest first,
keyset-paged on ``(created, id)`` (a cursor, never an offset), one query per page: the
incident's pk and description come from the delivery's message snapshot, the destination by
a join. Errors are shown summarised (``testsend.summarise_error``).
"""

import base64
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from fleetwatch.accounts.models import User
from fleetwatch.incidents.validation import storable_datetime
from fleetwatch.notifications.media import all_media
from fleetwatch.notifications.models import Delivery
from fleetwatch.notifications.testsend import display_address, summarise_error
from fleetwatch.web.http import AuthedRequest

PAGE_SIZE = 50
INCIDENT_ROWS = 50


def visible_deliveries(user: User) -> QuerySet[Delivery]:
    """The deliveries ``user`` may see, with what a row shows joined in."""
    rows = Delivery.objects.select_related("destination", "destination__user")
    return rows if user.is_staff else rows.filter(destination__user=user)


def decorate(rows: list[Delivery]) -> list[Delivery]:
    """Attach what the templates show: the incident from the snapshot, the error's summary."""
    for row in rows:
        incident = (row.message or {}).get("incident") or {}
        row.incident_pk = incident.get("pk")  # type: ignore[attr-defined]
        row.incident_description = incident.get("description", "")  # type: ignore[attr-defined]
        row.error_summary = summarise_error(row.last_error)  # type: ignore[attr-defined]
        shown = row.destination.label or display_address(row.destination)
        row.destination_name = shown  # type: ignore[attr-defined]
    return rows


def incident_deliveries(incident_pk: int, user: User) -> list[Delivery]:
    """The notifications sent (or due) for one incident that ``user`` may see (one query)."""
    rows = visible_deliveries(user).filter(event__incident_id=incident_pk)
    return decorate(list(rows.order_by("-created", "-id")[:INCIDENT_ROWS]))


def _encode(row: Delivery) -> str:
    raw = f"{row.created.isoformat()}|{row.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        moment, _, pk = raw.partition("|")
        value = parse_datetime(moment)
        if value is None or value.tzinfo is None or not pk.isdigit() or len(pk) > 18:
            return None
        storable_datetime(value)
    except ValueError:  # bad base64, not UTF-8, an impossible or unstorable date
        return None
    return value, int(pk)


@dataclass
class LogPage:
    rows: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    next_query: str = ""
    status: str = ""
    media: str = ""


def _filters(data: QueryDict, page: LogPage) -> Q:
    """``status`` and ``media`` of the filter form; an unknown value is a form error."""
    q = Q()
    page.status, page.media = data.get("status", ""), data.get("media", "")
    if page.status:
        if page.status in Delivery.Status.values:
            q &= Q(status=page.status)
        else:
            page.errors.append("status: Choose one of the statuses.")
    if page.media:
        if page.media in {m.slug for m in all_media()}:
            q &= Q(media=page.media)
        else:
            page.errors.append("media: Choose one of the media.")
    return q


def log_page(data: QueryDict, user: User, size: int | None = None) -> LogPage:
    size = size or PAGE_SIZE
    page = LogPage()
    rows = visible_deliveries(user).filter(_filters(data, page))
    cursor = data.get("cursor", "")
    if cursor:
        position = _decode(cursor)
        if position is None:
            page.errors.append("cursor: Invalid cursor; start from the first page.")
        else:
            moment, pk = position
            rows = rows.filter(Q(created__lt=moment) | Q(created=moment, pk__lt=pk))
    if page.errors:
        return page
    found = list(rows.order_by("-created", "-id")[: size + 1])
    page.rows = decorate(found[:size])
    if len(found) > size:
        params = {"status": page.status, "media": page.media, "cursor": _encode(found[size - 1])}
        page.next_query = urlencode({k: v for k, v in params.items() if v})
    return page


@login_required
@require_GET
def delivery_log(request: AuthedRequest) -> HttpResponse:
    page = log_page(request.GET, request.user)
    context = {
        "page": page,
        "statuses": Delivery.Status.choices,
        "media": all_media(),
    }
    return render(
        request, "web/notifications_deliveries.html", context, status=400 if page.errors else 200
    )
