"""Notification endpoints (``/api/v1/notificationprofiles/…``, ``/api/v2/notificationprofiles/…``,
``/api/v2/plannedmaintenance/…``).

Everything under ``notificationprofiles/`` is the requesting user's own: another user's object
is a 404, exactly like one that does not exist. Lists are unpaginated arrays, as in Argus.
``request.version`` picks the v1 or v2 shapes.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.exceptions import MethodNotAllowed, NotFound, Throttled, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from fleetwatch.accounts.api.views import requesting_user
from fleetwatch.api.validation import StrictQueryParams, require_object
from fleetwatch.incidents.api.serializers import IncidentSerializer, ListRendering
from fleetwatch.notifications import services, testsend
from fleetwatch.notifications.api.schema import (
    DestinationResponseSerializer,
    DestinationTestSerializer,
    DuplicateSerializer,
    MediaSerializer,
    NotificationProfileResponseSerializer,
)
from fleetwatch.notifications.api.serializers import (
    V1_FILTER_KEYS,
    DestinationSerializer,
    FilterSerializer,
    FilterV1Serializer,
    NotificationProfileSerializer,
    NotificationProfileV1Serializer,
    PlannedMaintenanceSerializer,
    TimeslotSerializer,
    UserSettingsSerializer,
    drf_error,
    render_medium,
)
from fleetwatch.notifications.filtering import filters_q, matching_incidents, parse_blob
from fleetwatch.notifications.media import all_media, get_medium
from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    Timeslot,
)


def incidents_response(request: Request, q) -> Response:
    """Every incident matching ``q`` (open and closed), newest first, unpaginated (Argus)."""
    queryset = matching_incidents(q).order_by("-start_time", "-id")
    rendering = ListRendering(request.version)
    return Response(rendering.render(list(rendering.rows(queryset))))


class Owned(StrictQueryParams):
    """The requesting user's objects of ``model``; others' are a 404."""

    model: type[Model]
    pagination_class: type[BasePagination] | None = None

    def get_queryset(self) -> QuerySet:
        # ``_default_manager`` is ``objects``: these models declare no other manager.
        return self.model._default_manager.filter(user=requesting_user(self.request))


# --- time slots --------------------------------------------------------------------------------


class TimeslotMixin(Owned):
    model = Timeslot
    serializer_class: type[BaseSerializer] | None = TimeslotSerializer

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().prefetch_related("time_recurrences")


class TimeslotListView(TimeslotMixin, generics.ListCreateAPIView):
    """``GET, POST notificationprofiles/timeslots/``."""


class TimeslotDetailView(TimeslotMixin, generics.RetrieveUpdateDestroyAPIView):
    """``GET, PUT, PATCH, DELETE notificationprofiles/timeslots/<pk>/``.

    Deleting a time slot deletes the profiles using it, as in Argus.
    """


# --- filters -----------------------------------------------------------------------------------


class FilterMixin(Owned):
    model = Filter

    def get_serializer_class(self):
        return FilterV1Serializer if self.request.version == "v1" else FilterSerializer


class FilterListView(FilterMixin, generics.ListCreateAPIView):
    """``GET, POST notificationprofiles/filters/`` (v1: ``filter_string``; v2: ``filter``)."""


class FilterDetailView(FilterMixin, generics.RetrieveUpdateDestroyAPIView):
    """``GET, PUT, PATCH, DELETE notificationprofiles/filters/<pk>/``; a filter in use by a
    profile cannot be deleted (400)."""

    def perform_destroy(self, instance: Filter) -> None:
        try:
            services.delete_filter(instance)
        except DjangoValidationError as exc:
            raise drf_error(exc) from None


class PreviewView(StrictQueryParams, APIView):
    """``POST notificationprofiles/preview/`` (v2) and ``filterpreview/`` (v1 and v2): the
    incidents a filter blob (the body) selects; an empty blob selects none."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=IncidentSerializer(many=True))
    def post(self, request: Request) -> Response:
        require_object(request.data)
        blob = dict(request.data)
        if request.version == "v1":
            unknown = sorted(set(blob) - V1_FILTER_KEYS)
            if unknown:
                raise ValidationError({key: ["Unknown field."] for key in unknown})
        try:
            spec = parse_blob(blob)
        except DjangoValidationError as exc:
            raise drf_error(exc) from None
        if spec.is_empty:
            return Response([])
        return incidents_response(request, spec.q())


# --- destinations and media --------------------------------------------------------------------


class DestinationMixin(Owned):
    model = Destination
    serializer_class: type[BaseSerializer] | None = DestinationSerializer


DESTINATION = DestinationResponseSerializer


@extend_schema_view(
    get=extend_schema(responses=DESTINATION(many=True)),
    post=extend_schema(responses={201: DESTINATION}),
)
class DestinationListView(DestinationMixin, generics.ListCreateAPIView):
    """``GET, POST notificationprofiles/destinations/``."""


@extend_schema_view(
    get=extend_schema(responses=DESTINATION),
    patch=extend_schema(responses=DESTINATION),
    put=extend_schema(exclude=True),  # a 405, as Argus
)
class DestinationDetailView(DestinationMixin, generics.RetrieveUpdateDestroyAPIView):
    """``GET, PATCH, DELETE notificationprofiles/destinations/<pk>/`` (PUT is 405, as Argus).

    Managed (synced) destinations and destinations used by a profile cannot be deleted.
    """

    def put(self, request: Request, *args, **kwargs) -> Response:
        raise MethodNotAllowed("PUT")

    def perform_destroy(self, instance: Destination) -> None:
        try:
            services.delete_destination(instance)
        except DjangoValidationError as exc:
            raise drf_error(exc) from None


