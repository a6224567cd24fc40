"""The OpenAPI description of the incident API: what each route takes and answers.

Most incident views parse and render by hand (no ``serializer_class`` doing the work), so
drf-spectacular cannot guess their bodies: it logged errors for the bulk views, documented
lists as single objects, event ``type`` as a string and no 4xx answers. The shapes are
declared here, in one place, and attached to the views with ``extend_schema_view`` when the v2
URL conf is loaded, so the views themselves stay "parse, call a service, render". A
schemathesis run over the whole v2 schema (tests/incidents/test_openapi_schema.py) keeps
the two in step: any response that does not match its schema fails it.
"""

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from fleetwatch.incidents.api import bulk, open_lists
from fleetwatch.incidents.api import views as v
from fleetwatch.incidents.api.serializers import (
    AckExpirationSerializer,
    AckSerializer,
    ActorSerializer,
    EventSerializer,
    EventTypeSerializer,
    IncidentSerializer,
    SourceCreateSerializer,
    SourceSystemSerializer,
    SourceSystemTypeSerializer,
    TagSerializer,
    TicketUrlSerializer,
)
from fleetwatch.incidents.filtersets import IncidentFilterSet
from fleetwatch.incidents.limits import TAGS_PER_INCIDENT_MAX

# --- response shapes --------------------------------------------------------------------------


class EventResponseSerializer(serializers.Serializer):
    """An event as the API answers it: ``type`` is ``{"value", "display"}``."""

    pk = serializers.IntegerField()
    incident = serializers.IntegerField()
    actor = ActorSerializer()
    timestamp = serializers.DateTimeField()
    received = serializers.DateTimeField()
    type = EventTypeSerializer()
    description = serializers.CharField(allow_blank=True)


class AckResponseSerializer(serializers.Serializer):
    pk = serializers.IntegerField()
    event = EventResponseSerializer()
    expiration = serializers.DateTimeField(allow_null=True)


class IncidentUpdateSerializer(serializers.Serializer):
    """The fields a PATCH/PUT may change (v2); any other field is a 400."""

    details_url = serializers.CharField(required=False, allow_blank=True)
    ticket_url = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    level = serializers.IntegerField(required=False, min_value=1, max_value=5)
    metadata = serializers.JSONField(required=False)
    # DRF hands max_length to the ListSerializer that many=True makes; the stubs lack it.
    tags = TagSerializer(many=True, required=False, max_length=TAGS_PER_INCIDENT_MAX)  # type: ignore[call-arg]


