"""The device list's filters, shared by the API (``/api/v2/devices/``) and the web console's
devices page: one implementation, in the inventory domain.

Field types are the incident filters' strict ones: a bad value is an error naming the field
(the API answers 400 with it, the console shows it in the filter bar). Errors raised while the
query is built (an unknown vendor) are Django ``ValidationError``s naming the field, which the
API's exception handler turns into the same 400.
"""

import django_filters as filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef

from fleetwatch.connectors.models import Vendor
from fleetwatch.incidents.filtersets import (
    CharInFilter,
    DateTimeFilter,
    IntegerFilter,
    StrictBooleanFilter,
)
from fleetwatch.inventory import services, trouble
from fleetwatch.inventory.models import Device, DeviceLink


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
        return services.with_vendor(queryset, value)

    def filter_open(self, queryset, _name, value):
        return queryset.filter(trouble.has_open(value))

    def filter_trouble(self, queryset, _name, value):
        return queryset.filter(trouble.at_least_vendors(value))

    def filter_conflict(self, queryset, _name, value):
        links = DeviceLink.objects.filter(device=OuterRef("pk"), rule=DeviceLink.Rule.CONFLICT)
        return queryset.filter(Exists(links) if value else ~Exists(links))

    def filter_search(self, queryset, _name, value):
        """Name contains ``value``, or a record of the device has it as MAC or hostname."""
        return services.search(queryset, value)
