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
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from fleetwatch.connectors.models import VendorDevice
from fleetwatch.incidents.models import Incident, IncidentTagRelation, Tag
from fleetwatch.inventory import matching
from fleetwatch.inventory.matching import Decision, Evidence, RecordKeys
from fleetwatch.inventory.models import DEVICE_TAG, Device, DeviceLink, IncidentDevice, RecordKey

BATCH = 1000
Rule = DeviceLink.Rule
MANUAL_RULES = (Rule.MANUAL, Rule.MANUAL_UNLINK)
#: Tag keys of incidents from other sources that may name a device (value: a MAC or hostname).
INCIDENT_KEY_TAGS = {
    "mac": matching.MAC,
    "mac_address": matching.MAC,
    "macaddress": matching.MAC,
    "hostname": matching.HOSTNAME,
    "host": matching.HOSTNAME,
    "fqdn": matching.HOSTNAME,
}


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
    with no record, and refresh the touched devices' name and last_seen."""
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
        _retag([incident for incident, _ in retag], {old for _, old in retag})
    if old_devices:
        _drop_empty(old_devices)
    _refresh(touched)


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


def _retag(incident_ids: list[int], old_devices: set[int]) -> None:
    """Make the ``device=<id>`` tag of these incidents match their IncidentDevice."""
    if not incident_ids:
        return
    IncidentTagRelation.objects.filter(
        incident_id__in=incident_ids,
        tag__key=DEVICE_TAG,
        tag__value__in=[str(d) for d in sorted(old_devices)],
    ).delete()
    pairs = list(
        IncidentDevice.objects.filter(incident_id__in=incident_ids).values_list(
            "incident_id", "device_id", "incident__source__user_id"
        )
    )
    _add_device_tags(pairs)


