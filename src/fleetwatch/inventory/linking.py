"""Tying incidents to devices: a connector's incidents by the vendor record they are about,
other sources' incidents by the MAC or hostname their tags name.

Tag keys that name a device, for incidents posted by sources that are not connectors (README,
"Device inventory"): ``mac``, ``mac_address``, ``macaddress`` (a MAC in any notation) and
``hostname``, ``host``, ``fqdn``, ``device`` (a host name; case and domain suffix ignored; a
bare number or an IP address names nothing, so the hub's own ``device=<id>`` never counts).
A MAC is tried before a host name; the first key that names exactly one device links the
incident. An incident whose keys name no device (or several) waits in
``PendingIncidentKey`` and is linked when a device with that key becomes known.

Every function works on a batch in a constant number of statements, whatever its size.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from fleetwatch.connectors.models import Connector, VendorDevice
from fleetwatch.incidents.ingest.drafts import IncidentDraft
from fleetwatch.incidents.ingest.rules import UpsertResult
from fleetwatch.incidents.models import Incident, IncidentTagRelation, Tag
from fleetwatch.inventory import matching, trouble
from fleetwatch.inventory.matching import RecordKeys
from fleetwatch.inventory.models import (
    DEVICE_TAG,
    IncidentDevice,
    PendingIncidentKey,
    RecordKey,
)

BATCH = 1000
#: Tag keys of other sources' incidents that name a device → the kind of key they hold.
INCIDENT_KEY_TAGS = {
    "mac": matching.MAC,
    "mac_address": matching.MAC,
    "macaddress": matching.MAC,
    "hostname": matching.HOSTNAME,
    "host": matching.HOSTNAME,
    "fqdn": matching.HOSTNAME,
    "device": matching.HOSTNAME,
}
_NORMALIZE = {matching.MAC: matching.normalize_mac, matching.HOSTNAME: matching.normalize_hostname}

Key = tuple[str, str]


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


# --- device tags --------------------------------------------------------------------------------


def add_device_tags(pairs: list[tuple[int, int, int, datetime]]) -> None:
    """(incident, device, actor, the incident's start_time) → the incident carries
    ``device=<device>`` (the relation holds its incident's start_time: the tag's page order)."""
    if not pairs:
        return
    values = sorted({str(device) for _, device, _, _ in pairs})
    Tag.objects.bulk_create(
        [Tag(key=DEVICE_TAG, value=v) for v in values], ignore_conflicts=True, batch_size=BATCH
    )
    tag_ids = dict(Tag.objects.filter(key=DEVICE_TAG, value__in=values).values_list("value", "pk"))
    IncidentTagRelation.objects.bulk_create(
        [
            IncidentTagRelation(
                tag_id=tag_ids[str(device)],
                incident_id=incident,
                added_by_id=actor,
                start_time=start_time,
            )
            for incident, device, actor, start_time in pairs
        ],
        ignore_conflicts=True,
        batch_size=BATCH,
    )


def retag(incident_ids: list[int], old_devices: set[int]) -> None:
    """Make the ``device=<id>`` tag of these incidents match their IncidentDevice (after a
    move: the old device's tag goes, the new one's comes)."""
    if not incident_ids:
        return
    IncidentTagRelation.objects.filter(
        incident_id__in=incident_ids,
        tag__key=DEVICE_TAG,
        tag__value__in=[str(d) for d in sorted(old_devices)],
    ).delete()
    pairs = list(
        IncidentDevice.objects.filter(incident_id__in=incident_ids).values_list(
            "incident_id", "device_id", "incident__source__user_id", "incident__start_time"
        )
    )
    add_device_tags(pairs)


# --- a connector's incidents --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollDevices:
    """What ``tag_drafts`` decided: source_incident_id → (device, vendor record)."""

    by_sid: dict[str, tuple[int, int]]


def tag_drafts(connector: Connector, drafts: list[IncidentDraft]) -> PollDevices:
    """Before a poll's incidents are stored: each draft whose ``device_id`` tag names one of
    this connector's vendor records gets a ``device=<id>`` tag (its records are matched
    already, in the same transaction). One query."""
    wanted = {value for draft in drafts for key, value in draft.tags if key == "device_id"}
    if not wanted:
        return PollDevices({})
    found = {
        vid: (device, pk)
        for vid, device, pk in VendorDevice.objects.filter(
            connector=connector, vendor_id__in=sorted(wanted), link__isnull=False
        ).values_list("vendor_id", "link__device_id", "pk")
    }
    by_sid = {}
    for draft in drafts:
        for key, value in list(draft.tags):
            if key == "device_id" and value in found and draft.source_incident_id:
                draft.tags.append((DEVICE_TAG, str(found[value][0])))
                by_sid[draft.source_incident_id] = found[value]
    return PollDevices(by_sid)


def attach_incidents(results: Iterable[UpsertResult], poll: PollDevices) -> int:
    """After a poll's incidents are stored: an IncidentDevice for each one tied to a device,
    and the devices' counters recounted."""
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
    if not rows:
        return 0
    before = set(
        IncidentDevice.objects.filter(incident_id__in=sorted(rows)).values_list(
            "device_id", flat=True
        )
    )
    IncidentDevice.objects.bulk_create(
        list(rows.values()),
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["incident"],
        update_fields=["device", "vendor_device", "reason"],
    )
    trouble.refresh(before | {row.device_id for row in rows.values()})
    return len(rows)


