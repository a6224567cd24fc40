"""The console's device inventory pages: the devices list (devices in trouble with two or more
vendors first, then every device through the API's own filter set, keyset-paged) and the
device page (its vendor records with their keys and the links' reasons, conflicts, a merged
incident timeline, manual link/unlink).

Views parse, call ``fleetwatch.inventory`` (filter set, services), render. Every page costs a
constant number of queries whatever the number of devices, records or incidents shown.
"""

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from fleetwatch.connectors.models import Vendor, VendorDevice
from fleetwatch.incidents.models import Event, Incident, IncidentQuerySet
from fleetwatch.incidents.validation import MAX_ID
from fleetwatch.inventory import permissions, services
from fleetwatch.inventory.filtersets import DeviceFilterSet
from fleetwatch.inventory.models import Device, DeviceLink, RecordKey
from fleetwatch.web.http import AuthedRequest, field_errors

PAGE_SIZE = 50
#: How many devices the "in trouble with two or more vendors" section shows.
TROUBLE_SIZE = 20
#: How many incidents of a device the merged timeline shows (newest first).
TIMELINE_INCIDENTS = 50
#: How many events of those incidents it shows at most (a flapping incident has many).
TIMELINE_EVENTS = 500
#: The filter bar's fields, passed to DeviceFilterSet under the API's own names.
FILTER_FIELDS = (
    "vendor",
    "has_open_incidents",
    "vendors_in_trouble__gte",
    "conflict",
    "search",
    "last_seen__gte",
    "last_seen__lte",
)


# --- the list ---------------------------------------------------------------------------------


@dataclass
class DeviceListing:
    """One page of devices for a filter bar; ``errors`` names each bad field."""

    rows: list[Device] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    next_cursor: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def query(self, **extra: str) -> str:
        merged = {**self.params, **extra}
        return urlencode({k: v for k, v in merged.items() if v})


def with_links(devices: QuerySet[Device]) -> QuerySet[Device]:
    """Each device's vendor records (and their connectors) in one more query."""
    links = DeviceLink.objects.select_related("vendor_device__connector", "linked_by").order_by(
        "vendor_device__connector__vendor", "vendor_device_id"
    )
    return devices.prefetch_related(Prefetch("links", queryset=links))


def filter_params(data: QueryDict) -> dict[str, str]:
    return {
        name: data.get(name, "").strip() for name in FILTER_FIELDS if data.get(name, "").strip()
    }


def filtered(params: dict[str, str]) -> tuple[QuerySet[Device], dict[str, list[str]]]:
    """The devices the filter bar selects, through the API's DeviceFilterSet."""
    filterset = DeviceFilterSet(QueryDict(urlencode(params)), queryset=Device.objects.all())
    if not filterset.is_valid():
        return Device.objects.none(), {k: list(v) for k, v in filterset.errors.items()}
    try:
        queryset: QuerySet[Device] = filterset.qs
    except ValidationError as exc:  # an unknown vendor
        return Device.objects.none(), field_errors(exc)
    return queryset, {}


def encode_cursor(device: Device) -> str:
    raw = urlencode({"p": device.created.isoformat(), "i": device.pk})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The position a cursor names, or None for a cursor that is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        parsed = QueryDict(raw)
        value = parse_datetime(parsed["p"])
        pk = int(parsed["i"])
    except (ValueError, KeyError, UnicodeDecodeError):
        return None
    if value is None or value.tzinfo is None or not 0 <= pk <= MAX_ID:
        return None
    return value, pk


def device_page(data: QueryDict, size: int | None = None) -> DeviceListing:
    """The page of devices ``data`` asks for, newest first: the filtered keyset page's ids in
    one query, then those devices with their trouble counts and records in two more."""
    size = size or PAGE_SIZE
    listing = DeviceListing(params=filter_params(data))
    queryset, listing.errors = filtered(listing.params)
    if listing.errors:
        return listing
    if cursor := data.get("cursor", ""):
        position = decode_cursor(cursor)
        if position is None:
            listing.errors = {"cursor": ["Invalid cursor."]}
            return listing
        queryset = queryset.filter(TupleLessThan(Tuple(F("created"), F("pk")), position))
    ids = list(queryset.order_by("-created", "-pk").values_list("pk", flat=True)[: size + 1])
    more = len(ids) > size
    listing.rows = list(
        with_links(services.annotate_trouble(Device.objects.filter(pk__in=ids[:size]))).order_by(
            "-created", "-pk"
        )
    )
    if more and listing.rows:
        listing.next_cursor = encode_cursor(listing.rows[-1])
    return listing


def in_trouble() -> list[Device]:
    """The devices with open incidents from two or more sources, most troubled first."""
    return list(with_links(services.devices_in_trouble(2))[:TROUBLE_SIZE])


@login_required
@require_GET
def device_list(request: AuthedRequest) -> HttpResponse:
    """Devices in trouble with two or more vendors first, then the filtered, paged list."""
    listing = device_page(request.GET)
    status = 400 if listing.errors else 200
    context = {
        "listing": listing,
        "trouble": [] if request.GET.get("cursor") else in_trouble(),
        "vendors": Vendor.choices,
    }
    return render(request, "web/devices.html", context, status=status)


# --- one device -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """A vendor record as the device page shows it: the record, its link, its keys."""

    link: DeviceLink
    macs: list[str]
    hostname: str
    serials: list[str]
    details: list[tuple[str, str]]

    @property
    def vendor_device(self) -> VendorDevice:
        return self.link.vendor_device

    @property
    def reason(self) -> str:
        link = self.link
        if link.key:
            return f"{link.get_rule_display()}: {link.key} = {link.value}"
        return str(link.get_rule_display())


