"""The fleet is linked across vendors, seen through the two vendor APIs over HTTP, and
``GET /_emulator/fleet`` tells the truth about it.

Laptops run both a 7SIGNAL agent and a MetaAccess agent; the device inventory joins the two on
MAC address and hostname. Both emulators, started apart with the same seed and fleet size (as
``fleetwatch emulate all`` does), describe the same laptops — untidily, as a real estate does:
docked laptops have a wired MAC only MetaAccess reports, renamed ones keep their old name in
one vendor, re-imaged ones leave an old, silent record with the same MAC. ``/_emulator/fleet``
names, for every record each emulator serves, the physical device it belongs to.
"""

import re
from collections import defaultdict
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


def fleet_truth(http: httpx.Client, url: str) -> dict:
    return http.get(f"{url}/_emulator/fleet").raise_for_status().json()


def assert_records_as_served(
    agents: dict, devices: dict, seven_records: dict, meta_records: dict, physical: dict
) -> None:
    """Each truth record is as the API shows it, and its MACs are its physical device's."""
    for agent_id, agent in agents.items():
        record = seven_records[agent_id]
        assert (record["name"], record["macs"]) == (agent["name"], [agent["mac"]])
    for device_id, device in devices.items():
        record = meta_records[device_id]
        assert record["name"] == device["host_name"]
        assert record["macs"] == [n["mac"] for n in device["network_info"]]
    for record in [*seven_records.values(), *meta_records.values()]:
        assert set(record["macs"]) <= set(physical[record["device"]]["macs"]), record


def assert_untidy(both: dict, physical: dict) -> None:
    """Wired machines (two MACs, listed differently by the vendors) and renamed hosts."""
    wired = [d for d in both if len(physical[d]["macs"]) == 2]
    assert wired
    for device in wired:  # MetaAccess lists the wired adapter first; 7SIGNAL only the Wi-Fi one
        meta_macs = both[device]["metaaccess"][0]["macs"]
        assert meta_macs == physical[device]["macs"][::-1]
        assert both[device]["7signal"][0]["macs"] == [physical[device]["macs"][0]]
    renamed = [
        d
        for d, v in both.items()
        if {r["name"] for r in v["7signal"]} != {r["name"] for r in v["metaaccess"]}
    ]
    assert renamed
    for device in renamed:
        names = {r["name"] for v in both[device].values() for r in v}
        assert physical[device]["hostname"] in names and any(
            n.startswith("DESKTOP-") for n in names
        )


def mac_collisions(seven_records: dict, meta_records: dict) -> dict[str, list[str]]:
    """Per vendor, the MACs several records share: always one machine, re-imaged."""
    collided: dict[str, list[str]] = {}
    for vendor, records in (("7signal", seven_records), ("metaaccess", meta_records)):
        owners: dict[str, set[str]] = defaultdict(set)
        ids: dict[str, list[str]] = defaultdict(list)
        for record in records.values():
            for mac in record["macs"]:
                owners[mac].add(record["device"])
                ids[mac].append(record["id"])
        collisions = [mac for mac, found in ids.items() if len(found) > 1]
        assert collisions, vendor
        assert all(len(owners[mac]) == 1 for mac in collisions)  # one machine, re-imaged
        collided[vendor] = collisions
    return collided


@pytest.mark.parametrize("seed", [3, 29])
def test_fleet_truth_names_the_physical_device_of_every_record(serve, client, seed: int) -> None:
    seven = serve("7signal", seed=seed, devices=DEVICES, clock=SimClock(EPOCH, speed=1e-9))
    meta = serve("metaaccess", seed=seed, devices=DEVICES, clock=SimClock(EPOCH, speed=1e-9))
    client.put(f"{meta.url}/_emulator/ratelimit", json={"enabled": False})
    agents = {a["id"]: a for a in seven_signal_agents(client, seven.url)}
    devices = {d["device_id"]: d for d in metaaccess_devices(client, meta.url)}
    seven_truth, meta_truth = fleet_truth(client, seven.url), fleet_truth(client, meta.url)
    assert seven_truth["vendor"] == "7signal" and meta_truth["vendor"] == "metaaccess"

    # every record served is in the truth, as the API shows it, and names a real device
    seven_records = {r["id"]: r for r in seven_truth["records"]}
    meta_records = {r["id"]: r for r in meta_truth["records"]}
    assert set(seven_records) == set(agents)
    assert set(devices) == {i for i, r in meta_records.items() if not r["deleted"]}
    physical = {**seven_truth["devices"], **meta_truth["devices"]}
    assert_records_as_served(agents, devices, seven_records, meta_records, physical)

    # the estate is untidy: two MACs, renamed hosts, MAC collisions from re-imaged machines
    by_device: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for vendor, records in (("7signal", seven_records), ("metaaccess", meta_records)):
        for record in records.values():
            by_device[record["device"]][vendor].append(record)
    both = {d: v for d, v in by_device.items() if len(v) == 2}
    assert len(both) >= 0.7 * DEVICES
    assert_untidy(both, physical)
    collided = mac_collisions(seven_records, meta_records)
    silent = [a for a in agents.values() if a["mac"] in collided["7signal"]]
    assert min(a["lastSeen"] for a in silent) < EPOCH.timestamp() * 1000  # the old agent

    # the join the inventory makes: a Wi-Fi MAC names the same machine on both sides
    for device, vendors in both.items():
        seven_macs = {m for r in vendors["7signal"] for m in r["macs"]}
        meta_macs = {m for r in vendors["metaaccess"] for m in r["macs"]}
        assert seven_macs <= meta_macs, device


@pytest.mark.parametrize("seed", [3])
def test_verbose_status_changes_name_the_same_machines(serve, client, seed: int) -> None:
    """The verbose status-change detail (deleted devices included) agrees with the truth."""
    meta = serve("metaaccess", seed=seed, devices=DEVICES, clock=SimClock(EPOCH, speed=1e-9))
    client.put(f"{meta.url}/_emulator/ratelimit", json={"enabled": False})
    records = {r["id"]: r for r in fleet_truth(client, meta.url)["records"]}
    monitored, deleted = metaaccess_verbose_changes(client, meta.url)
    assert monitored
    for device in monitored:
        record = records[device["device_id"]]
        assert device["device_name"] == record["name"]
        assert [n["mac"] for n in device["network_info"]] == record["macs"]
    for device in deleted:
        assert records[device["device_id"]]["deleted"]
    enrolled = [r for r in records.values() if re.search(r"-N\d{4}$", r["name"])]
    assert all(r["device"].startswith("pd-n") for r in enrolled)
