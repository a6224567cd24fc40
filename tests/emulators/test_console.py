"""The console pages a hub incident's details_url points at, on every emulator, over HTTP.

Each page is a plain HTML stand-in for the vendor's web console: no token or session (a person
follows the link in a browser), 200 for what the vendor knows, a 404 page for what it does not.
"""

import httpx
import pytest

from fleetwatch.emulators.sensaphone.model import TICK_SECONDS


def _html(response: httpx.Response, status: int = 200) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


@pytest.mark.parametrize(
    ("vendor", "missing"),
    [
        ("7signal", "agents/no-such-thing"),
        ("metaaccess", "devices/no-such-thing"),
        ("sensaphone", "devices/no-such-thing"),
    ],
)
def test_console_home_answers_without_credentials(serve, client, vendor, missing) -> None:
    server = serve(vendor, seed=5, devices=60)
    page = _html(client.get(f"{server.url}/console/"))
    assert "<h1>" in page and "emulator" in page
    assert "no-such-thing" in _html(client.get(f"{server.url}/console/{missing}"), 404)


def test_7signal_console_pages_for_incidents_and_agents(serve, client) -> None:
    server = serve("7signal", seed=5, devices=60)
    truth = client.get(f"{server.url}/_emulator/truth").json()
    incident = truth["open_incidents"][0]
    page = _html(client.get(f"{server.url}/console/incidents/{incident['id']}"))
    assert incident["type"] in page and incident["network"] in page
    assert f"/console/incidents/{incident['id']}" in _html(client.get(f"{server.url}/console/"))
    agent = server.emulator._agents[0]
    assert agent.hostname in _html(client.get(f"{server.url}/console/agents/{agent.agent_id}"))
    _html(client.get(f"{server.url}/console/incidents/not-an-incident"), 404)


def test_metaaccess_console_names_the_devices_issues(serve, client) -> None:
    server = serve("metaaccess", seed=5, devices=60)
    device_id = server.emulator.world.order[0]
    hostname = server.emulator.world.endpoints[device_id].hostname
    answer = client.post(
        f"{server.url}/_emulator/scenario",
        json={
            "action": "set_compliance",
            "device_id": device_id,
            "status": "non-compliant",
            "severity": "critical",
        },
    )
    assert answer.status_code == 200, answer.text
    page = _html(client.get(f"{server.url}/console/devices/{device_id}"))
    assert hostname in page and "non-compliant" in page and "critical: " in page
    deleted = client.post(
        f"{server.url}/_emulator/scenario",
        json={"action": "delete_device", "device_id": device_id},
    )
    assert deleted.status_code == 200, deleted.text
    assert "deleted" in _html(client.get(f"{server.url}/console/devices/{device_id}"))


def test_sensaphone_console_pages_for_devices_and_zones(serve, client) -> None:
    server = serve("sensaphone", seed=5, devices=60)
    device = server.emulator.timeline.devices[0]
    zone = device.zones[0]
    answer = client.post(
        f"{server.url}/_emulator/scenario",
        json={"action": "raise_alarm", "device_id": device.device_id, "zone_id": zone.zone_id},
    )
    assert answer.status_code == 200, answer.text
    client.post(f"{server.url}/_emulator/clock/advance", json={"seconds": TICK_SECONDS})
    device_page = _html(client.get(f"{server.url}/console/devices/{device.device_id}"))
    assert device.name in device_page
    assert f"/console/devices/{device.device_id}/zones/{zone.zone_id}" in device_page
    zone_url = f"{server.url}/console/devices/{device.device_id}/zones/{zone.zone_id}"
    assert zone.name in _html(client.get(zone_url))
    _html(client.get(f"{server.url}/console/devices/{device.device_id}/zones/999999"), 404)
    _html(client.get(f"{server.url}/console/devices/%7B{device.device_id}%7D"))  # braces, too
