"""Filters of the device list (the strict field types of the incident filters: bad values
are a 400 naming the parameter)."""

from django.db.models import Exists, OuterRef
from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError

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
