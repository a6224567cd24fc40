"""The console's device inventory pages: the devices list (devices in trouble with two or more
vendors first, the API's filters, keyset paging, constant queries), the device page (vendor
records, reasons, conflicts, merged timeline), manual link/unlink (people only, through the
inventory services, surviving a rematch), bad input, and the same in a real browser."""

from datetime import UTC, datetime, timedelta

import pytest
from browser_helpers import axe_violations, screenshot
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from fleetwatch.connectors.base import DeviceRecord
from fleetwatch.connectors.engine import store_devices
from fleetwatch.connectors.models import Connector, ConnectorState, VendorDevice
from fleetwatch.incidents.models import INFINITY, Event, Incident, IncidentTagRelation, Tag
from fleetwatch.incidents.sources import create_source
from fleetwatch.inventory import services
from fleetwatch.inventory.models import Device, DeviceLink

NOW = datetime(2026, 8, 17, 9, tzinfo=UTC)
VENDORS = ("7signal", "metaaccess", "sensaphone")


@pytest.fixture
def connectors(db):
    made = {}
    for vendor in VENDORS:
        source = create_source(f"web-{vendor}", vendor, username=f"web-{vendor}", create_type=True)
        made[vendor] = Connector.objects.create(
            name=f"web-{vendor}", vendor=vendor, base_url="https://example.org", source=source
        )
        ConnectorState.objects.create(connector=made[vendor])
    return made


def mac(n: int) -> str:
    return f"AA:BB:CC:00:{n // 256:02X}:{n % 256:02X}"


def incident_on(connector, mac_address: str, description: str, minutes: int = 0) -> Incident:
    """An open incident from the connector's source naming the device by a ``mac=`` tag."""
    source = connector.source
    incident = Incident.objects.create(
        source=source,
        start_time=NOW - timedelta(minutes=minutes),
        end_time=INFINITY,
        description=description,
        level=2,
    )
    Event.objects.create(
        incident=incident,
        actor=source.user,
        timestamp=incident.start_time,
        type=Event.Type.INCIDENT_START,
    )
    tag, _ = Tag.objects.get_or_create(key="mac", value=mac_address)
    IncidentTagRelation.objects.create(tag=tag, incident=incident, added_by=source.user)
    return incident


@pytest.fixture
def laptops(connectors):
    """make(first, count): laptops known to 7SIGNAL and MetaAccess by one MAC; even-numbered
    ones have an open incident from each vendor (in trouble with two vendors)."""

    def make(first: int, count: int) -> list[Device]:
        numbers = range(first, first + count)
        store_devices(
            connectors["7signal"],
            [DeviceRecord(f"a{n}", f"laptop-{n}", mac(n), last_seen=NOW) for n in numbers],
        )
        store_devices(
            connectors["metaaccess"],
            [
                DeviceRecord(
                    f"m{n}",
                    f"LAPTOP-{n}.corp",
                    mac(n),
                    os="Windows 11",
                    last_seen=NOW,
                    data={"macs": [mac(n)], "group": "Staff"},
                )
                for n in numbers
            ],
        )
        for n in numbers:
            if n % 2 == 0:
                incident_on(connectors["7signal"], mac(n), f"Poor Wi-Fi on laptop-{n}", 5)
                incident_on(connectors["metaaccess"], mac(n), f"laptop-{n} not compliant")
        services.link_incidents(Incident.objects.all())
        return [device_of(f"a{n}") for n in numbers]

    return make


def device_of(vendor_id: str) -> Device:
    return DeviceLink.objects.get(vendor_device__vendor_id=vendor_id).device


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def person(enduser):
    return client_for(enduser)


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content.decode()[:500]
    return len(queries)


# --- the list ---------------------------------------------------------------------------------


def test_list_puts_devices_in_trouble_with_two_vendors_first(person, laptops):
    quiet, troubled = laptops(1, 2)  # laptop-2 has incidents from both vendors
    page = person.get("/devices/").content.decode()
    trouble = page.split('id="h-trouble"')[1].split('id="h-all"')[0]
    assert f'data-device="{troubled.pk}"' in trouble
    assert f'data-device="{quiet.pk}"' not in trouble
    everything = page.split('id="h-all"')[1]
    assert f'data-device="{quiet.pk}"' in everything and "MetaAccess" in everything