def detail_text(value: Any) -> str:
    """A vendor's extra field as one short line (zones by their names)."""
    if isinstance(value, list):
        return ", ".join(detail_text(item) for item in value)
    if isinstance(value, dict):
        if "name" in value:
            number = value.get("zone_id", value.get("id", ""))
            return f"{number} {value['name']}".strip()
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def record_of(link: DeviceLink) -> Record:
    record = link.vendor_device
    keys = services.keys_of(record)
    details = [
        (key, detail_text(value)[:300])
        for key, value in sorted((record.data or {}).items())
        if value not in (None, "", [], {}) and key != "macs"
    ]
    return Record(link, sorted(keys.macs), keys.hostname, sorted(keys.serials), details)


def device_or_404(pk: int) -> Device:
    if not 0 < pk <= MAX_ID:
        raise Http404("No such device.")
    device = with_links(services.annotate_trouble(Device.objects.all())).filter(pk=pk).first()
    if device is None:
        raise Http404("No such device.")
    return device


@dataclass(frozen=True)
class Entry:
    """One line of the merged timeline: an event (or, without events, the start) of an
    incident of the device, from whichever vendor."""

    time: datetime
    incident: Incident
    what: str
    actor: str
    description: str


def timeline(device: Device) -> tuple[list[Entry], int]:
    """Every vendor's incidents of the device and their events merged, newest first; and how
    many incidents the device has in all. Three queries."""
    merged = cast(IncidentQuerySet, services.device_timeline(device))
    incidents = list(merged.with_state().select_related("source__connector")[:TIMELINE_INCIDENTS])
    total = services.device_timeline(device).count()
    by_pk = {incident.pk: incident for incident in incidents}
    entries, seen = [], set()
    events = Event.objects.filter(incident_id__in=list(by_pk)).select_related("actor")
    for event in events.order_by("-timestamp", "-id")[:TIMELINE_EVENTS]:
        seen.add(event.incident_id)
        entries.append(
            Entry(
                event.timestamp,
                by_pk[event.incident_id],
                event.get_type_display(),
                event.actor.get_username(),
                event.description,
            )
        )
    for incident in incidents:
        if incident.pk not in seen:
            entries.append(Entry(incident.start_time, incident, "Incident start", "", ""))
    entries.sort(key=lambda e: (e.time, e.incident.pk), reverse=True)
    return entries, total


def candidates(device: Device) -> list[VendorDevice]:
    """Records on other devices that share a key (MAC, serial, hostname) with this device's
    records: the likely ones to link here by hand. Two queries."""
    keys = RecordKey.objects.filter(vendor_device__link__device=device)
    wanted = set(keys.values_list("kind", "value"))
    if not wanted:
        return []
    same = Q()
    for kind, value in sorted(wanted):
        same |= Q(kind=kind, value=value)
    ids = RecordKey.objects.filter(same).values("vendor_device_id")
    return list(
        VendorDevice.objects.filter(pk__in=ids)
        .exclude(link__device=device)
        .select_related("connector", "link")
        .order_by("connector__vendor", "pk")[:20]
    )


def _page(
    request: AuthedRequest,
    device: Device,
    errors: dict[str, str] | None = None,
    status: int = 400,
) -> HttpResponse:
    links = list(device.links.all())
    entries, total = timeline(device)
    context = {
        "device": device,
        "records": [record_of(link) for link in links],
        "conflicts": [link for link in links if link.conflict],
        "entries": entries,
        "incident_count": total,
        "entries_limit": TIMELINE_INCIDENTS,
        "candidates": candidates(device),
        "may_change": permissions.may_change_links(request.user),
        "errors": errors or {},
    }
    return render(request, "web/device.html", context, status=status if errors else 200)


@login_required
@require_GET
def device_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """The device: its vendor records, keys and reasons, conflicts, timeline, actions."""
    return _page(request, device_or_404(pk))


# --- manual link / unlink -----------------------------------------------------------------------


def _record(raw: str) -> VendorDevice:
    """The vendor record a form names by its number; ValidationError naming ``record``."""
    text = raw.strip().lstrip("#")
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise ValidationError({"record": ["Enter a vendor record number."]})
    record = VendorDevice.objects.select_related("connector").filter(pk=int(text)).first()
    if record is None:
        raise ValidationError({"record": [f"No vendor record {text}."]})
    return record


def _after(device: Device, moved_to: int) -> HttpResponse:
    """Back to the device, or, when the change left it with no record (so it is gone), to
    where the record went."""
    if Device.objects.filter(pk=device.pk).exists():
        return redirect("web:device", pk=device.pk)
    return redirect("web:device", pk=moved_to)


@login_required
@require_POST
def device_link(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    """Link a vendor record here by hand, or unlink one of this device's records: through
    ``inventory.services``, so the decision wins over the rules and survives later polls."""
    device = device_or_404(pk)
    if action not in ("link", "unlink"):
        raise Http404("No such action.")
    if (refusal := permissions.link_refusal(request.user)) is not None:
        return _page(request, device, {action: refusal}, status=403)
    try:
        record = _record(request.POST.get("record", ""))
        if action == "unlink":
            if not DeviceLink.objects.filter(pk=record.pk, device=device).exists():
                raise ValidationError({"record": ["This record is not linked to this device."]})
            made = services.unlink(record, request.user)
            messages.success(request, f"Unlinked record {record.pk}: it is a device of its own.")
        else:
            made = services.link(record, device, request.user)
            messages.success(request, f"Linked record {record.pk} here by hand.")
    except ValidationError as exc:
        errors = {f: "; ".join(m) for f, m in field_errors(exc).items()}
        return _page(request, device, {f"{action}_{f}": m for f, m in errors.items()})
    return _after(device, made.device_id)
