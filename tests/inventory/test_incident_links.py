"""Other sources' incidents tied to devices as they are posted (single, bulk, upsert, a tag
added later, a device known only later), the devices' open-incident counters kept by every
state change, ``?device=`` by the link, and the devices API under hostile input and the
source/person lanes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fleetwatch.connectors.models import VendorDevice
from fleetwatch.incidents.models import Incident, IncidentTagRelation
from fleetwatch.incidents.services import delete_incident
from fleetwatch.inventory import services
from fleetwatch.inventory.models import Device, DeviceLink, IncidentDevice, PendingIncidentKey

from .test_services import WIFI, WIRED, agent, ma

URL = "/api/v2/devices/"
NOW = "2026-08-17T10:00:00Z"


@pytest.fixture
def fleet(store):
    store("7signal", agent("a1", "DESKTOP-OLD", WIFI), agent("a2", "WIN-TWO", "AA:BB:CC:00:00:02"))
    store("metaaccess", ma("m1", "WIN-ONE.corp", WIRED, WIFI))
    laptop = DeviceLink.objects.get(vendor_device__vendor_id="m1").device
    other = DeviceLink.objects.get(vendor_device__vendor_id="a2").device
    return laptop, other


def body(sid: str = "", end: str = "infinity", **tags) -> dict:
    made = {
        "start_time": "2026-08-17T09:00:00Z",
        "end_time": end,
        "description": "switch port down",
        "tags": [{"tag": f"{k}={v}"} for k, v in tags.items()],
    }
    return {**made, "source_incident_id": sid} if sid else made


def post(source_api, **tags) -> int:
    response = source_api.post("/api/v2/incidents/", body(**tags), format="json")
    assert response.status_code == 201, response.content
    return response.json()["pk"]


def device_of(incident: int) -> int | None:
    return (
        IncidentDevice.objects.filter(incident_id=incident)
        .values_list("device_id", flat=True)
        .first()
    )


def device_tags(incident: int) -> set[str]:
    return set(
        IncidentTagRelation.objects.filter(incident_id=incident, tag__key="device").values_list(
            "tag__value", flat=True
        )
    )


def counters(device: Device) -> tuple[int, int]:
    device.refresh_from_db()
    return device.open_incident_count, device.trouble_vendor_count


def test_a_single_post_is_linked_as_it_is_stored(source_api, fleet):
    laptop, other = fleet
    by_mac = post(source_api, mac=WIRED.replace(":", "").lower())
    by_host = post(source_api, host="win-two.corp.example")
    by_device = post(source_api, device="WIN-ONE")
    unknown = post(source_api, hostname="nowhere-7")
    assert [device_of(i) for i in (by_mac, by_host, by_device, unknown)] == [
        laptop.pk,
        other.pk,
        laptop.pk,
        None,
    ]
    assert device_tags(by_mac) == {str(laptop.pk)}
    # The source's own ``device=WIN-ONE`` stays beside the hub's ``device=<id>``.
    assert device_tags(by_device) == {"WIN-ONE", str(laptop.pk)}
    assert counters(laptop) == (2, 1) and counters(other) == (1, 1)
    assert PendingIncidentKey.objects.filter(incident_id=unknown).exists()


def test_a_number_or_the_hubs_own_tag_names_no_device(source_api, fleet):
    laptop, _ = fleet
    # ``device=<a device id>`` from a source is not a host name, and ``?device=`` is the link.
    posted = post(source_api, device=str(laptop.pk))
    assert device_of(posted) is None
    assert not PendingIncidentKey.objects.filter(incident_id=posted).exists()


def test_bulk_and_upsert_link_in_constant_queries(source_api, fleet):
    laptop, other = fleet

    def bulk(n: int, start: int) -> list[int]:
        items = [
            body(f"b{start + i}", mac=WIFI if i % 2 else "aa-bb-cc-00-00-02") for i in range(n)
        ]
        with CaptureQueriesContext(connection) as queries:
            response = source_api.post(
                "/api/v2/incidents/bulk/", {"incidents": items}, format="json"
            )
        assert response.status_code in (200, 201, 207), response.content
        return [len(queries), *[r["pk"] for r in response.json()["results"]]]

    bulk(2, 200)  # the mac tags exist from here on (creating tags costs two more queries)
    # Both sizes past fastsql.pg_copy.COPY_MIN_ROWS: on PostgreSQL a batch of 8 rows or fewer
    # is one INSERT per table, a larger one a COPY (more statements, as many for any size).
    small, *first = bulk(12, 0)
    large, *second = bulk(36, 100)
    assert small == large
    assert {device_of(i) for i in first + second} == {laptop.pk, other.pk}
    assert counters(laptop) == (25, 1)
    # Upsert: an incident posted with no key gains one when re-sent: linked then.
    response = source_api.post("/api/v2/incidents/upsert/", body("u1"), format="json")
    pk = response.json()["pk"]
    assert device_of(pk) is None
    response = source_api.post(
        "/api/v2/incidents/upsert/", body("u1", hostname="WIN-TWO"), format="json"
    )
    assert response.status_code == 200, response.content
    assert device_of(pk) == other.pk


def test_device_tags_hold_their_incidents_start_time(source_api, store, fleet):
    """The hub's ``device=<id>`` relations, linked at ingest or when the device becomes known,
    carry their incident's start_time, as every relation (the tag's page order)."""
    _, other = fleet
    linked = post(source_api, hostname="WIN-TWO")
    waiting = post(source_api, hostname="LAB-PC-9.corp")
    store("metaaccess", ma("m9", "lab-pc-9", "11-22-33-44-55-66"))
    assert device_tags(linked) == {str(other.pk)} and len(device_tags(waiting)) == 1
    rows = IncidentTagRelation.objects.filter(tag__key="device").values_list(
        "start_time", "incident__start_time"
    )
    assert len(rows) == 2 and all(mine == incidents for mine, incidents in rows)


def test_a_tag_added_later_links(source_api, fleet):
    laptop, _ = fleet
    pk = post(source_api, site="oslo")
    response = source_api.post(
        f"/api/v2/incidents/{pk}/tags/", {"tag": f"mac={WIRED}"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert device_of(pk) == laptop.pk


def test_removing_the_naming_tag_unlinks_and_another_tag_relinks(source_api, fleet):
    laptop, other = fleet
    # Through the tag DELETE endpoint: the link, the hub's device tag and the count go.
    pk = post(source_api, mac=WIRED, site="oslo")
    assert device_of(pk) == laptop.pk and counters(laptop) == (1, 1)
    response = source_api.delete(f"/api/v2/incidents/{pk}/tags/mac={WIRED}/")
    assert response.status_code in (200, 204), response.content
    assert device_of(pk) is None and device_tags(pk) == set()
    assert counters(laptop) == (0, 0)
    # Through a PATCH of the whole tag set: the MAC tag goes, the host name names another.
    pk = post(source_api, mac=WIRED)
    tags = [{"tag": "hostname=WIN-TWO"}, {"tag": f"device={laptop.pk}"}]
    response = source_api.patch(f"/api/v2/incidents/{pk}/", {"tags": tags}, format="json")
    assert response.status_code == 200, response.content
    assert device_of(pk) == other.pk
    assert device_tags(pk) == {str(other.pk)}
    assert counters(laptop) == (0, 0) and counters(other) == (1, 1)
    # Removing a tag that named nothing keeps the link.
    pk2 = post(source_api, mac=WIFI, site="bergen")
    source_api.delete(f"/api/v2/incidents/{pk2}/tags/site=bergen/")
    assert device_of(pk2) == laptop.pk


def test_a_device_known_later_takes_the_incidents_waiting_for_it(source_api, store, fleet):
    waiting = post(source_api, hostname="LAB-PC-9.corp")
    by_mac = post(source_api, mac="11:22:33:44:55:66")
    assert device_of(waiting) is None and device_of(by_mac) is None
    store("metaaccess", ma("m9", "lab-pc-9", "11-22-33-44-55-66"))
    device = DeviceLink.objects.get(vendor_device__vendor_id="m9").device_id
    assert device_of(waiting) == device_of(by_mac) == device
    assert device_tags(waiting) == {str(device)}
    assert not PendingIncidentKey.objects.exists()
    assert counters(Device.objects.get(pk=device)) == (2, 1)


def test_counters_follow_end_close_reopen_and_delete(source_api, api, fleet):
    laptop, _ = fleet
    pk = post(source_api, mac=WIFI)
    other = post(source_api, hostname="win-one")
    assert counters(laptop) == (2, 1)
    ids = lambda q: {d["pk"] for d in api.get(URL + q).json()["results"]}  # noqa: E731
    assert laptop.pk in ids("?has_open_incidents=true")
    end = source_api.post(
        f"/api/v2/incidents/{pk}/events/", {"type": "END", "timestamp": NOW}, format="json"
    )
    assert end.status_code == 201, end.content
    assert counters(laptop) == (1, 1)
    assert (
        api.post(
            f"/api/v2/incidents/{other}/events/", {"type": "CLO", "timestamp": NOW}, format="json"
        ).status_code
        == 201
    )
    assert counters(laptop) == (0, 0)
    assert laptop.pk in ids("?has_open_incidents=false")
    assert laptop.pk not in ids("?vendors_in_trouble__gte=1")
    assert (
        api.post(
            f"/api/v2/incidents/{other}/events/", {"type": "REO", "timestamp": NOW}, format="json"
        ).status_code
        == 201
    )
    assert counters(laptop) == (1, 1)
    doomed = Incident.objects.select_related("source__user").get(pk=other)
    delete_incident(doomed, doomed.source.user)
    assert counters(laptop) == (0, 0)


def test_an_end_time_passing_without_an_event_is_seen_by_the_filters(source_api, api, fleet):
    laptop, _ = fleet
    soon = (timezone.now() + timedelta(days=1)).isoformat()
    response = source_api.post("/api/v2/incidents/", body(end=soon, mac=WIFI), format="json")
    pk = response.json()["pk"]
    laptop.refresh_from_db()
    assert laptop.open_incident_count == 1 and laptop.open_ends_at is not None
    ids = lambda q: {d["pk"] for d in api.get(URL + q).json()["results"]}  # noqa: E731
    assert laptop.pk in ids("?has_open_incidents=true")
    # A day later (the end time is past; no event said so): the counters are stale, the
    # filters are not.
    past = timezone.now() - timedelta(minutes=1)
    Incident.objects.filter(pk=pk).update(end_time=past)
    Device.objects.filter(pk=laptop.pk).update(open_ends_at=past)
    assert laptop.pk not in ids("?has_open_incidents=true")
    assert laptop.pk in ids("?has_open_incidents=false")
    assert laptop.pk not in ids("?vendors_in_trouble__gte=1")
    services.recount_all()
    assert counters(laptop) == (0, 0)


def test_device_filter_on_incidents_is_the_link(api, source_api, fleet):
    laptop, other = fleet
    linked = post(source_api, mac=WIFI)
    # Another source's incident that merely *says* device=<the laptop's id>: not selected.
    post(source_api, device=str(laptop.pk))
    listed = api.get(f"/api/v2/incidents/?device={laptop.pk}").json()["results"]
    assert [i["pk"] for i in listed] == [linked]
    assert api.get(f"/api/v2/incidents/?device={other.pk}").json()["results"] == []
    for bad in ("x", "0", "-1", "99999999999999999999"):
        response = api.get(f"/api/v2/incidents/?device={bad}")
        assert response.status_code == 400 and "device" in response.json(), bad


def test_sources_read_but_do_not_link(source_api, api, fleet):
    laptop, other = fleet
    a2 = VendorDevice.objects.get(vendor_id="a2")
    assert source_api.get(URL).status_code == 200
    assert source_api.get(f"{URL}{laptop.pk}/").status_code == 200
    for action in ("link", "unlink"):
        response = source_api.post(f"{URL}{laptop.pk}/{action}/", {"record": a2.pk}, format="json")
        assert response.status_code == 403, action
    assert DeviceLink.objects.get(pk=a2.pk).device_id == other.pk
    # An end user (a person) may.
    response = api.post(f"{URL}{laptop.pk}/link/", {"record": a2.pk}, format="json")
    assert response.status_code == 200 and response.json()["rule"] == "manual"
    link = DeviceLink.objects.get(pk=a2.pk)
    assert link.device_id == laptop.pk and link.linked_by is not None


def test_hostile_input_is_a_400_naming_the_field(api, fleet):
    laptop, _ = fleet
    for query, field in [
        ("?search=" + "x" * 300, "search"),
        ("?search=%00", "search"),
        ("?vendors_in_trouble__gte=99999999999999999999", "vendors_in_trouble__gte"),
        ("?vendors_in_trouble__gte=-1", "vendors_in_trouble__gte"),
        ("?last_seen__gte=99999-01-01T00:00:00Z", "last_seen__gte"),
        ("?has_open_incidents=maybe", "has_open_incidents"),
        ("?vendor=%ED%A0%80", "vendor"),
    ]:
        response = api.get(URL + query)
        assert response.status_code == 400 and field in response.json(), (query, response.content)
    # A surrogate or a pattern character in a search is just text: no match, no error.
    for text in ("%F0%9F%92%A9", "%25_%5C", "%E2%80%AE"):
        assert api.get(URL + "?search=" + text).status_code == 200, text
    for bad in ({"record": 10**30}, {"record": True}, {"record": -1}, {"record": "1x"},
                {"record": [1]}, {"record": None}, []):  # fmt: skip
        response = api.post(f"{URL}{laptop.pk}/link/", bad, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert isinstance(bad, list) or "record" in response.json(), bad
    for raw in ("not json", '{"record": "\\ud800"}', '{"record": 1, "record": 2, "x": "\\ud800"}'):
        response = api.post(f"{URL}{laptop.pk}/link/", raw, content_type="application/json")
        assert response.status_code == 400, (raw, response.content)
    for path in ("99999999999999999999/", "0/", "-1/", "x/", "99999999999999999999/link/"):
        assert api.get(URL + path).status_code == 404, path


def test_the_migration_moves_hub_device_tags_to_device(source_api, fleet):
    """``inventory.0003``: ``hub_device=<id>`` relations become ``device=<id>``; an incident
    that has both keeps one; vendors' ``device=<name>`` tags stay."""
    from importlib import import_module

    from django.apps import apps

    from fleetwatch.incidents.models import Tag

    migration = import_module("fleetwatch.inventory.migrations.0003_device_tag_rename_and_counts")
    laptop, _ = fleet
    pk = post(source_api, site="x")
    both = post(source_api, mac=WIFI)  # already device=<laptop>
    old = Tag.objects.create(key="hub_device", value=str(laptop.pk))
    vendor = Tag.objects.create(key="device", value="Cold room")
    user = Incident.objects.get(pk=pk).source.user
    for incident in (pk, both):
        IncidentTagRelation.objects.create(incident_id=incident, tag=old, added_by=user)
    IncidentTagRelation.objects.create(incident_id=pk, tag=vendor, added_by=user)
    migration.rename_tags(apps, None)
    assert not Tag.objects.filter(key="hub_device").exists()
    assert device_tags(pk) == {str(laptop.pk), "Cold room"}
    assert device_tags(both) == {str(laptop.pk)}
