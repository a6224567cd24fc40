"""Bulk endpoints: Argus's bulk acks/events/ticket_url, plus upsert and batched ingest.

Argus's bulk endpoints answer ``{"changes": {"<id>": {<key>, "status", "errors"}}}``: 201 when at
least one id succeeded, 400 when all failed. Unlike Argus, bulk events obey the same per-role
and per-state rules as single events.
"""

from collections.abc import Callable

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from fleetwatch.api.renderers import fast_parsers, fast_renderers
from fleetwatch.api.validation import MAX_ID, StrictQueryParams, reject_unknown
from fleetwatch.incidents import services
from fleetwatch.incidents.api.serializers import IncidentSerializer, render_ack, render_event
from fleetwatch.incidents.api.views import (
    domain_errors,
    parse_ack_body,
    parse_event_body,
    render_incident,
    requesting_source,
)
from fleetwatch.incidents.events import EventRefused, IncidentMissing
from fleetwatch.incidents.ingest import (
    InvalidIncident,
    TooManyTags,
    parse_incident,
    upsert_allowed,
    upsert_incidents,
)
from fleetwatch.incidents.models import SourceSystem
from fleetwatch.incidents.permissions import NotAllowed


def parse_ids(data) -> list[int]:
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not ids:
        raise ValidationError({"ids": ["A non-empty list of incident ids is required."]})
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError({"ids": ["Every id must be an integer."]})
    if not all(1 <= i <= MAX_ID for i in ids):
        raise ValidationError({"ids": [f"Every id must be between 1 and {MAX_ID}."]})
    if len(ids) > settings.BULK_INGEST_MAX:
        raise ValidationError({"ids": [f"At most {settings.BULK_INGEST_MAX} ids per request."]})
    return list(dict.fromkeys(ids))


def result_for(key: str, result: object, render: Callable[[object], object]) -> dict:
    """One id's entry in ``changes``: the rendered change (201) or the refusal, as Argus
    reports a missing id (``status`` 400, ``errors`` naming the field); another source's
    incident is a 403."""
    if isinstance(result, IncidentMissing):
        return {key: None, "status": 400, "errors": {"ids": str(result)}}
    if isinstance(result, NotAllowed):
        return {key: None, "status": 403, "errors": {"ids": str(result)}}
    if isinstance(result, EventRefused):
        return {key: None, "status": 400, "errors": {"type": str(result)}}
    return {key: render(result), "status": 201, "errors": None}


def bulk_response(key: str, results: dict) -> Response:
    """201 when at least one id succeeded; else 403 when every id was refused as another
    source's, else 400 (Argus's rule, with the 403 added)."""
    statuses = {r["status"] for r in results.values()}
    if any(code < 400 for code in statuses):
        code = status.HTTP_201_CREATED
    elif statuses == {403}:
        code = status.HTTP_403_FORBIDDEN
    else:
        code = status.HTTP_400_BAD_REQUEST
    return Response({"changes": results}, status=code)


class BulkAckView(StrictQueryParams, GenericAPIView):
    serializer_class = None

    @extend_schema(request=None)
    def post(self, request: Request) -> Response:
        reject_unknown(request.data, {"ids", "ack"})
        ids = parse_ids(request.data)
        values = parse_ack_body(request, request.data.get("ack") or {})
        with domain_errors():
            acks = services.acknowledge_many(
                ids,
                request.user,
                values.get("timestamp"),
                values.get("description", ""),
                values.get("expiration"),
            )
        results = {str(pk): result_for("ack", acks[pk], render_ack) for pk in ids}
        return bulk_response("ack", results)


class BulkEventView(StrictQueryParams, GenericAPIView):
    serializer_class = None

    @extend_schema(request=None)
    def post(self, request: Request) -> Response:
        reject_unknown(request.data, {"ids", "event"})
        ids = parse_ids(request.data)
        values = parse_event_body(request, request.data.get("event") or {})
        try:
            events = services.post_events(
                ids,
                request.user,
                values["type"],
                values.get("timestamp"),
                values.get("description", ""),
            )
        except EventRefused as exc:
            raise ValidationError({"type": str(exc)}) from None
        results = {str(pk): result_for("event", events[pk], render_event) for pk in ids}
        return bulk_response("event", results)