class DestinationDuplicateView(DestinationMixin, generics.GenericAPIView):
    """``GET notificationprofiles/destinations/<pk>/duplicate/``: ``{"is_duplicate": bool}`` —
    whether another user has a destination with the same medium and address."""

    @extend_schema(responses=DuplicateSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response({"is_duplicate": services.is_duplicate(self.get_object())})


class DestinationTestView(DestinationMixin, generics.GenericAPIView):
    """``POST notificationprofiles/destinations/<pk>/test/`` (Fleetwatch; Argus has none): send
    a test message now through the destination's medium. ``{"sent": bool, "detail": str}``
    (a failed send is a 200 with ``sent: false`` and a summarised reason); more than
    ``testsend.TEST_LIMIT`` tests a minute is a 429."""

    @extend_schema(request=None, responses={200: DestinationTestSerializer})
    def post(self, request: Request, pk: int) -> Response:
        destination = self.get_object()
        try:
            outcome = testsend.send_test(destination)
        except testsend.TooManyTests as exc:
            raise Throttled(wait=exc.retry_after, detail=str(exc)) from None
        return Response({"sent": outcome.sent, "detail": outcome.detail})


class MediaListView(StrictQueryParams, APIView):
    """``GET notificationprofiles/media/``: the installed media."""

    @extend_schema(responses=MediaSerializer(many=True), operation_id="v2_media_list")
    def get(self, request: Request) -> Response:
        return Response([render_medium(medium) for medium in all_media()])


def medium_or_404(slug: str):
    medium = get_medium(slug)
    if medium is None:
        raise NotFound("No Media matches the given query.")
    return medium


class MediaDetailView(StrictQueryParams, APIView):
    """``GET notificationprofiles/media/<slug>/``."""

    @extend_schema(responses=MediaSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(render_medium(medium_or_404(slug)))


class MediaSchemaView(StrictQueryParams, APIView):
    """``GET notificationprofiles/media/<slug>/json_schema/``: the JSON schema of the
    medium's ``settings``."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        schema = {"$id": request.build_absolute_uri(), **medium_or_404(slug).json_schema}
        return Response(schema)


# --- profiles ----------------------------------------------------------------------------------


class ProfileMixin(Owned):
    model = NotificationProfile

    def get_serializer_class(self):
        if self.request.version == "v1":
            return NotificationProfileV1Serializer
        return NotificationProfileSerializer

    def get_queryset(self) -> QuerySet:
        return (
            super()
            .get_queryset()
            .select_related("timeslot", "user")
            .prefetch_related(
                "timeslot__time_recurrences",
                "filters",
                Prefetch(
                    "destinations",
                    queryset=Destination.objects.select_related("phone_number"),
                ),
            )
        )


# The schema is the v2 API's (``/api/v2/schema/``): the v2 shapes.
PROFILE = NotificationProfileResponseSerializer


@extend_schema_view(
    get=extend_schema(responses=PROFILE(many=True)),
    post=extend_schema(responses={201: PROFILE}),
)
class ProfileListView(ProfileMixin, generics.ListCreateAPIView):
    """``GET, POST notificationprofiles/``."""


@extend_schema_view(
    get=extend_schema(responses=PROFILE),
    put=extend_schema(responses=PROFILE),
    patch=extend_schema(responses=PROFILE),
)
class ProfileDetailView(ProfileMixin, generics.RetrieveUpdateDestroyAPIView):
    """``GET, PUT, PATCH, DELETE notificationprofiles/<pk>/``.

    Unlike Argus v1, a profile keeps its pk when its time slot changes.
    """


class ProfileIncidentsView(ProfileMixin, generics.GenericAPIView):
    """``GET notificationprofiles/<pk>/incidents/``: incidents matching any of the profile's
    filters (union, as Argus), unpaginated."""

    @extend_schema(responses=IncidentSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        profile = self.get_object()
        return incidents_response(request, filters_q(list(profile.filters.all())))


# --- planned maintenance -----------------------------------------------------------------------


class StaffWrites(BasePermission):
    message = "Only staff may create, change or delete planned maintenance."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_staff)


class MaintenanceMixin(StrictQueryParams):
    serializer_class: type[BaseSerializer] | None = PlannedMaintenanceSerializer
    pagination_class: type[BasePagination] | None = None

    def get_permissions(self):
        return [*super().get_permissions(), StaffWrites()]

    def get_queryset(self) -> QuerySet:
        return PlannedMaintenance.objects.prefetch_related("filters")


class MaintenanceListView(MaintenanceMixin, generics.ListCreateAPIView):
    """``GET, POST /api/v2/plannedmaintenance/`` (writes: staff only, else 403)."""


class MaintenanceDetailView(MaintenanceMixin, generics.RetrieveUpdateDestroyAPIView):
    """``GET, PUT, PATCH, DELETE /api/v2/plannedmaintenance/<pk>/``."""


class UserSettingsView(StrictQueryParams, generics.RetrieveUpdateAPIView):
    """``GET, PUT, PATCH notificationprofiles/settings/``: the requesting user's time zone."""

    serializer_class = UserSettingsSerializer

    def get_object(self):
        return self.request.user
