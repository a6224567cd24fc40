"""The incident API (v1 as the Argus v1 document, v2 as Argus 2.10), one set of views.

``request.version`` ("v1"/"v2") selects the few differences: incident shape (``metadata``,
``level``), the ack body (nested in v1), the editable fields and which routes exist.
"""

from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import (
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from fleetwatch.api.pagination import KeysetCursorPagination
from fleetwatch.api.renderers import fast_parsers, fast_renderers
from fleetwatch.api.validation import (
    UNKNOWN_PARAMETER,
    StrictQueryParams,
    reject_unknown,
    require_object,
)
from fleetwatch.incidents import services
from fleetwatch.incidents.api.compiled import COMPILED_FILTERS, CompiledFilters
from fleetwatch.incidents.api.serializers import (
    AckExpirationSerializer,
    AckSerializer,
    AckV1Serializer,
    EventSerializer,
    IncidentSerializer,
    ListRendering,
    SourceCreateSerializer,
    SourceSystemSerializer,
    SourceSystemTypeSerializer,
    TagSerializer,
    TicketUrlSerializer,
    incident_body,
    render_ack,
    render_event,
    render_incident,
    render_new_incident,
    render_source,
)
from fleetwatch.incidents.events import AckRefused, EventRefused, IncidentMissing, is_source
from fleetwatch.incidents.filtersets import IncidentFilterSet
from fleetwatch.incidents.ingest import (
    IncidentConflict,
    InvalidIncident,
    create_incident,
    parse_datetime_value,
    parse_incident,
)
from fleetwatch.incidents.models import (
    Acknowledgement,
    Event,
    Incident,
    IncidentTagRelation,
    SourceSystem,
    SourceSystemType,
)
from fleetwatch.incidents.permissions import source_of
from fleetwatch.incidents.sources import create_source
from fleetwatch.incidents.tags import format_tag, parse_tag

PAGING_PARAMS = {"cursor", "page_size", "format"}
COUNT_VALUES = {"", "true", "True", "1"}
NOT_CHANGEABLE = "The field is not allowed to be changed."
SOURCE_FILTERS = {"source__id__in", "source__name__in", "source__type__in"}
EDITABLE = {
    "v1": {"details_url", "ticket_url", "tags"},
    "v2": {"details_url", "ticket_url", "tags", "level", "metadata", "description"},
}
INCIDENT_FIELDS = set(IncidentSerializer().fields) | {"source"}
LIST_PARAMS = set(IncidentFilterSet.base_filters) | PAGING_PARAMS | {"count"}
# The common list queries: page SQL compiled once per filter key, see list_response.
COMPILED_PARAMS = PAGING_PARAMS | set(COMPILED_FILTERS)


def incidents_for_render() -> QuerySet:
    """Everything a page needs in two queries: incidents (+source, acked, open) and tags."""
    return (
        Incident.objects.select_related("source")
        .prefetch_related(
            Prefetch(
                "tag_relations",
                queryset=IncidentTagRelation.objects.select_related("tag").order_by("id"),
            )
        )
        .with_state()
    )


def get_incident(pk: int, queryset: QuerySet | None = None) -> Incident:
    """The incident or a 404; ``queryset`` loads what the caller needs, no more."""
    try:
        return (queryset if queryset is not None else incidents_for_render()).get(pk=pk)
    except Incident.DoesNotExist:
        raise NotFound("No Incident matches the given query.") from None


def incident_to_change(pk: int) -> Incident:
    """Enough of an incident for a write (the rules read ``source_id``), or a 404."""
    try:
        return services.incident_for_change(pk)
    except Incident.DoesNotExist:
        raise NotFound("No Incident matches the given query.") from None


@contextmanager
def domain_errors():
    """The domain's refusals as API errors: invalid values are a 400 naming the field.

    (``permissions.NotAllowed`` is a Django ``PermissionDenied``: DRF makes it a 403.)
    """
    try:
        yield
    except InvalidIncident as exc:
        raise ValidationError(exc.errors) from None
    except EventRefused as exc:
        raise ValidationError({"type": str(exc)}) from None
    except AckRefused as exc:
        raise ValidationError({"non_field_errors": [str(exc)]}) from None
    except IncidentMissing:
        raise NotFound("No Incident matches the given query.") from None


def django_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


def requesting_source(request: Request, data: object) -> SourceSystem:
    """The source an incident is created for: the caller's own, or (superuser) ``source``."""
    require_object(data)
    requested = data.get("source")
    user = request.user
    if requested not in (None, ""):
        own = source_of(user)
        if own is not None and str(requested) == str(own.pk):
            return own
        if not user.is_superuser:
            raise ValidationError({"source": ["Only a superuser may set the source."]})
        try:
            return SourceSystem.objects.get(pk=int(requested))
        except (SourceSystem.DoesNotExist, ValueError, TypeError):
            raise ValidationError(
                {"source": [f'Invalid pk "{requested}" - object does not exist.']}
            ) from None
    if not is_source(user):
        raise ValidationError(
            {"source": ["The requesting user must have a connected source system."]}
        )
    return user.source_system


class IncidentListMixin(StrictQueryParams):
    """Filtering, counting and paging shared by the incident lists."""

    allow_source_filters = True

    def allowed_query_params(self, request: Request):
        # A GET is checked against the filters in ``filtered``; other methods read none.
        return None if request.method == "GET" else self.query_params

    def filtered(self, request: Request, queryset: QuerySet) -> QuerySet:
        allowed = LIST_PARAMS if self.allow_source_filters else LIST_PARAMS - SOURCE_FILTERS
        reject_unknown(request.query_params, allowed, UNKNOWN_PARAMETER)
        filterset = IncidentFilterSet(request.query_params, queryset=queryset, request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return filterset.qs

    def list_response(self, request: Request, queryset: QuerySet, compiled=False) -> Response:
        """The list page; ``compiled``: ``queryset`` is all incidents, and a query using only
        paging parameters and ``COMPILED_FILTERS`` runs its page SQL compiled once per filter
        key (``KeysetCursorPagination.paginate_compiled``), same rows and errors."""
        rendering = ListRendering(request.version)
        if compiled and request.query_params.keys() <= COMPILED_PARAMS:
            filters = CompiledFilters(request.query_params)
            paginator = KeysetCursorPagination("start_time", filters.position)
            rows = paginator.paginate_compiled(
                request,
                (*filters.key, rendering.key),
                lambda: rendering.rows(filters.apply(queryset)),
            )
            return paginator.response(rendering.render(rows))
        queryset = self.filtered(request, queryset)
        if "count" in request.query_params:
            if request.query_params["count"] not in COUNT_VALUES:
                raise ValidationError({"count": ["Takes no value (or true)."]})
            params = {k: v for k, v in request.query_params.items() if k not in {"count", "format"}}
            return Response({"count": queryset.count(), "params": params})
        paginator = KeysetCursorPagination("start_time")
        rows = paginator.paginate(rendering.rows(queryset), request)
        return paginator.response(rendering.render(rows))


class IncidentListView(IncidentListMixin, GenericAPIView):
    serializer_class = IncidentSerializer
    renderer_classes = fast_renderers()
    parser_classes = fast_parsers()

    @extend_schema(responses=IncidentSerializer(many=True))
    def get(self, request: Request) -> Response:
        return self.list_response(request, Incident.objects.all(), compiled=True)

    @extend_schema(request=IncidentSerializer, responses={201: IncidentSerializer})
    def post(self, request: Request) -> Response:
        source = requesting_source(request, request.data)
        try:
            draft = parse_incident(
                request.data,
                require_tags=request.version != "v1",
                allow_metadata=request.version != "v1",
            )
            now = timezone.now()
            incident = create_incident(source, request.user, draft, now)
        except InvalidIncident as exc:
            raise ValidationError(exc.errors) from None
        except IncidentConflict as conflict:
            return Response(conflict.as_error(), status=status.HTTP_400_BAD_REQUEST)
        body = render_new_incident(incident, draft.tags, request.user, now, request.version)
        return Response(body, status=status.HTTP_201_CREATED)


class MineView(IncidentListView):
    """The requesting source's own incidents (no source filters)."""

    allow_source_filters = False

    def get(self, request: Request) -> Response:
        source = source_of(request.user)
        queryset = Incident.objects.filter(source=source) if source else Incident.objects.none()
        return self.list_response(request, queryset)


class IncidentDetailView(StrictQueryParams, GenericAPIView):
    serializer_class = IncidentSerializer

    def get(self, request: Request, pk: int) -> Response:
        return Response(incident_body(pk, request.version))

    def patch(self, request: Request, pk: int) -> Response:
        return self.update(request, pk)

    def put(self, request: Request, pk: int) -> Response:
        if request.version == "v1":
            raise MethodNotAllowed("PUT", "PUT is not part of API v1; use PATCH.")
        return self.update(request, pk)

    def delete(self, request: Request, pk: int) -> Response:
        if settings.INDELIBLE_INCIDENTS:
            return Response(
                {"detail": 'Method "DELETE" not allowed.'},
                status=status.HTTP_405_METHOD_NOT_ALLOWED,
            )
        incident = incident_to_change(pk)
        services.delete_incident(incident, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def update(self, request: Request, pk: int) -> Response:
        data = request.data
        require_object(data)
        editable = EDITABLE[request.version]
        errors: dict = {}
        fixed = [name for name in data if name in INCIDENT_FIELDS and name not in editable]
        # Clients (argus-api-client's update_incident) send back the whole incident they read:
        # a field that cannot change is accepted when it has its current value.
        current = render_incident(pk, request.version) if fixed else {}
        for name in data:
            if name not in INCIDENT_FIELDS:
                errors[name] = "The field does not exist."
            elif name not in editable and not same_value(name, data[name], current):
                errors[name] = "The field is not allowed to be changed."
        if errors:
            raise ValidationError(errors)
        queryset = Incident.objects.prefetch_related("tag_relations__tag")
        incident = get_incident(pk, queryset)
        with domain_errors():
            services.edit_incident(incident, data, request.user)
        return Response(render_incident(pk, request.version))


def same_value(name: str, sent: object, current: dict) -> bool:
    """Whether ``sent`` is the incident's current ``name`` as rendered (times compared as
    instants: ``+00:00`` and ``Z`` are the same time)."""
    if name not in current:
        return False
    if name in ("start_time", "end_time") and isinstance(sent, str) and current[name]:
        try:
            return parse_datetime_value(sent, allow_infinity=True) == parse_datetime_value(
                current[name], allow_infinity=True
            )
        except ValueError:
            return False
    return sent == current[name]


class TicketUrlView(StrictQueryParams, GenericAPIView):
    serializer_class = TicketUrlSerializer

    def put(self, request: Request, pk: int) -> Response:
        incident = get_incident(pk, Incident.objects.only("id", "source_id", "ticket_url"))
        serializer = TicketUrlSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = serializer.validated_data["ticket_url"]
        services.change_ticket_url(incident, new, request.user)
        return Response({"ticket_url": new})


# --- events -----------------------------------------------------------------------------------


def parse_event_body(request: Request, data) -> dict:
    serializer = EventSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = dict(serializer.validated_data)
    if is_source(request.user) and "timestamp" not in values:
        raise ValidationError({"timestamp": ["This field is required."]})
    return values


class IncidentEventsView(StrictQueryParams, GenericAPIView):
    serializer_class = EventSerializer

    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(Incident, pk=pk)
        events = incident.events.select_related("actor").order_by("timestamp", "id")
        return Response([render_event(e) for e in events])

    def post(self, request: Request, pk: int) -> Response:
        values = parse_event_body(request, request.data)
        acks_url = request.build_absolute_uri(f"{request.path.rsplit('events/', 1)[0]}acks/")
        with domain_errors():  # a missing incident is a 404
            event = services.post_event(
                pk,
                request.user,
                values["type"],
                values.get("timestamp"),
                values.get("description", ""),
                acks_url=acks_url,
            )
        return Response(render_event(event), status=status.HTTP_201_CREATED)


class IncidentEventDetailView(StrictQueryParams, GenericAPIView):
    serializer_class = EventSerializer

    def get(self, request: Request, pk: int, event_pk: int) -> Response:
        event = get_object_or_404(
            Event.objects.select_related("actor"), incident_id=pk, pk=event_pk
        )
        return Response(render_event(event))


class AllEventsView(StrictQueryParams, GenericAPIView):
    """v2 ``incidents/events/``: every event, newest first, cursor-paged."""

    serializer_class = EventSerializer
    query_params = frozenset(PAGING_PARAMS)

    def get(self, request: Request) -> Response:
        paginator = KeysetCursorPagination("timestamp")
        rows = paginator.paginate(Event.objects.select_related("actor"), request)
        return paginator.response([render_event(e) for e in rows])


# --- acknowledgements -------------------------------------------------------------------------


def parse_ack_body(request: Request, data) -> dict:
    """The ack body, v1 nested or v2 flat, as ``{timestamp, description, expiration}``."""
    serializer_class = AckV1Serializer if request.version == "v1" else AckSerializer
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    values = dict(serializer.validated_data)
    if request.version == "v1":
        values.update(values.pop("event"))
    return values


class IncidentAcksView(StrictQueryParams, GenericAPIView):
    serializer_class = AckSerializer

    def get(self, request: Request, pk: int) -> Response:
        get_object_or_404(Incident, pk=pk)
        acks = (
            Acknowledgement.objects.filter(event__incident_id=pk)
            .select_related("event__actor")
            .order_by("event__timestamp", "pk")
        )
        return Response([render_ack(a) for a in acks])

    def post(self, request: Request, pk: int) -> Response:
        incident = incident_to_change(pk)
        values = parse_ack_body(request, request.data)
        with domain_errors():
            ack = services.acknowledge(
                incident,
                request.user,
                values.get("timestamp"),
                values.get("description", ""),
                values.get("expiration"),
            )
        return Response(render_ack(ack), status=status.HTTP_201_CREATED)


class IncidentAckDetailView(StrictQueryParams, GenericAPIView):
    serializer_class = AckExpirationSerializer

    def get_ack(self, pk: int, ack_pk: int) -> Acknowledgement:
        return get_object_or_404(
            Acknowledgement.objects.select_related("event__actor"),
            event__incident_id=pk,
            pk=ack_pk,
        )

    def get(self, request: Request, pk: int, ack_pk: int) -> Response:
        return Response(render_ack(self.get_ack(pk, ack_pk)))

    def put(self, request: Request, pk: int, ack_pk: int) -> Response:
        return self.patch(request, pk, ack_pk)

    def patch(self, request: Request, pk: int, ack_pk: int) -> Response:
        if request.version == "v1":
            raise MethodNotAllowed(
                request.method, "Acknowledgements cannot be changed through API v1."
            )
        ack = self.get_ack(pk, ack_pk)
        reject_unknown(request.data, {"expiration"}, NOT_CHANGEABLE)
        serializer = AckExpirationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with domain_errors():
            services.change_ack_expiration(
                ack, serializer.validated_data["expiration"], request.user
            )
        return Response(render_ack(ack))


# --- tags (v2) --------------------------------------------------------------------------------


class IncidentTagsView(StrictQueryParams, GenericAPIView):
    serializer_class = TagSerializer

    def get(self, request: Request, pk: int) -> Response:
        incident = get_incident(pk)
        return Response(
            [{"tag": format_tag(r.tag.key, r.tag.value)} for r in incident.tag_relations.all()]
        )

    def post(self, request: Request, pk: int) -> Response:
        incident = incident_to_change(pk)
        serializer = TagSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tag = parse_tag(serializer.validated_data["tag"])
        with domain_errors():
            services.add_tag(incident, tag, request.user)
        return Response({"tag": format_tag(*tag)}, status=status.HTTP_201_CREATED)


class IncidentTagDetailView(StrictQueryParams, GenericAPIView):
    serializer_class = TagSerializer

    def get_relation(self, pk: int, tag: str) -> IncidentTagRelation:
        try:
            key, value = parse_tag(tag)
        except ValueError as exc:
            raise ValidationError({"tag": [str(exc)]}) from None
        return get_object_or_404(
            IncidentTagRelation.objects.select_related("tag", "incident"),
            incident_id=pk,
            tag__key=key,
            tag__value=value,
        )

    def get(self, request: Request, pk: int, tag: str) -> Response:
        relation = self.get_relation(pk, tag)
        return Response({"tag": format_tag(relation.tag.key, relation.tag.value)})

    def delete(self, request: Request, pk: int, tag: str) -> Response:
        relation = self.get_relation(pk, tag)
        with domain_errors():
            services.remove_tag(relation, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- sources ----------------------------------------------------------------------------------


class SourceListView(StrictQueryParams, GenericAPIView):
    serializer_class = SourceSystemSerializer

    def get(self, request: Request) -> Response:
        return Response([render_source(s) for s in SourceSystem.objects.all()])

    @extend_schema(request=SourceCreateSerializer, responses={201: SourceSystemSerializer})
    def post(self, request: Request) -> Response:
        if request.version == "v1":
            raise MethodNotAllowed("POST", "Sources cannot be created through API v1; use v2.")
        if not request.user.is_superuser:
            raise PermissionDenied("Only a superuser may create sources.")
        serializer = SourceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            source = create_source(
                data["name"], data["type"], data.get("username"), data.get("base_url", "")
            )
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(render_source(source), status=status.HTTP_201_CREATED)


class SourceDetailView(StrictQueryParams, GenericAPIView):
    serializer_class = SourceSystemSerializer

    def get(self, request: Request, pk: int) -> Response:
        return Response(render_source(get_object_or_404(SourceSystem, pk=pk)))

    def put(self, request: Request, pk: int) -> Response:
        return self.patch(request, pk)

    def patch(self, request: Request, pk: int) -> Response:
        if not request.user.is_superuser:
            raise PermissionDenied("Only a superuser may change sources.")
        source = get_object_or_404(SourceSystem, pk=pk)
        reject_unknown(request.data, {"name", "base_url"}, NOT_CHANGEABLE)
        serializer = SourceSystemSerializer(source, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(render_source(source))


class HeartbeatView(StrictQueryParams, GenericAPIView):
    serializer_class = None

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        source = source_of(request.user)
        if source is None:
            raise PermissionDenied("Only source systems send heartbeats.")
        SourceSystem.objects.filter(pk=source.pk).update(last_seen=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceTypeListView(StrictQueryParams, GenericAPIView):
    serializer_class = SourceSystemTypeSerializer

    def get(self, request: Request) -> Response:
        return Response([{"name": t.name} for t in SourceSystemType.objects.all()])

    def post(self, request: Request) -> Response:
        serializer = SourceSystemTypeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class SourceTypeDetailView(StrictQueryParams, GenericAPIView):
    serializer_class = SourceSystemTypeSerializer

    def get(self, request: Request, name: str) -> Response:
        return Response({"name": get_object_or_404(SourceSystemType, name=name).name})


class MetadataV1View(StrictQueryParams, GenericAPIView):
    serializer_class = SourceSystemSerializer

    def get(self, request: Request) -> Response:
        return Response({"sourceSystems": [render_source(s) for s in SourceSystem.objects.all()]})
