"""The inventory's one entry point: matching, manual link/unlink, full re-match, and tying
incidents to devices. The API, admin, CLI, connector engine and a future web console all call
these; none of them writes an inventory row itself.

Matching is incremental: ``match_records`` takes the vendor records a poll stored and works in
batches of ``BATCH`` with a constant number of SQL statements per batch (keys replaced,
evidence read, devices and links written, moved incidents re-pointed), so a poll of 10,000
records costs the same per record as one of 100, and never re-matches the world.
"""

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from fleetwatch.connectors.models import VendorDevice
from fleetwatch.incidents.models import Incident
from fleetwatch.inventory import linking, matching, trouble
from fleetwatch.inventory.linking import INCIDENT_KEY_TAGS as INCIDENT_KEY_TAGS
from fleetwatch.inventory.linking import PollDevices as PollDevices
from fleetwatch.inventory.linking import attach_incidents as attach_incidents
from fleetwatch.inventory.linking import link_incidents as link_incidents
from fleetwatch.inventory.linking import tag_drafts as tag_drafts
from fleetwatch.inventory.matching import Decision, Evidence, RecordKeys
from fleetwatch.inventory.models import Device, DeviceLink, IncidentDevice, RecordKey
from fleetwatch.inventory.permissions import may_change_links as may_change_links

BATCH = 1000
Rule = DeviceLink.Rule
MANUAL_RULES = (Rule.MANUAL, Rule.MANUAL_UNLINK)


class InventoryError(ValueError):
    """Bad input to a manual action; ``field`` names what was wrong (API: 400 naming it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _chunks[T](items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def keys_of(record: VendorDevice) -> RecordKeys:
    return matching.record_keys(record.connector.vendor, record.name, record.mac, record.data)


# --- matching ---------------------------------------------------------------------------------


def match_records(vendor_device_ids: Iterable[int]) -> Counter:
    """Match these vendor records (just stored or changed) against the inventory; returns
    counts by rule. Call inside the transaction that stored them."""
    ids = sorted(set(vendor_device_ids))
    stats: Counter = Counter()
    for chunk in _chunks(ids, BATCH):
        with transaction.atomic():
            _match_batch(list(chunk), stats)
    return stats


@dataclass
class _Batch:
    rows: dict[int, VendorDevice]
    keys: dict[int, RecordKeys]
    current: dict[int, int]  # record -> its device now (auto-linked records only)


def _load(ids: list[int]) -> tuple[_Batch, set[int]]:
    rows = {r.pk: r for r in VendorDevice.objects.filter(pk__in=ids).select_related("connector")}
    links = {link.pk: link for link in DeviceLink.objects.filter(pk__in=ids)}
    keys = {pk: keys_of(r) for pk, r in rows.items()}
    RecordKey.objects.filter(vendor_device_id__in=ids).delete()
    RecordKey.objects.bulk_create(
        [
            RecordKey(vendor_device_id=pk, kind=kind, value=value)
            for pk, rk in keys.items()
            for kind, value in rk.items()
        ],
        batch_size=BATCH,
    )
    manual = {pk for pk, link in links.items() if link.rule in MANUAL_RULES}
    current = {pk: link.device_id for pk, link in links.items() if pk not in manual}
    auto = {pk: rk for pk, rk in keys.items() if pk not in manual}
    return _Batch({pk: rows[pk] for pk in auto}, auto, current), manual


def _evidence(batch: _Batch) -> Evidence:
    """Which devices the batch's keys point at, from every other record (manually unlinked
    ones excepted), and the MACs of the devices its hostnames name."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for rk in batch.keys.values():
        for kind, value in rk.items():
            wanted[kind].add(value)
    evidence = Evidence()
    if not wanted:
        return evidence
    q = Q()
    for kind, values in wanted.items():
        q |= Q(kind=kind, value__in=sorted(values))
    rows = (
        RecordKey.objects.filter(q)
        .exclude(vendor_device_id__in=list(batch.keys))
        .filter(vendor_device__link__rule__in=[r for r in Rule.values if r != Rule.MANUAL_UNLINK])
        .values_list("kind", "value", "vendor_device__link__device_id")
    )
    for kind, value, device in rows:
        evidence.by_key.setdefault((kind, value), set()).add(device)
    named = {
        d for (kind, _), ds in evidence.by_key.items() if kind == matching.HOSTNAME for d in ds
    }
    if named:
        for device, mac in RecordKey.objects.filter(
            kind=matching.MAC, vendor_device__link__device_id__in=sorted(named)
        ).values_list("vendor_device__link__device_id", "value"):
            evidence.device_macs.setdefault(device, set()).add(mac)
    return evidence


