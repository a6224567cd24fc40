"""Incidents link to the vendor console page of their device or alarm, for every vendor.

Black-box: a connector polls its emulator over HTTP, then every ``details_url`` it stored is
fetched and must answer 200 (the emulators serve their console under ``/console/``). Also here,
because they are read off the same incidents: vendor times in metadata are ISO 8601 in UTC,
and MetaAccess descriptions name the device's top issues.
"""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fleetwatch.connectors import console
from fleetwatch.connectors.base import StoredIncident
from fleetwatch.connectors.engine import HEALTH_ID
from fleetwatch.connectors.http import VendorHTTP
from fleetwatch.connectors.options import OptionsError, clean_options, resolve_options
from fleetwatch.connectors.registry import connector_class
from fleetwatch.connectors.vendors.metaaccess import mapping as ma_mapping
from fleetwatch.connectors.vendors.sevensignal import mapping as seven_mapping
from fleetwatch.emulators.clock import SimClock
from fleetwatch.incidents.models import Incident

FAST = {"rate_limit": [50, 1.0], "timeout": 1.0}
FROZEN_EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def vendor_incidents(connector) -> list[Incident]:
    return list(
        Incident.objects.filter(source=connector.source).exclude(source_incident_id=HEALTH_ID)
    )


def assert_links_answer(incidents: list[Incident], server) -> None:
    assert incidents
    urls = {incident.details_url for incident in incidents}
    assert all(url.startswith(f"{server.url}/console/") for url in urls), urls
    with httpx.Client(timeout=10) as http:
        for url in sorted(urls):
            response = http.get(url)
            assert response.status_code == 200, (url, response.status_code)
            assert response.headers["content-type"].startswith("text/html")


def assert_utc_iso(value: object) -> None:
    assert isinstance(value, str), value
    assert datetime.fromisoformat(value).utcoffset() == timedelta(0), value


def test_console_url_option_default_and_link_encoding() -> None:
    assert console.console_url({}, "http://127.0.0.1:8102/o/api") == "http://127.0.0.1:8102/console"
    assert console.console_url({"console_url": "https://c.example/x/"}, "http://h") == (
        "https://c.example/x"
    )
    assert console.link("https://c/console", "devices", "a/b?c") == (
        "https://c/console/devices/a%2Fb%3Fc"
    )
    assert console.link("https://c/console") == "https://c/console/"
    for vendor in ("7signal", "metaaccess", "sensaphone"):
        assert clean_options(vendor, {"console_url": "https://console.example"})
        with pytest.raises(OptionsError) as error:
            clean_options(vendor, {"console_url": 5})
        assert "console_url" in error.value.errors


CREDENTIALS = {
    "7signal": {"client_id": "id", "client_secret": "secret"},
    "metaaccess": {"client_id": "id", "client_secret": "secret"},
    "sensaphone": {"user_name": "user", "password": "secret"},
}


def built(vendor: str, base_url: str, **options):
    """The vendor module as ``engine.build`` makes it: resolved options, the HTTP layer, no
    ``Connector`` row (it is never handed one)."""
    return connector_class(vendor)(
        http=VendorHTTP(base_url),
        options=resolve_options(vendor, options),
        credentials=CREDENTIALS[vendor],
        auth_cache={},
    )


@pytest.mark.parametrize("vendor", sorted(CREDENTIALS))
def test_console_url_is_declared_with_an_empty_default_read_off_the_http_base_url(vendor) -> None:
    assert resolve_options(vendor, {})["console_url"] == ""
    assert clean_options(vendor, {"console_url": ""}) == {"console_url": ""}  # "": the default
    module = built(vendor, "http://vendor.test:8100/org/api/v1/")
    assert module.console_root == "http://vendor.test:8100/console"
    module = built(vendor, "http://vendor.test:8100/api", console_url=" https://c.example/x/ ")
    assert module.console_root == "https://c.example/x"


def test_7signal_mapping_links_the_console_and_keeps_determined_in_utc() -> None:
    record = {
        "id": "inc/7",
        "startTimestamp": "2026-03-01T10:00:00Z",
        "timestampDeterminedToBeIncident": "2026-03-01T11:05:00.000+01:00",
    }
    draft = seven_mapping.incident(record, "https://c/console")
    assert draft.details_url == "https://c/console/incidents/inc%2F7"
    assert draft.metadata["determined"] == "2026-03-01T10:05:00+00:00"
    unreadable = seven_mapping.incident(
        {**record, "timestampDeterminedToBeIncident": "yesterday"}, "https://c/console"
    )
    assert unreadable.metadata["determined"] is None


@pytest.mark.django_db
def test_7signal_incidents_link_to_their_console_page(emulator, make_connector, poll) -> None:
    server = emulator("7signal", seed=4, devices=60)
    connector = make_connector(server, timeout=1.0)
    assert poll(connector)["status"] == "ok"
    incidents = vendor_incidents(connector)
    assert_links_answer(incidents, server)
    for incident in incidents:
        assert incident.details_url.endswith(f"/console/incidents/{incident.source_incident_id}")
        assert_utc_iso(incident.metadata["determined"])


@pytest.mark.django_db
def test_7signal_console_url_option_is_used(emulator, make_connector, poll) -> None:
    server = emulator("7signal", seed=4, devices=60)
    connector = make_connector(server, timeout=1.0, console_url="https://start.example/me/")
    assert poll(connector)["status"] == "ok"
    incident = vendor_incidents(connector)[0]
    assert incident.details_url == (
        f"https://start.example/me/incidents/{incident.source_incident_id}"
    )