def test_list_filters_are_the_apis(person, laptops):
    quiet, troubled = laptops(1, 2)

    def shown(query: str) -> set[int]:
        page = person.get("/devices/?" + query).content.decode().split('id="h-all"')[1]
        return {d.pk for d in (quiet, troubled) if f'data-device="{d.pk}"' in page}

    assert shown("has_open_incidents=true") == {troubled.pk}
    assert shown("has_open_incidents=false") == {quiet.pk}
    assert shown("vendors_in_trouble__gte=2") == {troubled.pk}
    assert shown("search=" + mac(1).replace(":", "-").lower()) == {quiet.pk}
    assert shown("search=laptop-2.example.org") == {troubled.pk}
    assert shown("vendor=sensaphone") == set()
    assert shown("vendor=metaaccess") == {quiet.pk, troubled.pk}
    assert shown("last_seen__gte=2026-08-17T08:00") == {quiet.pk, troubled.pk}
    assert shown("last_seen__lte=2026-08-17T08:00") == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("vendor=nope", "vendor"),
        ("has_open_incidents=maybe", "has_open_incidents"),
        ("vendors_in_trouble__gte=x", "vendors_in_trouble__gte"),
        ("vendors_in_trouble__gte=99999999999999999999", "vendors_in_trouble__gte"),
        ("last_seen__gte=yesterday", "last_seen__gte"),
        ("cursor=junk", "cursor"),
        ("search=" + "x" * 300, "search"),
    ],
)
def test_bad_filters_are_form_errors_naming_the_field(person, laptops, query, field):
    laptops(1, 1)
    response = person.get("/devices/?" + query)
    assert response.status_code == 400
    errors = response.content.decode().split('role="alert"')[1].split("</div>")[0]
    assert f"{field}:" in errors


@pytest.mark.parametrize(
    "query",
    [
        "search=%00",
        "vendor=%00",
        "vendor=7signal,%00",
        "last_seen__gte=%00",
        "last_seen__gte=0001-01-01T00:00",
        "last_seen__lte=99999-01-01T00:00",
        "cursor=%00",
        "cursor=cD0wMDAxLTAxLTAxVDAwOjAwJTJCMDA6MDAmaT05OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
        "vendors_in_trouble__gte=-1",
    ],
)
def test_hostile_filters_are_never_a_500(person, laptops, query):
    laptops(1, 1)
    response = person.get("/devices/?" + query)
    assert response.status_code in (200, 400), query
    if response.status_code == 400:
        assert 'role="alert"' in response.content.decode()


def test_keyset_paging(person, laptops, monkeypatch):
    made = laptops(1, 5)
    monkeypatch.setattr("fleetwatch.web.devices.PAGE_SIZE", 2)
    seen, url = [], "/devices/?vendor=7signal"
    while url:
        page = person.get(url).content.decode().split('id="h-all"')[1]
        on_page = [d.pk for d in made if f'data-device="{d.pk}"' in page]
        assert len(on_page) <= 2
        seen += on_page
        url = ""
        if 'rel="next"' in page:
            url = page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
            url = "/devices/" + url.replace("&amp;", "&")
    assert sorted(seen) == sorted(d.pk for d in made)  # each once, none lost


def test_list_queries_do_not_grow_with_devices(person, laptops):
    filtered = "/devices/?search=laptop&has_open_incidents=true"
    laptops(1, 5)
    five, five_filtered = count_queries(person, "/devices/"), count_queries(person, filtered)
    laptops(6, 20)
    assert Device.objects.count() == 25
    assert count_queries(person, "/devices/") == five
    # The search looks its MAC/hostname key up first: one statement more, whatever the size.
    assert count_queries(person, filtered) == five_filtered <= five + 1


# --- one device -------------------------------------------------------------------------------


