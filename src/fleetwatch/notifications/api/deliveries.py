"""``GET /api/v2/notificationprofiles/deliveries/``: the requesting user's delivery log.

Newest first, cursor-paged like the event list; ``?incident=<pk>``, ``?destination=<pk>``
and ``?status=pending,sent,…`` narrow it (a malformed value is a 400 naming the parameter).
Only the user's own destinations' deliveries are shown; the message shown is the snapshot
that was (or will be) sent, without the destination's secret settings.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from fleetwatch.accounts.api.views import requesting_user
from fleetwatch.api.pagination import KeysetCursorPagination
from fleetwatch.api.validation import MAX_ID, StrictQueryParams
from fleetwatch.notifications.models import Delivery

FILTERS = ("incident", "destination", "status")


def _positive_id(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: ["A valid integer is required."]}) from None
    if not 1 <= value <= MAX_ID:
        raise ValidationError({name: [f"Ensure this value is between 1 and {MAX_ID}."]})
    return value


def _statuses(request: Request) -> list[str]:
    raw = request.query_params.get("status", "")
    values = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in values if v not in Delivery.Status.values]
    if bad:
        choices = ", ".join(Delivery.Status.values)
        raise ValidationError({"status": [f"Unknown status {bad[0]!r}; one of {choices}."]})
    return values


def render_delivery(row: Delivery) -> dict:
    message = row.message or {}
    return {
        "pk": row.pk,
        "event": row.event_id,
        "incident": (message.get("incident") or {}).get("pk"),
        "event_type": (message.get("event") or {}).get("type"),
        "destination": row.destination_id,
        "profile": row.profile_id,
        "media": row.media,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat()
        if row.status in (Delivery.Status.PENDING, Delivery.Status.SENDING)
        else None,
        "last_error": row.last_error,
        "provider_message_id": row.provider_message_id,
        "created": row.created.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "subject": message.get("subject", ""),
    }


class DeliveryListView(StrictQueryParams, GenericAPIView):
    """The requesting user's deliveries (notification log)."""

    query_params = frozenset({"cursor", "page_size", "format", *FILTERS})

    def get_queryset(self) -> QuerySet:
        return Delivery.objects.filter(destination__user=requesting_user(self.request))

    @extend_schema(responses=None)
    def get(self, request: Request) -> Response:
        queryset = self.get_queryset()
        if (incident := _positive_id(request, "incident")) is not None:
            queryset = queryset.filter(event__incident_id=incident)
        if (destination := _positive_id(request, "destination")) is not None:
            queryset = queryset.filter(destination_id=destination)
        if statuses := _statuses(request):
            queryset = queryset.filter(status__in=statuses)
        paginator = KeysetCursorPagination("created")
        rows = paginator.paginate(queryset, request)
        return paginator.response([render_delivery(row) for row in rows])
