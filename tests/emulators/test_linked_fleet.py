"""The fleet is linked across vendors, seen only through the two vendor APIs over HTTP.

Laptops run both a 7SIGNAL agent and a MetaAccess agent; the future device inventory joins the
two on MAC address and hostname, so both emulators, started apart with the same seed and fleet
size (as ``fleetwatch emulate all`` does), must report the same pair for each such laptop.
"""

import re
from datetime import UTC, datetime

import httpx
import pytest

from fleetwatch.emulators.clock import SimClock

EPOCH = datetime(2026, 8, 17, 9, 0, tzinfo=UTC)
CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
DEVICES = 300


def seven_signal_agents(http: httpx.Client, url: str) -> list[dict]:
    token = http.post(
        f"{url}/oauth2/token", data={"grant_type": "client_credentials", **CREDS}
    ).json()["access_token"]
    agents, page = [], 1
    while True:
        body = http.get(
            f"{url}/eyes/agents",
            params={"page": page, "perPage": 250},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        agents += body["results"]
        if page >= body["pagination"]["pages"]:
            return agents
        page += 1


def metaaccess_devices(http: httpx.Client, url: str) -> list[dict]:
    """Every live device of the v3.6 device list (the connector's full resync)."""
    token = http.post(
        f"{url}/o/oauth/token", data={"grant_type": "client_credentials", **CREDS}
    ).json()["access_token"]
    devices, cursor = [], None
    while True:
        body = {"limit": 50} if cursor is None else {"limit": 50, "token": cursor}
        answer = http.post(
            f"{url}/o/api/v3.6/devices", params={"access_token": token}, json=body
        ).json()
        devices += answer["devices"]
        cursor = answer["next_token"]
        if cursor is None:
            return devices


def metaaccess_verbose_changes(http: httpx.Client, url: str) -> tuple[list[dict], list[dict]]:
    """status_changed with verbose=1 over the last day, every page: the monitored devices
    (full network detail) and the deleted ones."""
    token = http.post(
        f"{url}/o/oauth/token", data={"grant_type": "client_credentials", **CREDS}
    ).json()["access_token"]
    monitored, deleted, page = [], [], 1
    while True:
        response = http.post(
            f"{url}/o/api/v3/devices/status_changed",
            params={"access_token": token},
            json={"verbose": 1, "limit": 50, "page": page},
        )
        if response.status_code == 413:
            return monitored, deleted
        monitored += response.json()["monitored_devices"]
        deleted += response.json()["deleted_devices"]
        page += 1


@pytest.mark.parametrize("seed", [3, 29])
def test_laptops_share_mac_and_hostname_across_7signal_and_metaaccess(
    serve, client, seed: int
) -> None:
    seven = serve("7signal", seed=seed, devices=DEVICES, clock=SimClock(EPOCH, speed=1e-9))
    meta = serve("metaaccess", seed=seed, devices=DEVICES, clock=SimClock(EPOCH, speed=1e-9))
    meta_url = meta.url
    client.put(f"{meta_url}/_emulator/ratelimit", json={"enabled": False})

    agents = {a["mac"]: a for a in seven_signal_agents(client, seven.url)}
    devices = {d["network_info"][0]["mac"]: d for d in metaaccess_devices(client, meta_url)}
    assert len(agents) == len(seven_signal_agents(client, seven.url))  # MACs are unique
    shared = set(agents) & set(devices)

    # 8 in 10 endpoints are laptops with both agents (phones run only 7SIGNAL, desktops only
    # MetaAccess); a few laptops may have been deleted from MetaAccess by the scenario.
    assert len(shared) >= 0.7 * DEVICES
    assert len(shared) >= 0.8 * min(len(agents), len(devices))
    for mac in shared:
        assert agents[mac]["name"] == devices[mac]["host_name"], mac
        assert devices[mac]["device_type"] == "laptop"
        assert agents[mac]["platform"] != "android"
    # the join works from either key: a hostname names the same MAC on both sides
    by_name = {d["host_name"]: mac for mac, d in devices.items()}
    for mac in shared:
        assert by_name[agents[mac]["name"]] == mac

    # the verbose status-change detail carries the same pairs, deleted devices included
    monitored, deleted = metaaccess_verbose_changes(client, meta_url)
    assert monitored
    for device in monitored + deleted:
        mac = device["network_info"][0]["mac"]
        if mac in agents:
            assert agents[mac]["name"] == device["device_name"], mac

    # what only one vendor sees: phones (7SIGNAL only), laptops MetaAccess deleted, desktops
    # and devices enrolled in MetaAccess after the fleet was built (hostnames "…-N0001")
    gone = {d["network_info"][0]["mac"] for d in deleted}
    for mac in set(agents) - set(devices):
        assert agents[mac]["platform"] == "android" or mac in gone, agents[mac]
    for mac in set(devices) - set(agents):
        device = devices[mac]
        assert device["device_type"] == "desktop" or re.search(r"-N\d{4}$", device["host_name"])
