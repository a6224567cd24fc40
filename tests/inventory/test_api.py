"""``/api/v2/devices/`` over HTTP: list and filters, detail with reasons, the device's
incidents, link/unlink by hand, ``?device=`` on the incident list, the schema."""

import pytest

from fleetwatch.connectors.models import VendorDevice
from fleetwatch.inventory import services
from fleetwatch.inventory.models import Device, DeviceLink

from .test_services import WIFI, WIRED, agent, ma

URL = "/api/v2/devices/"


@pytest.fixture
def fleet(store):
    store("7signal", agent("a1", "DESKTOP-OLD", WIFI), agent("a2", "WIN-TWO", "AA:BB:CC:00:00:02"))
    store("metaaccess", ma("m1", "WIN-ONE.corp", WIRED, WIFI))
    laptop = DeviceLink.objects.get(vendor_device__vendor_id="m1").device
    other = DeviceLink.objects.get(vendor_device__vendor_id="a2").device
    return laptop, other


def post_incident(source_api, **tags):
    body = {
        "start_time": "2026-08-17T09:00:00Z",
        "end_time": "infinity",
        "description": "switch port down",
        "tags": [{"tag": f"{k}={v}"} for k, v in tags.items()],
    }
    response = source_api.post("/api/v2/incidents/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["pk"]


def test_list_detail_and_reasons(api, fleet):
    laptop, other = fleet
    body = api.get(URL).json()
    assert {d["pk"] for d in body["results"]} == {laptop.pk, other.pk}
    assert body["next"] is None
    detail = api.get(f"{URL}{laptop.pk}/").json()
    assert detail["name"] in ("WIN-ONE.corp", "DESKTOP-OLD")
    assert detail["vendors"] == ["7signal", "metaaccess"]
    records = {r["vendor_id"]: r for r in detail["records"]}
    assert records["m1"]["keys"]["macs"] == sorted([WIFI.lower(), WIRED.lower()])
    assert records["m1"]["keys"]["hostname"] == ["win-one"]
    reasons = {r["rule"] for r in records.values()}
    assert reasons == {"new", "mac"}
    assert any("mac=" + WIFI.lower() in r["reason"] for r in records.values())


def test_list_filters(api, fleet):
    laptop, other = fleet
    ids = lambda q: {d["pk"] for d in api.get(URL + q).json()["results"]}  # noqa: E731
    assert ids("?vendor=metaaccess") == {laptop.pk}
    assert ids("?vendor=7signal,metaaccess") == {laptop.pk, other.pk}
    assert ids("?search=" + WIRED.replace(":", "-").lower()) == {laptop.pk}
    assert ids("?search=win-two.example.org") == {other.pk}
    assert ids("?search=desktop-old") == {laptop.pk}
    assert ids("?has_open_incidents=true") == set()
    assert ids("?last_seen__gte=2026-08-17T08:00:00Z") == {laptop.pk, other.pk}
    assert ids("?conflict=false") == {laptop.pk, other.pk}


def test_bad_parameters_are_400_naming_them(api, fleet):
    for query, field in [
        ("?vendor=nope", "vendor"),
        ("?has_open_incidents=maybe", "has_open_incidents"),
        ("?vendors_in_trouble__gte=x", "vendors_in_trouble__gte"),
        ("?last_seen__gte=yesterday", "last_seen__gte"),
        ("?colour=red", "colour"),
        ("?cursor=junk", "cursor"),
    ]:
        response = api.get(URL + query)
        assert response.status_code == 400 and field in response.json(), query


def test_pagination_is_a_cursor(api, fleet):
    first = api.get(URL + "?page_size=1").json()
    assert len(first["results"]) == 1 and first["next"]
    second = api.get(first["next"]).json()
    assert {first["results"][0]["pk"], second["results"][0]["pk"]} == {d.pk for d in fleet}


def test_other_sources_incidents_link_by_mac_or_hostname(api, source_api, fleet, admin_user):
    laptop, other = fleet
    by_mac = post_incident(source_api, mac=WIRED.replace(":", ""))
    by_host = post_incident(source_api, hostname="WIN-TWO.corp.example")
    post_incident(source_api, hostname="unknown-host")
    # Linked as they were posted: the backfill finds nothing left to do.
    assert services.link_incidents(services.Incident.objects.all()) == 0
    got = api.get(f"{URL}{laptop.pk}/incidents/").json()["results"]
    assert [i["pk"] for i in got] == [by_mac]
    listed = api.get(f"/api/v2/incidents/?device={other.pk}").json()["results"]
    assert [i["pk"] for i in listed] == [by_host]
    assert {"tag": f"device={other.pk}"} in [{"tag": t["tag"]} for t in listed[0]["tags"]]
    assert api.get(URL + "?has_open_incidents=true").json()["results"][0]["pk"] in (
        laptop.pk,
        other.pk,
    )
    trouble = api.get(URL + "?vendors_in_trouble__gte=1").json()["results"]
    assert {d["pk"] for d in trouble} == {laptop.pk, other.pk}
    assert all(d["open_incidents"] == 1 for d in trouble)


def test_link_and_unlink_by_hand(client_for, superuser, source_api, fleet):
    laptop, other = fleet
    admin = client_for(superuser)
    a2 = VendorDevice.objects.get(vendor_id="a2")
    # A source system's token may not (people may: see test_incident_links).
    response = source_api.post(f"{URL}{laptop.pk}/link/", {"record": a2.pk}, format="json")
    assert response.status_code == 403
    response = admin.post(f"{URL}{laptop.pk}/link/", {"record": a2.pk}, format="json")
    assert response.status_code == 200 and response.json()["rule"] == "manual"
    assert not Device.objects.filter(pk=other.pk).exists()  # left empty: gone
    response = admin.post(f"{URL}{laptop.pk}/unlink/", {"record": a2.pk}, format="json")
    assert response.status_code == 200 and response.json()["rule"] == "manual-unlink"
    assert DeviceLink.objects.get(pk=a2.pk).device_id != laptop.pk
    for body, field in [
        ({}, "record"),
        ({"record": "x"}, "record"),
        ({"record": 10**9}, "record"),
        ({"record": a2.pk, "x": 1}, "x"),
    ]:
        response = admin.post(f"{URL}{laptop.pk}/unlink/", body, format="json")
        assert response.status_code == 400 and field in response.json(), body
    assert admin.post(f"{URL}999999/link/", {"record": a2.pk}, format="json").status_code == 404


def test_devices_are_in_the_schema(api):
    schema = api.get("/api/v2/schema/?format=json").json()
    assert {"/api/v2/devices/", "/api/v2/devices/{id}/", "/api/v2/devices/{id}/link/"} <= set(
        schema["paths"]
    )
