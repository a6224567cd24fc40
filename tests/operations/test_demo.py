"""``fleetwatch demo`` end to end: it prints a URL and a login that work, the hub has open
incidents from all three vendors within 60 s, they change as the emulated fleets change, the
device inventory matches the emulators' ground truth (``/_emulator/fleet``), and nothing is
left running after it is stopped. One demo run for all of it: each costs a minute."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

# Demos run one at a time (one xdist worker): each starts a dozen processes.
pytestmark = [pytest.mark.standalone, pytest.mark.xdist_group("demo")]


def free_ports(count: int) -> list[int]:
    """``count`` consecutive free ports (the demo's emulators take three in a row)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            sockets = []
            for port in range(first, first + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return list(range(first, first + count))
    raise RuntimeError("no free ports")


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Output:
    """The demo's output, read as it comes (a full pipe would block the demo and its workers)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self.read, args=(stream,), daemon=True)
        self.thread.start()

    def read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def search(self, pattern: str) -> re.Match | None:
        return re.search(pattern, self.text, re.MULTILINE)


def wait_until(predicate, timeout: float, demo, step: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        assert demo.poll() is None, "the demo exited"
        time.sleep(step)
    return predicate()


def test_demo_feeds_the_hub_from_all_three_vendors(tmp_path: Path):
    hub_port, mail_port, *emulator_ports = free_ports(5)
    env = {**os.environ, "FLEETWATCH_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)  # the demo is the SQLite set-up
    demo = subprocess.Popen(
        [sys.executable, "-m", "fleetwatch", "demo", "--port", str(hub_port),
         "--emulator-port", str(emulator_ports[0]), "--interval", "5",
         "--mail-port", str(mail_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = Output(demo.stdout)
    base = f"http://127.0.0.1:{hub_port}"
    try:
        # It prints the URL and the login, and that login works.
        banner = wait_until(
            lambda: output.search(r"^Fleetwatch is running at (\S+)/$"), 90, demo, 0.3
        )
        assert banner, output.text
        assert banner.group(1) == base
        login = output.search(r"^  login: +admin / (\S+)$")
        assert login, output.text
        password = login.group(1)
        assert password == (tmp_path / "demo-admin-password").read_text().strip()
        answer = httpx.post(
            f"{base}/api/v2/token-auth/", json={"username": "admin", "password": password}
        )
        assert answer.status_code == 200, answer.text
        auth = {"Authorization": f"Token {answer.json()['token']}"}
        emulators = {
            m.group(1): m.group(2)
            for m in re.finditer(r"^  (\S+) +(http://\S+)  \(emulated", output.text, re.M)
        }
        assert set(emulators) == {"7signal", "metaaccess", "sensaphone"}, output.text

        def open_ids(vendor: str) -> set[str]:
            params = {"open": "true", "source__type__in": vendor, "page_size": 1000}
            page = httpx.get(f"{base}/api/v2/incidents/", params=params, headers=auth).json()
            return {i["source_incident_id"] for i in page["results"]}

        # Within 60 s, open incidents from all three vendors.
        started = time.monotonic()
        seen = wait_until(
            lambda: (ids := {v: open_ids(v) for v in emulators}) and all(ids.values()) and ids,
            60,
            demo,
            2,
        )
        assert seen and all(seen.values()), seen
        assert time.monotonic() - started < 60

        # They change as the emulated fleets change: one change per vendor, made through each
        # emulator's control API, reaches the hub within a few polls.
        def act(vendor: str, action: str, **params) -> dict:
            answer = httpx.post(
                f"{emulators[vendor]}/_emulator/scenario", json={"action": action, **params}
            )
            return answer.raise_for_status().json()

        def truth(vendor: str) -> dict:
            return httpx.get(f"{emulators[vendor]}/_emulator/truth").raise_for_status().json()

        made = act("7signal", "create_incident")["id"]
        ending = sorted(seen["7signal"] & {i["id"] for i in truth("7signal")["open_incidents"]})
        act("7signal", "end_incident", id=ending[0])
        device = sorted(
            sid.removeprefix("device:") for sid in seen["metaaccess"] if sid.startswith("device:")
        )[0]
        act("metaaccess", "set_compliance", device_id=device, status="compliant")
        alarm = next(
            a
            for a in truth("sensaphone")["open_alarms"]
            if any(
                s.startswith(f"zone:{a['device_id']}:{a['zone_id']}:") for s in seen["sensaphone"]
            )
        )
        act("sensaphone", "clear_alarm", device_id=alarm["device_id"], zone_id=alarm["zone_id"])
        zone = f"zone:{alarm['device_id']}:{alarm['zone_id']}:"

        def changed() -> dict:
            now = {v: open_ids(v) for v in emulators}
            done = {
                "7signal opened": made in now["7signal"],
                "7signal ended": ending[0] not in now["7signal"],
                "metaaccess ended": f"device:{device}" not in now["metaaccess"],
                "sensaphone ended": not any(s.startswith(zone) for s in now["sensaphone"]),
            }
            return done if all(done.values()) else None

        assert wait_until(changed, 45, demo, 2), changed() or {v: open_ids(v) for v in emulators}

        # The inventory: every vendor record the hub has sits on the device holding exactly
        # the records of its physical device (no false merge, no missed link), two-MAC
        # devices and renamed hosts included, within 90 s of the demo's start of polling.
        report = wait_until(lambda: inventory_matches(base, auth, emulators), 90, demo, 5)
        assert report, inventory_report(base, auth, emulators)
        assert report["records"] > 300 and report["two_macs"] and report["renamed"], report
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(30)
    time.sleep(1)
    assert not any(port_in_use(p) for p in (hub_port, *emulator_ports))


def hub_inventory(base: str, auth: dict) -> dict[tuple[str, str], dict]:
    """(vendor, vendor id) → {"device": hub device, "name", "macs"}, from /api/v2/devices/."""
    records: dict[tuple[str, str], dict] = {}
    url: str | None = f"{base}/api/v2/devices/?page_size=1000"
    ids = []
    while url:
        page = httpx.get(url, headers=auth, timeout=30).raise_for_status().json()
        ids += [d["pk"] for d in page["results"]]
        url = page["next"]
    for pk in ids:
        detail = httpx.get(f"{base}/api/v2/devices/{pk}/", headers=auth, timeout=30).json()
        for r in detail["records"]:
            records[(r["vendor"], r["vendor_id"])] = {
                "device": pk,
                "name": r["name"].lower(),
                "macs": r["keys"]["macs"],
                "rule": r["rule"],
            }
    return records


def partition(owner: dict) -> set[frozenset]:
    groups = defaultdict(set)
    for record, group in owner.items():
        groups[group].add(record)
    return {frozenset(g) for g in groups.values()}


def inventory_report(base: str, auth: dict, emulators: dict) -> dict:
    """The hub's devices against every emulator's ``GET /_emulator/fleet``."""
    truth, physical = {}, {}
    for vendor, url in emulators.items():
        fleet = httpx.get(f"{url}/_emulator/fleet", timeout=30).raise_for_status().json()
        physical.update(fleet["devices"])
        for record in fleet["records"]:
            truth[(vendor, str(record["id"]))] = record["device"]
    hub = hub_inventory(base, auth)
    # MetaAccess's full sync skips devices silent for days (re-imaged machines' old records):
    # what the hub has not been told of is not compared.
    truth = {record: pd for record, pd in truth.items() if record in hub}
    expected = partition(truth)
    got = partition({record: hub[record]["device"] for record in truth})
    names = defaultdict(set)
    for (vendor, _), r in hub.items():
        if vendor != "sensaphone":
            names[r["device"]].add(r["name"].split(".")[0])
    return {
        "records": len(truth),
        "false_merges": [sorted(g) for g in got - expected if len(g) > 1][:3],
        "missed": [sorted(g) for g in expected - got][:3],
        "conflicts": sum(r["rule"] == "conflict" for r in hub.values()),
        "two_macs": sum(
            len(physical.get(truth[next(iter(g))], {}).get("macs", [])) == 2 and len(g) > 1
            for g in expected
        ),
        "renamed": sum(len(n) > 1 for n in names.values()),
        "vendors": sorted({vendor for vendor, _ in truth}),
    }


def inventory_matches(base: str, auth: dict, emulators: dict) -> dict | None:
    report = inventory_report(base, auth, emulators)
    complete = report["vendors"] == sorted(emulators) and report["records"] > 300
    clean = not (report["false_merges"] or report["missed"] or report["conflicts"])
    return report if complete and clean else None


def processes_using(data_dir: Path) -> list[int]:
    """Processes whose environment names ``data_dir``: the demo's children, wherever they
    run (they start in their own sessions, so a process group says nothing)."""
    marker = f"FLEETWATCH_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def test_sigint_stops_a_demo_started_with_sigint_ignored(tmp_path: Path):
    """``nohup make demo &`` starts the demo with SIGINT ignored, which Python keeps ignored
    unless told otherwise: the demo handles it explicitly, stops its workers and hub before
    its emulators, and leaves nothing running."""
    hub_port, mail_port, *emulator_ports = free_ports(5)
    env = {**os.environ, "FLEETWATCH_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "fleetwatch", "demo", "--port", str(hub_port),
         "--emulator-port", str(emulator_ports[0]), "--interval", "5",
         "--mail-port", str(mail_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    output = Output(demo.stdout)
    try:
        banner = wait_until(
            lambda: output.search(r"^Fleetwatch is running at (\S+)/$"), 90, demo, 0.3
        )
        assert banner, output.text
        assert len(processes_using(tmp_path)) >= 5  # demo, emulators, 2 workers, hub
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0, output.text
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    output.thread.join(10)
    assert "Stopping..." in output.text
    assert not processes_using(tmp_path), output.text
    assert not any(port_in_use(p) for p in (hub_port, *emulator_ports))
    # The workers went before the emulators: none of them failed a poll on the way out.
    after_stop = output.text.split("Stopping...", 1)[1]
    assert "poll failed" not in after_stop and "ConnectError" not in after_stop, after_stop
