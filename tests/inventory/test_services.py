"""Matching through the services, as a poll stores records: links, reasons, manual decisions
that survive re-polls, conflicts shown and not merged, constant queries per batch."""

from datetime import UTC, datetime

from fleetwatch.connectors.base import DeviceRecord
from fleetwatch.connectors.models import VendorDevice
from fleetwatch.inventory import services
from fleetwatch.inventory.models import Device, DeviceLink

NOW = datetime(2026, 8, 17, 9, tzinfo=UTC)
WIFI, WIRED = "AA:BB:CC:00:00:01", "3C:52:82:00:00:01"


def agent(vid, name, mac, **kw):
    return DeviceRecord(vendor_id=vid, name=name, mac=mac, last_seen=NOW, **kw)


def ma(vid, name, *macs, **kw):
    return DeviceRecord(
        vendor_id=vid,
        name=name,
        mac=macs[0] if macs else "",
        last_seen=NOW,
        data={"macs": list(macs)},
        **kw,
    )


def device_of(vendor, vid):
    return DeviceLink.objects.get(
        vendor_device__connector__vendor=vendor, vendor_device__vendor_id=vid
    )


def test_one_device_across_vendors_by_mac_with_its_reason(store):
    store("7signal", agent("a1", "DESKTOP-OLDNAME", WIFI.lower()))
    store("metaaccess", ma("m1", "WIN-ALICE-1", WIRED, WIFI.replace(":", "-")))
    store("sensaphone", DeviceRecord(vendor_id="1", name="Cold room", data={"serial": "SP1"}))
    a, m, s = (
        device_of("7signal", "a1"),
        device_of("metaaccess", "m1"),
        device_of("sensaphone", "1"),
    )
    assert a.device_id == m.device_id != s.device_id
    assert (m.rule, m.key, m.value) == ("mac", "mac", WIFI.lower())
    assert a.rule == "new" and s.rule == "new"
    assert Device.objects.count() == 2


def test_hostname_links_a_record_without_mac(store):
    store("metaaccess", ma("m1", "WIN-BOB-2.corp.example", WIFI))
    store("7signal", agent("a1", "win-bob-2", ""))
    link = device_of("7signal", "a1")
    assert (link.rule, link.value) == ("hostname", "win-bob-2")
    assert link.device_id == device_of("metaaccess", "m1").device_id


def test_records_of_one_batch_link_to_each_other(store):
    store("metaaccess", ma("old", "WIN-C", WIFI), ma("new", "WIN-C", WIFI))
    assert device_of("metaaccess", "old").device_id == device_of("metaaccess", "new").device_id


def test_conflict_is_shown_not_merged(store):
    store("7signal", agent("a1", "host-one", WIFI), agent("a2", "host-two", WIRED))
    one, two = device_of("7signal", "a1").device_id, device_of("7signal", "a2").device_id
    assert one != two
    store("metaaccess", ma("m1", "host-three", WIFI, WIRED))
    link = device_of("metaaccess", "m1")
    assert link.rule == "conflict"
    assert {(c["value"], tuple(c["devices"])) for c in link.conflict} == {
        (WIFI.lower(), (one,)),
        (WIRED.lower(), (two,)),
    }
    assert link.device_id not in (one, two)
    assert (
        device_of("7signal", "a1").device_id == one and device_of("7signal", "a2").device_id == two
    )


def test_manual_unlink_and_link_survive_later_polls(store, admin_user):
    store("7signal", agent("a1", "WIN-D", WIFI))
    store("metaaccess", ma("m1", "WIN-D", WIFI))
    store("sensaphone", DeviceRecord(vendor_id="9", name="Lab sensor", data={"serial": "SP9"}))
    laptop = device_of("7signal", "a1").device
    services.unlink(VendorDevice.objects.get(vendor_id="m1"), admin_user)
    services.link(VendorDevice.objects.get(vendor_id="9"), laptop, admin_user)
    for _ in range(2):  # re-polls with changed records
        store("metaaccess", ma("m1", "WIN-D", WIFI, os="Windows 11"))
        store(
            "sensaphone", DeviceRecord(vendor_id="9", name="Lab sensor 2", data={"serial": "SP9"})
        )
        store("7signal", agent("a1", "WIN-D", WIFI, ip="10.0.0.9"))
    m, s = device_of("metaaccess", "m1"), device_of("sensaphone", "9")
    assert m.rule == "manual-unlink" and m.device_id != laptop.pk
    assert s.rule == "manual" and s.device_id == laptop.pk and s.linked_by == admin_user
    assert device_of("7signal", "a1").device_id == laptop.pk
    services.rematch()
    assert device_of("metaaccess", "m1").device_id != device_of("7signal", "a1").device_id
    assert device_of("sensaphone", "9").device_id == device_of("7signal", "a1").device_id


def test_release_gives_the_record_back_to_the_rules(store, admin_user):
    store("7signal", agent("a1", "WIN-E", WIFI))
    store("metaaccess", ma("m1", "WIN-E", WIFI))
    record = VendorDevice.objects.get(vendor_id="m1")
    services.unlink(record, admin_user)
    services.release(record)
    assert device_of("metaaccess", "m1").device_id == device_of("7signal", "a1").device_id
    assert Device.objects.count() == 1  # the unlinked record's device is gone again


def test_rematch_from_scratch_gives_the_same_groups(store):
    store("7signal", *[agent(f"a{i}", f"WIN-{i}", f"AA:00:00:00:00:{i:02X}") for i in range(20)])
    store("metaaccess", *[ma(f"m{i}", f"win-{i}", f"aa0000000{i:03x}") for i in range(20)])
    before = {
        (d.pk, frozenset(DeviceLink.objects.filter(device=d).values_list("pk", flat=True)))
        for d in Device.objects.all()
    }
    stats = services.rematch()
    after = {
        (d.pk, frozenset(DeviceLink.objects.filter(device=d).values_list("pk", flat=True)))
        for d in Device.objects.all()
    }  # the same groups under the same device ids
    assert before == after and len(after) == 20
    assert stats["new"] == 20 and stats["mac"] == 20


def _records(n, offset=0):
    return [
        agent(f"a{i}", f"H-{i}", f"AA:00:00:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}")
        for i in range(offset, offset + n)
    ]


def test_queries_per_batch_are_constant(store, django_assert_max_num_queries):
    store("7signal", *_records(10))
    with django_assert_max_num_queries(25):
        store("metaaccess", *[ma(f"m{i}", f"h-{i}", r.mac) for i, r in enumerate(_records(50))])
    with django_assert_max_num_queries(25):
        store(
            "metaaccess", *[ma(f"n{i}", f"h-{i}", r.mac) for i, r in enumerate(_records(900, 100))]
        )
    assert Device.objects.count() == 10 + 40 + 900


def test_rematch_splits_what_no_longer_belongs_together(store):
    store("metaaccess", ma("m1", "WIN-H", WIFI))
    store("7signal", agent("a1", "win-h", ""))  # no MAC: joins by hostname
    assert device_of("7signal", "a1").device_id == device_of("metaaccess", "m1").device_id
    store("7signal", agent("a1", "WIN-OTHER", ""))  # renamed: the incremental match keeps it
    services.rematch()
    assert device_of("7signal", "a1").device_id != device_of("metaaccess", "m1").device_id
    assert device_of("7signal", "a1").rule == "new"
