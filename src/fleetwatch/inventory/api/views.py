"""``/api/v2/devices/``: the device inventory (an extension; not in Argus).

Views parse, call ``fleetwatch.inventory.services``, render. Reading needs a login (people and
source systems alike, as the incident lists); linking and unlinking by hand is for people —
staff and end users — never a source system's token (``services.may_change_links``).
"""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from fleetwatch.api.pagination import KeysetCursorPagination
from fleetwatch.api.validation import StrictQueryParams
from fleetwatch.connectors.models import VendorDevice
from fleetwatch.incidents.api.schema import INCIDENT_LIST, page_of
from fleetwatch.incidents.api.serializers import IncidentSerializer
from fleetwatch.incidents.api.views import IncidentListMixin
from fleetwatch.incidents.models import Incident
from fleetwatch.inventory import services
from fleetwatch.inventory.api.filters import DeviceFilterSet
from fleetwatch.inventory.api.serializers import (
    DeviceDetailSerializer,
    DeviceSerializer,
    LinkRequestSerializer,
    LinkSerializer,
)
from fleetwatch.inventory.models import Device, DeviceLink

PAGING = {"cursor", "page_size", "format"}


def with_links(devices: QuerySet) -> QuerySet:
    links = DeviceLink.objects.select_related("vendor_device__connector", "linked_by")
    return devices.prefetch_related(Prefetch("links", queryset=links))


#: A cursor page of devices, as the list answers it.
DEVICE_PAGE = page_of("DevicePage", DeviceSerializer)


class DeviceListView(StrictQueryParams, GenericAPIView):
    """Devices, newest first, cursor-paginated like incidents."""

    serializer_class = DeviceSerializer
    permission_classes = [IsAuthenticated]
    query_params = frozenset(set(DeviceFilterSet.base_filters) | PAGING)

    @extend_schema(
        parameters=[
            OpenApiParameter("vendor", str, description="comma-separated vendor slugs"),
            OpenApiParameter("has_open_incidents", bool),
            OpenApiParameter(
                "vendors_in_trouble__gte",
                int,
                description="at least N sources with open incidents on the device",
            ),
            OpenApiParameter("conflict", bool),
            OpenApiParameter("search", str, description="name, MAC (any notation) or hostname"),
            OpenApiParameter("last_seen__gte", str),
            OpenApiParameter("last_seen__lte", str),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=DEVICE_PAGE,
    )
    def get(self, request: Request) -> Response:
        filterset = DeviceFilterSet(request.query_params, queryset=Device.objects.all())
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        paginator = KeysetCursorPagination("created")
        rows = paginator.paginate(filterset.qs, request)
        page = list(
            with_links(
                services.annotate_trouble(Device.objects.filter(pk__in=[d.pk for d in rows]))
            )
        )
        order = {d.pk: i for i, d in enumerate(rows)}
        page.sort(key=lambda d: order[d.pk])
        return paginator.response(list(DeviceSerializer(page, many=True).data))


class DeviceDetailView(StrictQueryParams, GenericAPIView):
    serializer_class = DeviceDetailSerializer
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        device = get_object_or_404(
            with_links(services.annotate_trouble(Device.objects.all())), pk=pk
        )
        return Response(DeviceDetailSerializer(device).data)


class DeviceIncidentsView(IncidentListMixin, GenericAPIView):
    """The device's incidents from every source, with every incident-list filter."""

    serializer_class = IncidentSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=INCIDENT_LIST)
    def get(self, request: Request, pk: int) -> Response:
        device = get_object_or_404(Device, pk=pk)
        return self.list_response(request, Incident.objects.filter(device_link__device=device))


class IsPerson(BasePermission):
    """A person (staff or end user), not a source system."""

    message = "Only people link and unlink vendor records; a source system may not."

    def has_permission(self, request: Request, _view: object) -> bool:
        return services.may_change_links(request.user)


class _LinkAction(StrictQueryParams, GenericAPIView):
    serializer_class = LinkRequestSerializer
    permission_classes = [IsAuthenticated, IsPerson]

    def record(self, request: Request) -> VendorDevice:
        body = LinkRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record = VendorDevice.objects.filter(pk=body.validated_data["record"]).first()
        if record is None:
            raise ValidationError({"record": ["No such vendor record."]})
        return record


class DeviceLinkView(_LinkAction):
    @extend_schema(request=LinkRequestSerializer, responses=LinkSerializer)
    def post(self, request: Request, pk: int) -> Response:
        """Link a vendor record to this device by hand; later polls and ``rematch`` keep it."""
        device = get_object_or_404(Device, pk=pk)
        link = services.link(self.record(request), device, request.user)
        return Response(LinkSerializer(link).data)


class DeviceUnlinkView(_LinkAction):
    @extend_schema(request=LinkRequestSerializer, responses=LinkSerializer)
    def post(self, request: Request, pk: int) -> Response:
        """Take a vendor record off this device by hand: it becomes a device of its own and
        the rules no longer move it (nor use its keys)."""
        device = get_object_or_404(Device, pk=pk)
        record = self.record(request)
        if not DeviceLink.objects.filter(pk=record.pk, device=device).exists():
            raise ValidationError({"record": ["This record is not linked to this device."]})
        link = services.unlink(record, request.user)
        return Response(LinkSerializer(link).data)
