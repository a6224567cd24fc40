"""Bulk endpoints: Argus's bulk acks/events/ticket_url, plus upsert and batched ingest.

Argus's bulk endpoints answer ``{"changes": {"<id>": {<key>, "status", "errors"}}}``: 201 when at
least one id succeeded, 400 when all failed. Unlike Argus, bulk events obey the same per-role
and per-state rules as single events.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from fleetwatch.api.renderers import fast_parsers, fast_renderers
from fleetwatch.api.validation import MAX_ID, StrictQueryParams, reject_unknown
from fleetwatch.incidents import events as rules
from fleetwatch.incidents import limits
from fleetwatch.incidents.api.serializers import IncidentSerializer, render_ack, render_event
from fleetwatch.incidents.api.views import (
    ack_incident,
    change_ticket_url,
    parse_ack_body,
    parse_event_body,
    render_incident,
    requesting_source,
)
from fleetwatch.incidents.ingest import InvalidIncident, parse_incident, upsert_incidents
from fleetwatch.incidents.models import Incident


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


def bulk_response(key: str, results: dict) -> Response:
    ok = any(r["status"] < 400 for r in results.values())
    return Response(
        {"changes": results}, status=status.HTTP_201_CREATED if ok else status.HTTP_400_BAD_REQUEST
    )


def missing(key: str, pk: int) -> dict:
    return {
        key: None,
        "status": 400,
        "errors": {"ids": f"Incident with id {pk} could not be found."},
    }


class BulkAckView(StrictQueryParams, GenericAPIView):
    serializer_class = None

    @extend_schema(request=None)
    def post(self, request: Request) -> Response:
        reject_unknown(request.data, {"ids", "ack"})
        ids = parse_ids(request.data)
        values = parse_ack_body(request, request.data.get("ack") or {})
        incidents = Incident.objects.in_bulk(ids)
        results = {}
        for pk in ids:
            if pk not in incidents:
                results[str(pk)] = missing("ack", pk)
                continue
            ack = ack_incident(incidents[pk], request.user, values)
            results[str(pk)] = {"ack": render_ack(ack), "status": 201, "errors": None}
        return bulk_response("ack", results)


class BulkEventView(StrictQueryParams, GenericAPIView):
    serializer_class = None

    @extend_schema(request=None)
    def post(self, request: Request) -> Response:
        reject_unknown(request.data, {"ids", "event"})
        ids = parse_ids(request.data)
        values = parse_event_body(request, request.data.get("event") or {})
        incidents = Incident.objects.in_bulk(ids)
        results = {}
        for pk in ids:
            if pk not in incidents:
                results[str(pk)] = missing("event", pk)
                continue
            try:
                event = rules.post_event(
                    incidents[pk],
                    request.user,
                    values["type"],
                    values.get("timestamp"),
                    values.get("description", ""),
                )
            except rules.EventRefused as exc:
                results[str(pk)] = {"event": None, "status": 400, "errors": {"type": str(exc)}}
                continue
            results[str(pk)] = {"event": render_event(event), "status": 201, "errors": None}
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
        incidents = Incident.objects.in_bulk(ids)
        change_ticket_url(list(incidents.values()), ticket_url, request.user)
        results = {
            str(pk): {"ticket_url": ticket_url, "status": 201, "errors": None}
            if pk in incidents
            else missing("ticket_url", pk)
            for pk in ids
        }
        return bulk_response("ticket_url", results)


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
        if problems := limits.upsert_tag_problems(source, [draft]):
            raise ValidationError({"tags": [problems[0]]})
        (result,) = upsert_incidents(source, request.user, [draft])
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
        results: list[dict] = [{} for _ in items]
        drafts, positions = [], []
        for index, item in enumerate(items):
            try:
                drafts.append(parse_incident(item))
                positions.append(index)
            except InvalidIncident as exc:
                results[index] = {"index": index, "status": "error", "errors": exc.errors}
        for draft_index, problem in sorted(
            limits.upsert_tag_problems(source, drafts).items(), reverse=True
        ):
            index = positions.pop(draft_index)
            del drafts[draft_index]
            results[index] = {"index": index, "status": "error", "errors": {"tags": [problem]}}
        counts = {"created": 0, "updated": 0, "unchanged": 0, "error": len(items) - len(drafts)}
        if drafts:
            for index, outcome in zip(
                positions, upsert_incidents(source, request.user, drafts), strict=True
            ):
                counts[outcome.status] += 1
                results[index] = {
                    "index": index,
                    "status": outcome.status,
                    "pk": outcome.incident.pk,
                }
        code = status.HTTP_201_CREATED if drafts else status.HTTP_400_BAD_REQUEST
        return Response({**counts, "results": results}, status=code)