def _match_batch(
    ids: list[int],
    stats: Counter,
    fallback: dict[int, int] | None = None,
    claimed: set[int] | None = None,
) -> None:
    """``fallback``: the device each record had before a ``rematch`` (kept when the rules
    find no other home, so device ids stay stable); ``claimed``: devices already given to a
    group in this run, which another group without evidence for them may not reuse."""
    rematching = claimed is not None
    claimed = set() if claimed is None else claimed
    batch, manual = _load(ids)
    for pk, device in (fallback or {}).items():
        if pk in batch.keys:
            batch.current.setdefault(pk, device)
    stats["manual"] += len(manual)
    if not batch.keys:
        return
    evidence = _evidence(batch)
    placeholders = itertools.count(-1, -1)
    decided: dict[int, tuple[int, Decision]] = {}
    for group in matching.group_records(batch.keys):
        decision = matching.decide((batch.keys[pk] for pk in group), evidence)
        own = sorted({batch.current[pk] for pk in group if pk in batch.current} - claimed)
        target = decision.device
        if target is None:
            target = own[0] if own else next(placeholders)
        claimed.add(target)
        reasons = matching.within_group([batch.keys[pk] for pk in group], decision)
        for pk, reason in zip(group, reasons, strict=True):
            decided[pk] = (target, reason)
            stats[reason.rule] += 1
            for key in batch.keys[pk].items():
                evidence.by_key.setdefault(key, set()).add(target)
            evidence.device_macs.setdefault(target, set()).update(batch.keys[pk].macs)
    _write(batch, decided, drop_empty=not rematching)
    # Other sources' incidents that named one of these keys before any device had it.
    linking.link_waiting(batch.keys.values())


def _write(batch: _Batch, decided: dict[int, tuple[int, Decision]], drop_empty: bool) -> None:
    fresh: dict[int, Device] = {}
    for pk, (target, _) in decided.items():
        if target < 0 and target not in fresh:
            fresh[target] = Device(name=batch.rows[pk].name, last_seen=batch.rows[pk].last_seen)
    Device.objects.bulk_create(list(fresh.values()), batch_size=BATCH)
    real = {ph: device.pk for ph, device in fresh.items()}
    links, moved, old_devices = [], [], set()
    for pk, (target, decision) in decided.items():
        device_id = real.get(target, target)
        if batch.current.get(pk) not in (None, device_id):
            moved.append(pk)
            old_devices.add(batch.current[pk])
        links.append(
            DeviceLink(
                vendor_device_id=pk,
                device_id=device_id,
                rule=decision.rule,
                key=decision.key,
                value=decision.value[:255],
                conflict=decision.conflict,
            )
        )
    DeviceLink.objects.bulk_create(
        links,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["vendor_device"],
        update_fields=["device", "rule", "key", "value", "conflict", "linked_at"],
    )
    touched = {link.device_id for link in links} | old_devices
    _after_moves(moved, old_devices if drop_empty else set(), touched)