def page_of(name: str, item) -> serializers.Serializer:
    """A cursor page: ``{"next", "previous", "results": [item]}``."""
    return inline_serializer(
        name,
        fields={
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


INCIDENT_PAGE = page_of("IncidentPage", IncidentSerializer)
EVENT_PAGE = page_of("EventPage", EventResponseSerializer)
INCIDENT_COUNT = inline_serializer(
    "IncidentCount",
    fields={"count": serializers.IntegerField(), "params": serializers.DictField()},
)
INCIDENT_LIST = PolymorphicProxySerializer(
    component_name="IncidentListResult",
    serializers=[INCIDENT_PAGE, INCIDENT_COUNT],
    resource_type_field_name=None,
)
#: ``{field: [messages]}`` for a 400, ``{"detail": message}`` otherwise: always an object.
ERROR = OpenApiTypes.OBJECT


def bulk_changes(name: str, key: str, value) -> serializers.Serializer:
    """Argus's bulk answer: ``{"changes": {"<id>": {key, "status", "errors"}}}``."""
    change = inline_serializer(
        f"{name}Change",
        fields={
            key: value,
            "status": serializers.IntegerField(),
            "errors": serializers.DictField(allow_null=True),
        },
    )
    return inline_serializer(name, fields={"changes": serializers.DictField(child=change)})


def bulk_request(name: str, fields: dict) -> serializers.Serializer:
    return inline_serializer(
        name, fields={"ids": serializers.ListField(child=serializers.IntegerField()), **fields}
    )


BULK_INGEST_RESULT = inline_serializer(
    "BulkIngestResult",
    fields={
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
        "error": serializers.IntegerField(),
        "results": serializers.ListField(
            child=inline_serializer(
                "BulkIngestItem",
                fields={
                    "index": serializers.IntegerField(),
                    "status": serializers.ChoiceField(["created", "updated", "unchanged", "error"]),
                    "pk": serializers.IntegerField(required=False),
                    "errors": serializers.DictField(required=False),
                },
            )
        ),
    },
)

BULK_400 = "No item succeeded (the same shape as a 201), or the body is invalid (by field)."

# --- query parameters -------------------------------------------------------------------------

PAGING = [
    OpenApiParameter("cursor", str, description="Opaque: take it from next/previous."),
    OpenApiParameter("page_size", int, description="Default 100, at most the server's max."),
]
FILTERS = [
    OpenApiParameter(name, str, description="See README: incident list filters.")
    for name in IncidentFilterSet.base_filters
] + [OpenApiParameter("count", str, description="Answer {count, params} instead of a page.")]
SOURCE_FILTERS = [p for p in FILTERS if p.name not in v.SOURCE_FILTERS]


def answers(ok: dict, *, path: bool = True, body: bool = False, also: tuple = ()) -> dict:
    """``ok`` plus the error answers the route can give (all JSON objects)."""
    codes = {400: "Invalid input, by field", 401: "Not authenticated", 403: "Not allowed"}
    if path:
        codes[404] = "No such object"
    if body:
        codes[413] = "Body over FLEETWATCH_MAX_BODY_BYTES"
    for code in also:
        codes[code] = {405: "Method not allowed here", 409: "Conflict"}.get(code, "Error")
    errors = {code: OpenApiResponse(ERROR, description=text) for code, text in codes.items()}
    return {**errors, **ok}


def op(operation_id: str, ok: dict, **kwargs) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    path = kwargs.pop("path", True)
    body = kwargs.pop("body", False)
    also = kwargs.pop("also", ())
    return extend_schema(
        operation_id=operation_id,
        responses=answers(ok, path=path, body=body, also=also),
        **kwargs,
    )


def annotate() -> None:
    """Attach the shapes above to the incident views (idempotent)."""
    extend_schema_view(
        get=op("incidents_list", {200: INCIDENT_LIST}, path=False, parameters=PAGING + FILTERS),
        post=op(
            "incidents_create",
            {201: IncidentSerializer},
            path=False,
            body=True,
            request=IncidentSerializer,
        ),
    )(v.IncidentListView)
    extend_schema_view(
        get=op(
            "incidents_mine_list",
            {200: INCIDENT_LIST},
            path=False,
            parameters=PAGING + SOURCE_FILTERS,
        ),
        post=op(
            "incidents_mine_create",
            {201: IncidentSerializer},
            path=False,
            body=True,
            request=IncidentSerializer,
        ),
    )(v.MineView)
    for view, name in (
        (open_lists.OpenListV2View, "incidents_open_list"),
        (open_lists.OpenUnackedListV2View, "incidents_open_unacked_list"),
    ):
        extend_schema_view(
            get=op(name, {200: INCIDENT_LIST}, path=False, parameters=PAGING + FILTERS)
        )(view)
    extend_schema_view(
        get=op("incidents_retrieve", {200: IncidentSerializer}),
        patch=op(
            "incidents_partial_update",
            {200: IncidentSerializer},
            body=True,
            request=IncidentUpdateSerializer,
        ),
        put=op(
            "incidents_update",
            {200: IncidentSerializer},
            body=True,
            request=IncidentUpdateSerializer,
        ),
        delete=op(
            "incidents_destroy",
            {204: OpenApiResponse(description="Deleted")},
            also=(405,),
            description="405 unless FLEETWATCH_INDELIBLE_INCIDENTS is false.",
        ),
    )(v.IncidentDetailView)
    extend_schema_view(
        put=op(
            "incidents_ticket_url_update",
            {200: TicketUrlSerializer},
            body=True,
            request=TicketUrlSerializer,
        )
    )(v.TicketUrlView)
    extend_schema_view(
        get=op("incidents_events_list", {200: EventResponseSerializer(many=True)}),
        post=op(
            "incidents_events_create",
            {201: EventResponseSerializer},
            body=True,
            request=EventSerializer,
        ),
    )(v.IncidentEventsView)
    extend_schema_view(
        get=op("incidents_events_retrieve", {200: EventResponseSerializer}),
    )(v.IncidentEventDetailView)
    extend_schema_view(
        get=op("events_list", {200: EVENT_PAGE}, path=False, parameters=PAGING),
    )(v.AllEventsView)
    extend_schema_view(
        get=op("incidents_acks_list", {200: AckResponseSerializer(many=True)}),
        post=op(
            "incidents_acks_create",
            {201: AckResponseSerializer},
            body=True,
            request=AckSerializer,
        ),
    )(v.IncidentAcksView)
    extend_schema_view(
        get=op("incidents_acks_retrieve", {200: AckResponseSerializer}),
        put=op(
            "incidents_acks_update",
            {200: AckResponseSerializer},
            body=True,
            request=AckExpirationSerializer,
        ),
        patch=op(
            "incidents_acks_partial_update",
            {200: AckResponseSerializer},
            body=True,
            request=AckExpirationSerializer,
        ),
    )(v.IncidentAckDetailView)
    extend_schema_view(
        get=op("incidents_tags_list", {200: TagSerializer(many=True)}),
        post=op("incidents_tags_create", {201: TagSerializer}, body=True, request=TagSerializer),
    )(v.IncidentTagsView)
    extend_schema_view(
        get=op("incidents_tags_retrieve", {200: TagSerializer}),
        delete=op("incidents_tags_destroy", {204: OpenApiResponse(description="Removed")}),
    )(v.IncidentTagDetailView)
    extend_schema_view(
        get=op("sources_list", {200: SourceSystemSerializer(many=True)}, path=False),
        post=op(
            "sources_create",
            {201: SourceSystemSerializer},
            path=False,
            body=True,
            request=SourceCreateSerializer,
        ),
    )(v.SourceListView)
    source_change = inline_serializer(
        "SourceChange",
        fields={
            "name": serializers.CharField(required=False),
            "base_url": serializers.CharField(required=False, allow_blank=True),
        },
    )
    extend_schema_view(
        get=op("sources_retrieve", {200: SourceSystemSerializer}),
        put=op("sources_update", {200: SourceSystemSerializer}, body=True, request=source_change),
        patch=op(
            "sources_partial_update",
            {200: SourceSystemSerializer},
            body=True,
            request=source_change,
        ),
    )(v.SourceDetailView)
    extend_schema_view(
        post=op(
            "sources_heartbeat",
            {204: OpenApiResponse(description="Heartbeat recorded")},
            path=False,
            request=None,
        ),
    )(v.HeartbeatView)
    extend_schema_view(
        get=op("source_types_list", {200: SourceSystemTypeSerializer(many=True)}, path=False),
        post=op(
            "source_types_create",
            {201: SourceSystemTypeSerializer},
            path=False,
            body=True,
            request=SourceSystemTypeSerializer,
        ),
    )(v.SourceTypeListView)
    extend_schema_view(
        get=op("source_types_retrieve", {200: SourceSystemTypeSerializer}),
    )(v.SourceTypeDetailView)
    extend_schema_view(
        post=op(
            "incidents_upsert",
            {200: IncidentSerializer, 201: IncidentSerializer},
            path=False,
            body=True,
            request=IncidentSerializer,
        ),
    )(bulk.UpsertView)
    extend_schema_view(
        post=op(
            "incidents_bulk_ingest",
            {201: BULK_INGEST_RESULT, 400: OpenApiResponse(ERROR, description=BULK_400)},
            path=False,
            body=True,
            request=inline_serializer(
                "BulkIngest",
                fields={
                    "incidents": IncidentSerializer(many=True),
                    "source": serializers.IntegerField(required=False),
                },
            ),
        ),
    )(bulk.BulkIngestView)
    for bulk_view, name, key, value, request in (
        (
            bulk.BulkAckView,
            "acks_bulk",
            "ack",
            AckResponseSerializer(allow_null=True),
            {"ack": AckSerializer()},
        ),
        (
            bulk.BulkEventView,
            "events_bulk",
            "event",
            EventResponseSerializer(allow_null=True),
            {"event": EventSerializer()},
        ),
        (
            bulk.BulkTicketUrlView,
            "ticket_url_bulk",
            "ticket_url",
            serializers.CharField(allow_null=True, allow_blank=True),
            {"ticket_url": serializers.CharField(allow_blank=True)},
        ),
    ):
        camel = "".join(part.title() for part in name.split("_"))
        result = bulk_changes(f"{camel}Result", key, value)
        extend_schema_view(
            post=op(
                name,
                {201: result, 400: OpenApiResponse(ERROR, description=BULK_400)},
                path=False,
                body=True,
                request=bulk_request(f"{camel}Request", request),
            )
        )(bulk_view)
