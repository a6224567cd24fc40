"""Each device's open-incident counters, kept up to date, and the exact filters built on them.

The devices list filters "has open incidents" and "N or more vendors with open incidents" on
100,000 devices: counting each device's open incidents per page was 0.1–0.6 s. So ``Device``
keeps ``open_incident_count`` and ``trouble_vendor_count`` (distinct sources with an open
incident), refreshed by ``refresh`` — one UPDATE for any number of devices — from every path
that changes them: an incident linked to a device or moved to another, an incident that ends,
is closed, restarts or reopens (``events_recorded``), an incident deleted
(``incidents_deleting``). Partial indexes over the devices in trouble make their pages read
only them.

An incident is open while its ``end_time`` is in the future. One whose end time was *set* in
the future stops being open without any event; ``open_ends_at`` (the earliest finite end time
among the counted incidents) tells the filters when a device's counters may be stale, and past
it they check that device's incidents themselves — so the filters are exact at any moment.
"""

from collections.abc import Iterable

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Now
from django.db.models.lookups import GreaterThanOrEqual

from fleetwatch.incidents.models import INFINITY
from fleetwatch.inventory.models import Device, IncidentDevice

#: Devices per UPDATE.
CHUNK = 1000


def _open_links() -> QuerySet[IncidentDevice]:
    """The open incidents of the outer device (``OuterRef("pk")``)."""
    return IncidentDevice.objects.filter(
        device=OuterRef("pk"), incident__end_time__gt=Now()
    ).order_by()


def _count(links: QuerySet[IncidentDevice], what: Count) -> Coalesce:
    per_device = links.values("device").annotate(n=what).values("n")[:1]
    return Coalesce(Subquery(per_device, output_field=IntegerField()), Value(0))


def open_count() -> Coalesce:
    """The outer device's open incidents, counted now."""
    return _count(_open_links(), Count("pk"))


def vendor_count() -> Coalesce:
    """The distinct sources with an open incident on the outer device, counted now."""
    return _count(_open_links(), Count("incident__source", distinct=True))


def refresh(device_ids: Iterable[int]) -> None:
    """Recount these devices' open incidents (one UPDATE per ``CHUNK`` devices)."""
    ids = sorted(set(device_ids))
    ends = (
        _open_links()
        .filter(incident__end_time__lt=INFINITY)
        .values("device")
        .annotate(t=Min("incident__end_time"))
        .values("t")[:1]
    )
    for start in range(0, len(ids), CHUNK):
        Device.objects.filter(pk__in=ids[start : start + CHUNK]).update(
            open_incident_count=open_count(),
            trouble_vendor_count=vendor_count(),
            open_ends_at=Subquery(ends),
        )


def refresh_for_incidents(incident_ids: Iterable[int]) -> None:
    """Recount the devices these incidents are tied to (two statements)."""
    ids = sorted(set(incident_ids))
    if ids:
        refresh(
            IncidentDevice.objects.filter(incident_id__in=ids).values_list("device_id", flat=True)
        )


def _fresh() -> Q:
    """The device's counters are exact now (no counted incident has reached its end time)."""
    return Q(open_ends_at__isnull=True) | Q(open_ends_at__gt=Now())


def has_open(value: bool) -> Q:
    """Devices with (``value``) or without open incidents, exactly."""
    exact = Exists(_open_links())
    if value:
        return Q(open_incident_count__gt=0) & (_fresh() | Q(exact))
    return Q(open_incident_count=0) | (Q(open_ends_at__lte=Now()) & ~Q(exact))


def at_least_vendors(n: int) -> Q:
    """Devices with open incidents from ``n`` or more sources, exactly (every device for 0)."""
    if n <= 0:
        return Q()
    exact = GreaterThanOrEqual(vendor_count(), n)
    return Q(open_incident_count__gt=0) & Q(trouble_vendor_count__gte=n) & (_fresh() | Q(exact))


def most_troubled(devices: QuerySet[Device], min_vendors: int) -> QuerySet[Device]:
    """Devices with open incidents from ``min_vendors`` or more sources, most troubled first
    (the ``inventory_device_trouble`` index, in order)."""
    return devices.filter(at_least_vendors(max(min_vendors, 1))).order_by(
        F("trouble_vendor_count").desc(), F("open_incident_count").desc(), F("id").desc()
    )