# --- other sources' incidents -------------------------------------------------------------------


def link_incidents(incidents: QuerySet[Incident]) -> int:
    """Tie these incidents (any source; the backfill) to a device when their tags name a
    known MAC or hostname of exactly one device. In batches; returns how many were linked."""
    ids = list(
        incidents.filter(device_link__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    return sum(link_tagged(chunk, connectors_too=True) for chunk in _chunks(ids))


def on_incidents_tagged(incident_ids: list[int]) -> int:
    """At ingest (``incidents_tagged``): link the incidents of sources that are not connectors
    (a connector's incidents are tied by their vendor record, ``attach_incidents``)."""
    return sum(link_tagged(chunk, connectors_too=False) for chunk in _chunks(sorted(incident_ids)))


def on_incidents_untagged(incident_ids: list[int]) -> int:
    """Tags were removed (``incidents_untagged``): an incident that a removed MAC or hostname
    tag had tied to a device is unlinked (its ``device=<id>`` tag goes, the device is
    recounted), then linked again if its remaining tags name a device. Links made by a vendor
    record are not the tags' to undo. Returns how many links were dropped."""
    tag_links = IncidentDevice.objects.filter(
        incident_id__in=incident_ids, vendor_device__isnull=True, reason__endswith=TAG_REASON
    )
    links = list(tag_links.values_list("incident_id", "device_id", "reason"))
    if not links:
        return 0
    named, _ = _named_keys([incident for incident, _, _ in links], True, linked_too=True)
    stale = {
        incident: device
        for incident, device, reason in links
        if _reason_key(reason) not in named.get(incident, [])
    }
    if not stale:
        return 0
    IncidentDevice.objects.filter(incident_id__in=list(stale)).delete()
    retag(list(stale), set(stale.values()))
    trouble.refresh(set(stale.values()))
    link_tagged(sorted(stale), connectors_too=True)
    return len(stale)


#: How a link made from a tag ends its reason: ``"<kind>=<normalised value> tag"``.
TAG_REASON = " tag"


def _reason_key(reason: str) -> Key:
    kind, _, value = reason.removesuffix(TAG_REASON).partition("=")
    return kind, value


def _named_keys(
    ids: list[int], connectors_too: bool, *, linked_too: bool = False
) -> tuple[dict[int, list[Key]], dict[int, tuple[int, datetime]]]:
    """Each unlinked (or, ``linked_too``, any) incident's normalised keys from its tags, and
    its source's user and its start_time (which a device tag's relation carries; the
    relations read here hold it)."""
    rows = IncidentTagRelation.objects.filter(
        incident_id__in=ids, tag__key__in=list(INCIDENT_KEY_TAGS)
    )
    if not linked_too:
        rows = rows.filter(incident__device_link__isnull=True)
    if not connectors_too:
        rows = rows.filter(incident__source__connector__isnull=True)
    named: dict[int, list[Key]] = defaultdict(list)
    actors: dict[int, tuple[int, datetime]] = {}
    for incident, key, value, actor, start_time in rows.values_list(
        "incident_id", "tag__key", "tag__value", "incident__source__user_id", "start_time"
    ):
        kind = INCIDENT_KEY_TAGS[key]
        if norm := _NORMALIZE[kind](value)[:255]:
            named[incident].append((kind, norm))
            actors[incident] = (actor, start_time)
    return named, actors


def _devices_of(keys: set[Key]) -> dict[Key, set[int]]:
    q = Q(pk__in=[])
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in keys:
        by_kind[kind].add(value)
    for kind, values in by_kind.items():
        q |= Q(kind=kind, value__in=sorted(values))
    devices: dict[Key, set[int]] = defaultdict(set)
    rows = RecordKey.objects.filter(q, vendor_device__link__isnull=False).values_list(
        "kind", "value", "vendor_device__link__device_id"
    )
    for kind, value, device in rows:
        devices[(kind, value)].add(device)
    return devices


def _choose(keys: list[Key], devices: dict[Key, set[int]]) -> tuple[int, Key] | None:
    for key in sorted(set(keys), key=lambda k: (k[0] != matching.MAC, k)):  # MACs first
        if len(devices.get(key, ())) == 1:
            return next(iter(devices[key])), key
    return None


def link_tagged(ids: list[int], *, connectors_too: bool) -> int:
    """Link the unlinked incidents among ``ids`` whose tags name one device's key; the others
    with keys wait for a device (``PendingIncidentKey``). Constant statements per call."""
    named, actors = _named_keys(ids, connectors_too)
    if not named:
        return 0
    devices = _devices_of({key for keys in named.values() for key in keys})
    made, waiting = [], []
    for incident, keys in named.items():
        chosen = _choose(keys, devices)
        if chosen is None:
            waiting += [PendingIncidentKey(incident_id=incident, kind=k, value=v) for k, v in keys]
            continue
        device, (kind, value) = chosen
        made.append(
            IncidentDevice(
                incident_id=incident, device_id=device, reason=f"{kind}={value}{TAG_REASON}"
            )
        )
    IncidentDevice.objects.bulk_create(made, ignore_conflicts=True, batch_size=BATCH)
    linked = [row.incident_id for row in made]
    if linked:
        PendingIncidentKey.objects.filter(incident_id__in=linked).delete()
    PendingIncidentKey.objects.bulk_create(waiting, ignore_conflicts=True, batch_size=BATCH)
    add_device_tags([(row.incident_id, row.device_id, *actors[row.incident_id]) for row in made])
    trouble.refresh(row.device_id for row in made)
    return len(made)


def link_waiting(keys: Iterable[RecordKeys]) -> int:
    """Incidents waiting for one of these keys (records just matched): linked now if the keys
    name one device. One query when none wait."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for rk in keys:
        for kind, value in rk.items():
            if kind in _NORMALIZE:
                wanted[kind].add(value)
    q = Q(pk__in=[])
    for kind, values in wanted.items():
        q |= Q(kind=kind, value__in=sorted(values))
    waiting = sorted(
        set(PendingIncidentKey.objects.filter(q).values_list("incident_id", flat=True))
    )
    return sum(link_tagged(chunk, connectors_too=True) for chunk in _chunks(waiting))