class BulkTicketUrlView(StrictQueryParams, GenericAPIView):
    serializer_class = None

    @extend_schema(request=None)
    def post(self, request: Request) -> Response:
        reject_unknown(request.data, {"ids", "ticket_url"})
        ids = parse_ids(request.data)
        url = serializers.URLField(allow_blank=True)
        try:
            ticket_url = url.run_validation(request.data.get("ticket_url", ""))
        except serializers.ValidationError as exc:
            raise ValidationError({"ticket_url": exc.detail}) from None
        changes = services.change_incidents(ids, {"ticket_url": ticket_url}, request.user)
        results = {
            str(pk): result_for("ticket_url", changes[pk], lambda _: ticket_url) for pk in ids
        }
        return bulk_response("ticket_url", results)


def item_source_errors(request: Request, items: list, source: SourceSystem) -> dict:
    """Per-item ``source`` is refused as the top-level one is (it used to be dropped and the
    item stored for the caller's source). Naming the request's own source (its pk, or the
    ``source`` object a GET returned) is allowed; one request carries one source."""
    errors = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("source") in (None, ""):
            continue
        named = item["source"]
        if isinstance(named, dict):
            named = named.get("pk")
        if str(named) == str(source.pk):
            continue
        if request.user.is_superuser:
            message = f"Must be the request's source ({source.pk}): one request per source."
        else:
            message = "Only a superuser may set the source."
        errors[str(index)] = {"source": [message]}
    return errors


class UpsertView(StrictQueryParams, GenericAPIView):
    """``POST incidents/upsert/``: create, or update the source's incident with that id.

    For glue that re-sends what its system reports: 201 when created, 200 when it existed
    (its fields updated, tags added, ended or restarted as the body says).
    """

    serializer_class = IncidentSerializer
    renderer_classes = fast_renderers()
    parser_classes = fast_parsers()

    def post(self, request: Request) -> Response:
        source = requesting_source(request, request.data)
        try:
            draft = parse_incident(request.data)
        except InvalidIncident as exc:
            raise ValidationError(exc.errors) from None
        if not draft.source_incident_id:
            raise ValidationError(
                {"source_incident_id": ["Required for an upsert: it identifies the incident."]}
            )
        try:
            (result,) = upsert_incidents(source, request.user, [draft])
        except TooManyTags as exc:
            raise ValidationError({"tags": [exc.problems[0]]}) from None
        code = status.HTTP_201_CREATED if result.status == "created" else status.HTTP_200_OK
        body = render_incident(result.incident.pk, request.version)
        return Response(body, status=code, headers={"X-Upsert-Status": result.status})


class BulkIngestView(StrictQueryParams, GenericAPIView):
    """``POST incidents/bulk/`` ``{"incidents": [...]}``: batched upserts, per-item results.

    Valid items are stored even when others are not; each result says ``created``,
    ``updated``, ``unchanged`` or ``error`` (with the errors by field). 201 if any item was
    stored, 400 if none was.
    """

    serializer_class = None
    renderer_classes = fast_renderers()
    parser_classes = fast_parsers()

    @extend_schema(request=None)
    def post(self, request: Request) -> Response:
        reject_unknown(request.data, {"incidents", "source"})
        items = request.data.get("incidents")
        if not isinstance(items, list) or not items:
            raise ValidationError({"incidents": ["A non-empty list of incidents is required."]})
        if len(items) > settings.BULK_INGEST_MAX:
            raise ValidationError(
                {"incidents": [f"At most {settings.BULK_INGEST_MAX} incidents per request."]}
            )
        source = requesting_source(request, request.data)
        if errors := item_source_errors(request, items, source):
            raise ValidationError({"incidents": errors})
        results: list[dict] = [{} for _ in items]
        drafts, positions = [], []
        for index, item in enumerate(items):
            try:
                drafts.append(parse_incident(item))
                positions.append(index)
            except InvalidIncident as exc:
                results[index] = {"index": index, "status": "error", "errors": exc.errors}
        outcomes, refused = upsert_allowed(source, request.user, drafts)
        for draft_index, problem in refused.items():
            index = positions[draft_index]
            results[index] = {"index": index, "status": "error", "errors": {"tags": [problem]}}
        counts = {"created": 0, "updated": 0, "unchanged": 0, "error": len(items) - len(outcomes)}
        for draft_index, outcome in outcomes.items():
            index = positions[draft_index]
            counts[outcome.status] += 1
            results[index] = {"index": index, "status": outcome.status, "pk": outcome.incident.pk}
        code = status.HTTP_201_CREATED if outcomes else status.HTTP_400_BAD_REQUEST
        return Response({**counts, "results": results}, status=code)