def _after_moves(moved: list[int], old_devices: set[int], touched: set[int]) -> None:
    """Re-point and re-tag the incidents of records that changed device, drop devices left
    with no record, and refresh the touched devices' name, last_seen and counters."""
    if moved:
        retag = list(
            IncidentDevice.objects.filter(vendor_device_id__in=moved).values_list(
                "incident_id", "device_id"
            )
        )
        IncidentDevice.objects.filter(vendor_device_id__in=moved).update(
            device_id=Subquery(
                DeviceLink.objects.filter(vendor_device=OuterRef("vendor_device")).values(
                    "device_id"
                )[:1]
            )
        )
        linking.retag([incident for incident, _ in retag], {old for _, old in retag})
        touched = touched | {old for _, old in retag}
    if old_devices:
        _drop_empty(old_devices)
    _refresh(touched)
    if moved:
        trouble.refresh(touched)


def _drop_empty(device_ids: Iterable[int]) -> None:
    Device.objects.filter(pk__in=sorted(device_ids)).exclude(
        Exists(DeviceLink.objects.filter(device=OuterRef("pk")))
    ).delete()


def _refresh(device_ids: Iterable[int]) -> None:
    """Name (the most recently seen record's) and last_seen of these devices, one statement."""
    ids = sorted(device_ids)
    if not ids:
        return
    records = VendorDevice.objects.filter(link__device=OuterRef("pk")).order_by(
        F("last_seen").desc(nulls_last=True), "pk"
    )
    Device.objects.filter(pk__in=ids).update(
        name=Subquery(records.values("name")[:1]),
        last_seen=Subquery(records.values("last_seen")[:1]),
        updated=timezone.now(),
    )


# --- manual decisions -------------------------------------------------------------------------


@transaction.atomic
def link(record: VendorDevice, device: Device, user=None) -> DeviceLink:
    """A person says this record is this device: it moves there and stays (rule 1)."""
    return _place(record, device, Rule.MANUAL, user)


@transaction.atomic
def unlink(record: VendorDevice, user=None) -> DeviceLink:
    """A person says this record is not the device it is linked to: it becomes a device of its
    own, and no automatic rule moves it back (its keys stop counting as evidence)."""
    device = Device.objects.create(name=record.name, last_seen=record.last_seen)
    return _place(record, device, Rule.MANUAL_UNLINK, user)


@transaction.atomic
def release(record: VendorDevice) -> DeviceLink | None:
    """Drop the manual decision: the automatic rules place the record again."""
    DeviceLink.objects.filter(pk=record.pk, rule__in=MANUAL_RULES).update(rule=Rule.NEW)
    match_records([record.pk])
    return DeviceLink.objects.filter(pk=record.pk).first()


def _place(record: VendorDevice, device: Device, rule: str, user) -> DeviceLink:
    old = DeviceLink.objects.filter(pk=record.pk).values_list("device_id", flat=True).first()
    link_row, _ = DeviceLink.objects.update_or_create(
        vendor_device=record,
        defaults={
            "device": device,
            "rule": rule,
            "key": "",
            "value": "",
            "conflict": [],
            "linked_by": user if getattr(user, "pk", None) else None,
        },
    )
    if not RecordKey.objects.filter(vendor_device=record).exists():
        RecordKey.objects.bulk_create(
            [RecordKey(vendor_device=record, kind=k, value=v) for k, v in keys_of(record).items()]
        )
    moved = [record.pk] if old is not None and old != device.pk else []
    _after_moves(moved, {old} if old is not None and moved else set(), {device.pk})
    return link_row


# --- full re-match ----------------------------------------------------------------------------