def _add_device_tags(pairs: list[tuple[int, int, int]]) -> None:
    """(incident, device, actor) → the incident carries ``device=<device>``."""
    if not pairs:
        return
    values = sorted({str(device) for _, device, _ in pairs})
    Tag.objects.bulk_create(
        [Tag(key=DEVICE_TAG, value=v) for v in values], ignore_conflicts=True, batch_size=BATCH
    )
    tag_ids = dict(Tag.objects.filter(key=DEVICE_TAG, value__in=values).values_list("value", "pk"))
    IncidentTagRelation.objects.bulk_create(
        [
            IncidentTagRelation(
                tag_id=tag_ids[str(device)], incident_id=incident, added_by_id=actor
            )
            for incident, device, actor in pairs
        ],
        ignore_conflicts=True,
        batch_size=BATCH,
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
        # ids (and the incidents' hub_device tags) stay stable across a rematch.
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
            _retag([i for i, _ in chunk_pairs], {d for _, d in chunk_pairs})
        Device.objects.exclude(Exists(DeviceLink.objects.filter(device=OuterRef("pk")))).delete()
    stats["incidents"] = link_incidents(Incident.objects.filter(device_link__isnull=True))
    return stats


# --- incidents ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollDevices:
    """What ``tag_drafts`` decided: source_incident_id → (device, vendor record)."""

    by_sid: dict[str, tuple[int, int]]


def tag_drafts(connector, drafts: list) -> PollDevices:
    """Before a poll's incidents are stored: each draft whose ``device_id`` tag names one of
    this connector's vendor records gets a ``device=<id>`` tag (its records are matched
    already, in the same transaction). One query."""
    wanted = {
        value: draft
        for draft in drafts
        for key, value in draft.tags
        if key == "device_id" and draft.source_incident_id
    }
    if not wanted:
        return PollDevices({})
    found = dict(
        (vid, (device, pk))
        for vid, device, pk in VendorDevice.objects.filter(
            connector=connector, vendor_id__in=list(wanted), link__isnull=False
        ).values_list("vendor_id", "link__device_id", "pk")
    )
    by_sid = {}
    for draft in drafts:
        for key, value in list(draft.tags):
            if key == "device_id" and value in found and draft.source_incident_id:
                draft.tags.append((DEVICE_TAG, str(found[value][0])))
                by_sid[draft.source_incident_id] = found[value]
    return PollDevices(by_sid)


def attach_incidents(results: Iterable, poll: PollDevices) -> int:
    """After a poll's incidents are stored: an IncidentDevice for each one tied to a device."""
    rows = {}
    for result in results:
        sid = result.incident.source_incident_id
        if sid in poll.by_sid:
            device, record = poll.by_sid[sid]
            rows[result.incident.pk] = IncidentDevice(
                incident_id=result.incident.pk,
                device_id=device,
                vendor_device_id=record,
                reason=f"vendor record {record} (device_id tag)",
            )
    IncidentDevice.objects.bulk_create(
        list(rows.values()),
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["incident"],
        update_fields=["device", "vendor_device", "reason"],
    )
    return len(rows)


def link_incidents(incidents: QuerySet) -> int:
    """Tie incidents (from any source) to a device when their tags name a known MAC or
    hostname of exactly one device (``mac=…``, ``hostname=…``, ``host=…``, ``fqdn=…``).
    In batches; returns how many were linked."""
    linked = 0
    ids = list(incidents.filter(device_link__isnull=True).values_list("pk", flat=True))
    for chunk in _chunks(ids, BATCH):
        linked += _link_incident_batch(list(chunk))
    return linked


def _link_incident_batch(ids: list[int]) -> int:
    named: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = IncidentTagRelation.objects.filter(
        incident_id__in=ids, tag__key__in=list(INCIDENT_KEY_TAGS)
    ).values_list("incident_id", "tag__key", "tag__value", "incident__source__user_id")
    actors = {}
    for incident, key, value, actor in rows:
        kind = INCIDENT_KEY_TAGS[key]
        norm = (
            matching.normalize_mac(value)
            if kind == matching.MAC
            else matching.normalize_hostname(value)
        )
        if norm:
            named[incident].append((kind, norm))
            actors[incident] = actor
    if not named:
        return 0
    q = Q()
    for kind, value in {k for keys in named.values() for k in keys}:
        q |= Q(kind=kind, value=value)
    devices: dict[tuple[str, str], set[int]] = defaultdict(set)
    for kind, value, device in RecordKey.objects.filter(
        q, vendor_device__link__isnull=False
    ).values_list("kind", "value", "vendor_device__link__device_id"):
        devices[(kind, value)].add(device)
    made, pairs = [], []
    for incident, keys in named.items():
        for kind, value in sorted(keys, key=lambda k: k[0] != matching.MAC):  # MAC first
            if len(devices.get((kind, value), ())) == 1:
                device = next(iter(devices[(kind, value)]))
                made.append(
                    IncidentDevice(
                        incident_id=incident, device_id=device, reason=f"{kind}={value} tag"
                    )
                )
                pairs.append((incident, device, actors[incident]))
                break
    IncidentDevice.objects.bulk_create(made, ignore_conflicts=True, batch_size=BATCH)
    _add_device_tags(pairs)
    return len(made)


# --- reads for the API and the console ------------------------------------------------------


def open_incidents() -> QuerySet:
    return Incident.objects.open()


def annotate_trouble(devices: QuerySet) -> QuerySet:
    """``open_incidents`` and ``vendors_in_trouble`` (distinct sources with an open incident
    on the device) on each device."""
    open_links = IncidentDevice.objects.filter(device=OuterRef("pk"), incident__in=open_incidents())
    return devices.annotate(
        open_incidents=Subquery(
            open_links.order_by().values("device").annotate(n=Count("pk")).values("n")[:1]
        ),
        vendors_in_trouble=Subquery(
            open_links.order_by()
            .values("device")
            .annotate(n=Count("incident__source", distinct=True))
            .values("n")[:1]
        ),
    )


def devices_in_trouble(min_vendors: int = 2) -> QuerySet:
    """For the console's devices page: devices with open incidents from ``min_vendors`` or more
    sources first, most troubled first."""
    return (
        annotate_trouble(Device.objects.all())
        .filter(vendors_in_trouble__gte=min_vendors)
        .order_by("-vendors_in_trouble", "-open_incidents", "-pk")
    )


def device_timeline(device: Device) -> QuerySet:
    """For the console's device page: every incident tied to the device, all vendors merged,
    newest first."""
    return (
        Incident.objects.filter(device_link__device=device)
        .select_related("source")
        .order_by("-start_time", "-pk")
    )