def test_device_page_records_reasons_and_merged_timeline(person, laptops):
    (laptop,) = laptops(2, 1)
    page = person.get(f"/devices/{laptop.pk}/").content.decode()
    assert "7SIGNAL" in page and "MetaAccess" in page
    assert mac(2).lower() in page and "Windows 11" in page and "Staff" in page
    assert f"same MAC address: mac = {mac(2).lower()}" in page  # which key, which value
    timeline = page.split('id="h-timeline"')[1]
    newest, older = "laptop-2 not compliant", "Poor Wi-Fi on laptop-2"
    assert timeline.index(newest) < timeline.index(older)  # newest first, both vendors
    incident = Incident.objects.get(description=newest)
    assert f'href="/incidents/{incident.pk}/"' in timeline
    detail = person.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'href="/devices/{laptop.pk}/"' in detail


def test_device_page_queries_do_not_grow(person, laptops, connectors):
    (laptop,) = laptops(2, 1)
    before = count_queries(person, f"/devices/{laptop.pk}/")
    for n in range(5):
        incident_on(connectors["7signal"], mac(2), f"More trouble {n}", 10 + n)
    store_devices(connectors["7signal"], [DeviceRecord("a2-reimaged", "laptop-2b", mac(2))])
    services.link_incidents(Incident.objects.all())
    assert DeviceLink.objects.filter(device=laptop).count() == 3
    assert count_queries(person, f"/devices/{laptop.pk}/") == before


def test_conflict_is_shown(person, connectors):
    store_devices(
        connectors["7signal"],
        [DeviceRecord("a1", "one", mac(1)), DeviceRecord("a2", "two", mac(2))],
    )
    store_devices(
        connectors["metaaccess"],
        [DeviceRecord("m1", "three", mac(1), data={"macs": [mac(1), mac(2)]})],
    )
    link = DeviceLink.objects.get(vendor_device__vendor_id="m1")
    assert link.rule == "conflict"
    page = person.get(f"/devices/{link.device_id}/").content.decode()
    conflicts = page.split('id="h-conflicts"')[1].split("</section>")[0]
    for vid in ("a1", "a2"):
        assert f'href="/devices/{device_of(vid).pk}/"' in conflicts
    listed = person.get("/devices/?conflict=true").content.decode().split('id="h-all"')[1]
    assert f'data-device="{link.device_id}"' in listed


@pytest.mark.parametrize("pk", ["0", "999999", "99999999999999999999999"])
def test_unknown_device_is_404(person, db, pk):
    assert person.get(f"/devices/{pk}/").status_code == 404
    assert person.post(f"/devices/{pk}/unlink/", {"record": "1"}).status_code == 404


# --- link / unlink --------------------------------------------------------------------------


def test_unlink_by_hand_survives_rematch(person, laptops, enduser):
    (laptop,) = laptops(2, 1)
    record = VendorDevice.objects.get(vendor_id="m2")
    response = person.post(f"/devices/{laptop.pk}/unlink/", {"record": record.pk})
    assert response.status_code == 302
    link = DeviceLink.objects.get(pk=record.pk)
    assert link.rule == "manual-unlink" and link.device_id != laptop.pk
    assert link.linked_by == enduser
    services.rematch()
    assert DeviceLink.objects.get(pk=record.pk).device_id == link.device_id
    # It shares the laptop's MAC: the laptop's page offers it back.
    page = person.get(f"/devices/{laptop.pk}/").content.decode()
    assert f'aria-label="Link record {record.pk} here"' in page
    # Linking it back by hand is a manual decision too.
    response = person.post(f"/devices/{laptop.pk}/link/", {"record": record.pk})
    assert response.status_code == 302
    assert DeviceLink.objects.get(pk=record.pk).device_id == laptop.pk
    assert DeviceLink.objects.get(pk=record.pk).rule == "manual"


@pytest.mark.parametrize("action", ["link", "unlink"])
def test_source_user_may_not_link_or_unlink(laptops, connectors, source, action):
    laptop, other = laptops(1, 2)
    record = VendorDevice.objects.get(vendor_id="m1" if action == "unlink" else "m2")
    for user in (source.user, connectors["7signal"].source.user):
        client = client_for(user)
        assert "Unlink" not in client.get(f"/devices/{laptop.pk}/").content.decode()
        response = client.post(f"/devices/{laptop.pk}/{action}/", {"record": record.pk})
        assert response.status_code == 403
        assert "Only people link and unlink" in response.content.decode()
    assert device_of("m1") == laptop and device_of("m2") == other
    assert not DeviceLink.objects.filter(rule__startswith="manual").exists()