@pytest.mark.django_db
def test_metaaccess_incidents_link_and_name_their_top_issues(
    emulator, make_connector, control, poll
) -> None:
    server = emulator("metaaccess", seed=2, devices=300, clock=SimClock(speed=1e-9))
    ctl = control(server)
    ctl.ratelimit(limit=50, window=1)
    connector = make_connector(server, rate_limit=[40, 1], timeout=1.0)
    assert poll(connector)["status"] == "ok"  # the first poll: a full resync
    world = server.emulator.world
    busy = {d["device_id"] for d in ctl.truth()["non_compliant_devices"]}
    device_id = next(d for d in world.order if world.is_live(d) and d not in busy)
    ctl.act("set_compliance", device_id=device_id, status="non-compliant", severity="critical")
    ctl.act("block_access", device_id=device_id, app_name="Slack")
    ctl.advance(60)
    assert poll(connector)["status"] == "ok"  # status_changed, verbose: the issues by name
    incidents = vendor_incidents(connector)
    assert_links_answer(incidents, server)

    incident = next(i for i in incidents if i.source_incident_id == f"device:{device_id}")
    assert incident.details_url == f"{server.url}/console/devices/{device_id}"
    state = world.state(device_id)
    named = incident.metadata["issue_names"]
    assert len(named) == state.critical + state.warning
    assert incident.description.startswith(
        f"{world.endpoints[device_id].hostname} non-compliant: {state.critical} critical, "
        f"{state.warning} warning issues: {named[0]}"
    )
    assert all(name in incident.description for name in named[:3])
    issues_page = httpx.get(incident.details_url).text
    assert all(name.split(" (")[0].replace("'", "&#x27;") in issues_page for name in named)

    activities = [i for i in incidents if i.source_incident_id.startswith("activity:")]
    blocked = next(i for i in activities if "Slack" in i.description)
    assert blocked.details_url == f"{server.url}/console/devices/{device_id}"
    assert_utc_iso(blocked.metadata["timestamp"])
    for activity in activities:
        assert_utc_iso(activity.metadata["timestamp"])


def test_metaaccess_names_critical_issues_first_and_counts_the_rest() -> None:
    item = {
        "device_id": "D1",
        "device_name": "lab-7",
        "severity": "critical",
        "issue": {"total_issue": 5, "total_critical_issue": 1, "total_warning_issue": 4},
        "categories": [
            {"category_id": 11, "name": "Backup", "severity": "warning", "issue": "No backup"},
            {"category_id": 5, "name": "Antivirus", "severity": "critical", "issue": "AV off"},
            {"category_id": 8, "name": "Sharing", "severity": "warning", "issue": "P2P app"},
            {"category_id": 9, "name": "Anti-phishing", "severity": "warning", "issue": "Off"},
            {"category_id": 12, "name": "Other", "severity": "warning"},
        ],
    }
    now = datetime(2026, 3, 1, tzinfo=UTC)
    draft = ma_mapping.device_incident(item, now, console_root="https://c/console")
    assert draft.description == (
        "lab-7 non-compliant: 1 critical, 4 warning issues: AV off (Antivirus), "
        "No backup (Backup), P2P app (Sharing) and 2 more"
    )
    assert draft.details_url == "https://c/console/devices/D1"
    # The v3.6 list carries no categories: the names stored for the same counts are kept.
    stored = StoredIncident(now, draft.description, 2, draft.details_url, "", draft.metadata, None)
    listed = {k: v for k, v in item.items() if k != "categories"}
    again = ma_mapping.device_incident(listed, now, stored, "https://c/console")
    assert again.description == draft.description and again.metadata == draft.metadata
    changed = {**listed, "issue": {"total_critical_issue": 2, "total_warning_issue": 4}}
    assert ma_mapping.device_incident(changed, now, stored).description.endswith(
        "2 critical, 4 warning issues"
    )


@pytest.mark.django_db
def test_sensaphone_incidents_link_to_their_zone_or_device(
    emulator, make_connector, control, poll
) -> None:
    server = emulator("sensaphone", seed=7, devices=300, clock=SimClock(FROZEN_EPOCH, 1e-9))
    connector = make_connector(server, audit_log=True, **FAST)
    assert poll(connector)["status"] == "ok"
    incidents = vendor_incidents(connector)
    assert_links_answer(incidents, server)
    kinds = {i.source_incident_id.split(":")[0] for i in incidents}
    assert {"zone", "audit"} <= kinds
    for incident in incidents:
        parts = incident.source_incident_id.split(":")
        if parts[0] == "zone":
            assert incident.details_url.endswith(f"/console/devices/{parts[1]}/zones/{parts[2]}")
            assert_utc_iso(incident.metadata["event_time"])
        elif parts[0] == "audit":
            assert_utc_iso(incident.metadata["when"])
        else:
            assert incident.details_url.endswith(f"/console/devices/{parts[1]}")


def test_metaaccess_device_records_keep_every_mac() -> None:
    """A docked laptop: MetaAccess lists the wired adapter first; 7SIGNAL knows the Wi-Fi one."""
    item = {
        "device_id": "D2",
        "host_name": "WIN-ALICE-00042",
        "network_info": [
            {"ipv4": "10.120.0.43", "mac": "3C:52:82:01:02:03"},
            {"ipv4": "10.20.0.43", "mac": "74:D8:3E:0A:0B:0C"},
            {"ipv4": "10.20.0.43", "mac": "74:d8:3e:0a:0b:0c"},
        ],
    }
    record = ma_mapping.device_record(item)
    assert record.mac == "3C:52:82:01:02:03"
    assert record.data["macs"] == ["3C:52:82:01:02:03", "74:D8:3E:0A:0B:0C"]
