"""The device list's filters, shared by the API (``/api/v2/devices/``) and the web console's
devices page: one implementation, in the inventory domain.

Field types are the incident filters' strict ones: a bad value is an error naming the field
(the API answers 400 with it, the console shows it in the filter bar). Errors raised while the
query is built (an unknown vendor) are Django ``ValidationError``s naming the field, which the
API's exception handler turns into the same 400.
"""

import django_filters as filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q

from fleetwatch.connectors.models import Vendor
from fleetwatch.incidents.filtersets import (
    CharInFilter,
    DateTimeFilter,
    IntegerFilter,
    StrictBooleanFilter,
)
from fleetwatch.inventory import matching, services
from fleetwatch.inventory.models import Device, DeviceLink, IncidentDevice, RecordKey


class DeviceFilterSet(filters.FilterSet):
    vendor = CharInFilter(method="filter_vendor")
    has_open_incidents = StrictBooleanFilter(method="filter_open")
    vendors_in_trouble__gte = IntegerFilter(method="filter_trouble", min_value=0, max_value=100)
    conflict = StrictBooleanFilter(method="filter_conflict")
    search = filters.CharFilter(method="filter_search", max_length=255)
    last_seen__gte = DateTimeFilter(field_name="last_seen", lookup_expr="gte")
    last_seen__lte = DateTimeFilter(field_name="last_seen", lookup_expr="lte")

    class Meta:
        model = Device
        fields: list[str] = []

    def filter_vendor(self, queryset, _name, value):
        unknown = sorted(set(value) - set(Vendor.values))
        if unknown:
            raise ValidationError({"vendor": [f"Unknown vendor: {', '.join(unknown)}."]})
        links = DeviceLink.objects.filter(
            device=OuterRef("pk"), vendor_device__connector__vendor__in=value
        )
        return queryset.filter(Exists(links))

    def filter_open(self, queryset, _name, value):
        links = IncidentDevice.objects.filter(
            device=OuterRef("pk"), incident__in=services.open_incidents()
        )
        return queryset.filter(Exists(links) if value else ~Exists(links))

    def filter_trouble(self, queryset, _name, value):
        return services.annotate_trouble(queryset).filter(vendors_in_trouble__gte=value)

    def filter_conflict(self, queryset, _name, value):
        links = DeviceLink.objects.filter(device=OuterRef("pk"), rule=DeviceLink.Rule.CONFLICT)
        return queryset.filter(Exists(links) if value else ~Exists(links))

    def filter_search(self, queryset, _name, value):
        """Name contains ``value``, or a record of the device has it as MAC or hostname."""
        keys = Q(pk__in=[])
        if mac := matching.normalize_mac(value):
            keys |= Q(kind=matching.MAC, value=mac)
        if host := matching.normalize_hostname(value):
            keys |= Q(kind=matching.HOSTNAME, value=host)
        by_key = RecordKey.objects.filter(keys, vendor_device__link__device=OuterRef("pk"))
        return queryset.filter(Q(name__icontains=value.strip()) | Exists(by_key))