def rematch(progress=None) -> Counter:
    """Every automatic link made again from scratch (manual decisions kept), then incidents
    re-pointed and re-tagged, empty devices dropped, and other sources' incidents linked."""
    with transaction.atomic():
        # Each record's device before: its home again when the rules find no other, so device
        # ids (and the incidents' device=<id> tags) stay stable across a rematch.
        before = dict(
            DeviceLink.objects.exclude(rule__in=MANUAL_RULES).values_list("pk", "device_id")
        )
        DeviceLink.objects.exclude(rule__in=MANUAL_RULES).delete()
    ids = list(VendorDevice.objects.order_by("pk").values_list("pk", flat=True))
    stats: Counter = Counter()
    claimed: set[int] = set()
    for chunk in _chunks(ids, BATCH):
        with transaction.atomic():
            fallback = {pk: before[pk] for pk in chunk if pk in before}
            _match_batch(list(chunk), stats, fallback, claimed)
        if progress:
            progress(len(chunk))
    with transaction.atomic():
        stale = list(
            IncidentDevice.objects.filter(vendor_device__isnull=False)
            .exclude(device_id=F("vendor_device__link__device_id"))
            .values_list("incident_id", "device_id")
        )
        IncidentDevice.objects.filter(incident_id__in=[i for i, _ in stale]).update(
            device_id=Subquery(
                DeviceLink.objects.filter(vendor_device=OuterRef("vendor_device")).values(
                    "device_id"
                )[:1]
            )
        )
        for chunk_pairs in _chunks(stale, BATCH):
            linking.retag([i for i, _ in chunk_pairs], {d for _, d in chunk_pairs})
        Device.objects.exclude(Exists(DeviceLink.objects.filter(device=OuterRef("pk")))).delete()
    stats["incidents"] = link_incidents(Incident.objects.filter(device_link__isnull=True))
    recount_all()
    return stats


def recount_all() -> None:
    """Every device's open-incident counters counted again (``rematch``, ``devices recount``):
    the devices with incidents or with counters to clear, one UPDATE per 1,000."""
    with_incidents = IncidentDevice.objects.values_list("device_id", flat=True).distinct()
    counted = Device.objects.filter(open_incident_count__gt=0).values_list("pk", flat=True)
    trouble.refresh({*with_incidents, *counted})


# --- incidents ----------------------------------------------------------------------------------


# --- reads for the API and the console ------------------------------------------------------


def open_incidents() -> QuerySet:
    return Incident.objects.open()


def annotate_trouble(devices: QuerySet) -> QuerySet:
    """``open_incidents`` and ``vendors_in_trouble`` (distinct sources with an open incident
    on the device) on each device, counted now: for a page of devices, not for filtering
    (``trouble.has_open`` and ``trouble.at_least_vendors`` filter on the kept counters)."""
    return devices.annotate(
        open_incidents=trouble.open_count(), vendors_in_trouble=trouble.vendor_count()
    )


def devices_in_trouble(min_vendors: int = 2) -> QuerySet:
    """For the console's devices page: devices with open incidents from ``min_vendors`` (at
    least 1) or more sources, most troubled first (an index range, in order)."""
    return annotate_trouble(trouble.most_troubled(Device.objects.all(), min_vendors))


def with_vendor(devices: QuerySet, vendors: Iterable[str]) -> QuerySet:
    """Devices with a record from one of ``vendors`` (slugs, already checked)."""
    links = DeviceLink.objects.filter(
        device=OuterRef("pk"), vendor_device__connector__vendor__in=sorted(vendors)
    )
    return devices.filter(Exists(links))


def search(devices: QuerySet, text: str) -> QuerySet:
    """Devices whose name contains ``text``, or with a record whose MAC (any notation) or
    hostname (domain suffix ignored) is ``text``. The key match is one index lookup, done
    first; it is not an ``OR EXISTS`` per device, which scanned every device."""
    keys = Q(pk__in=[])
    if mac := matching.normalize_mac(text):
        keys |= Q(kind=matching.MAC, value=mac)
    if host := matching.normalize_hostname(text):
        keys |= Q(kind=matching.HOSTNAME, value=host[:255])
    ids = set(
        RecordKey.objects.filter(keys, vendor_device__link__isnull=False).values_list(
            "vendor_device__link__device_id", flat=True
        )[:10000]
    )
    return devices.filter(Q(name__icontains=text.strip()) | Q(pk__in=sorted(ids)))


def device_timeline(device: Device) -> QuerySet:
    """For the console's device page: every incident tied to the device, all vendors merged,
    newest first."""
    return (
        Incident.objects.filter(device_link__device=device)
        .select_related("source")
        .order_by("-start_time", "-pk")
    )