@pytest.mark.parametrize(
    ("action", "record", "problem"),
    [
        ("unlink", "", "Enter a vendor record number."),
        ("unlink", "abc", "Enter a vendor record number."),
        ("link", "-1", "Enter a vendor record number."),
        ("link", "99999999999999999999999", "Enter a vendor record number."),
        ("link", "999999", "No vendor record 999999."),
        ("link", "²", "Enter a vendor record number."),
        ("link", "1\x00", "Enter a vendor record number."),
        ("unlink", "other", "This record is not linked to this device."),
    ],
)
def test_bad_record_is_a_form_error(person, laptops, action, record, problem):
    laptop, other = laptops(1, 2)
    if record == "other":
        record = str(VendorDevice.objects.get(vendor_id="m2").pk)
    response = person.post(f"/devices/{laptop.pk}/{action}/", {"record": record})
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert device_of("m1") == laptop and device_of("m2") == other
    assert not DeviceLink.objects.filter(rule__startswith="manual").exists()


def test_unknown_action_and_get_are_refused(person, laptops):
    (laptop,) = laptops(1, 1)
    assert person.post(f"/devices/{laptop.pk}/merge/", {"record": "1"}).status_code == 404
    assert person.get(f"/devices/{laptop.pk}/unlink/").status_code == 405


def test_link_needs_csrf(enduser, laptops):
    laptop, _ = laptops(1, 2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(enduser)
    record = VendorDevice.objects.get(vendor_id="m2")
    assert client.post(f"/devices/{laptop.pk}/link/", {"record": record.pk}).status_code == 403
    assert not DeviceLink.objects.filter(rule="manual").exists()


def test_anonymous_is_sent_to_login(db):
    response = Client().get("/devices/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- in a real browser --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_devices_in_a_browser(page, live_server, login, enduser, laptops):
    laptops(1, 2)
    troubled = device_of("a2")
    login(page)
    page.get_by_role("link", name="Devices").click()
    trouble = page.get_by_role("region", name="Devices in trouble with two or more vendors")
    assert trouble.locator("tbody tr").first.get_attribute("data-device") == str(troubled.pk)
    assert axe_violations(page) == []
    screenshot(page, "devices")
    trouble.get_by_role("link", name=troubled.name).click()
    page.get_by_role("heading", name=f"Device {troubled.pk}:").wait_for()
    records = page.locator("article.record")
    assert records.count() == 2
    assert "7SIGNAL" in records.nth(0).inner_text() and "MetaAccess" in records.nth(1).inner_text()
    timeline = page.locator(".device-timeline li")
    assert timeline.count() == 2
    assert "not compliant" in timeline.nth(0).inner_text()
    assert "Poor Wi-Fi" in timeline.nth(1).inner_text()
    assert axe_violations(page) == []
    screenshot(page, "device")

    record = VendorDevice.objects.get(vendor_id="m2")
    page.get_by_role("button", name=f"Unlink record {record.pk}").click()
    assert "Unlinked record" in page.get_by_role("status").inner_text()
    page.goto(f"{live_server.url}/devices/{troubled.pk}/")
    assert page.locator("article.record").count() == 1
    services.rematch()
    page.reload()
    assert page.locator("article.record").count() == 1
    assert DeviceLink.objects.get(pk=record.pk).device_id != troubled.pk

    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/devices/", f"/devices/{troubled.pk}/"):
        page.goto(live_server.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} scrolls sideways at 360 px ({width} px)"


def test_unlinking_the_only_record_leads_to_where_it_went(person, connectors):
    store_devices(connectors["sensaphone"], [DeviceRecord("7", "Cold room", data={"serial": "S7"})])
    record = VendorDevice.objects.get(vendor_id="7")
    alone = device_of("7")
    response = person.post(f"/devices/{alone.pk}/unlink/", {"record": record.pk})
    now_on = DeviceLink.objects.get(pk=record.pk).device_id
    assert now_on != alone.pk and not Device.objects.filter(pk=alone.pk).exists()
    assert response.status_code == 302 and response["Location"] == f"/devices/{now_on}/"
    page = person.get(response["Location"]).content.decode()
    assert "Unlinked record" in page and "unlinked by hand" in page and "S7" in page
