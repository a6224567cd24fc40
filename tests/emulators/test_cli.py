"""``fleetwatch emulate`` as a user runs it: a subprocess, its printed URLs, signals, exit codes.

Also: importing every emulator module loads no Django (the emulators are Starlette only).
"""

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

# Every test here runs `fleetwatch emulate` (or Python) as a subprocess.
pytestmark = pytest.mark.slow

FLEETWATCH = str(Path(sys.executable).with_name("fleetwatch"))
SEVEN_CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
MA_CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
SP_CREDS = {"user_name": "demo@fleetwatch.local", "password": "demo-password"}
LINE = re.compile(r"^\s+(7signal|metaaccess|sensaphone)\s+(http://\S+)\s+(\S.*)$")


class Emulate:
    """``fleetwatch emulate ARGS`` in a subprocess, its stdout read line by line off a thread."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [FLEETWATCH, "emulate", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def readline(self, timeout: float = 60) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the emulators printed nothing in time") from None
        assert line is not None, f"the emulators exited: {self.process.stderr.read()}"
        return line

    def summary(self) -> dict:
        """The human-readable start-up lines parsed into ``{vendor: {url, credentials}}``."""
        found = {}
        while True:
            line = self.readline()
            if line.startswith("Control API"):
                return found
            match = LINE.match(line)
            if match:
                vendor, url, creds = match.groups()
                pairs = (pair.split("=", 1) for pair in creds.split(", "))
                found[vendor] = {"url": url, "credentials": dict(pairs)}

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the emulators ignored signal {sig}") from None

    def __enter__(self) -> "Emulate":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()


def seven_token(http: httpx.Client, url: str, credentials: dict) -> dict:
    response = http.post(
        f"{url}/oauth2/token", data={"grant_type": "client_credentials", **credentials}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def metaaccess_token(http: httpx.Client, url: str, credentials: dict) -> dict:
    response = http.post(
        f"{url}/o/oauth/token", data={"grant_type": "client_credentials", **credentials}
    )
    assert response.status_code == 200, response.text
    return {"access_token": response.json()["access_token"]}


def sensaphone_session(http: httpx.Client, url: str, credentials: dict) -> str:
    answer = http.post(
        f"{url}/api/v1/login", json={"request_type": "create", "resource": "login", **credentials}
    ).json()
    assert answer["result"]["success"], answer
    return f"/api/v1/{answer['response']['acctid']}/{answer['response']['session']}"


# --- `all` on free ports, --speed, and a clean stop on SIGINT / SIGTERM -------------------------
@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_emulate_all_on_free_ports_runs_fast_and_stops_cleanly(stop_with: int) -> None:
    speed = 600
    args = ("all", "--port", "0", "--seed", "7", "--devices", "60", "--speed", str(speed))
    with Emulate(*args) as emulate, httpx.Client(timeout=10) as http:
        summary = emulate.summary()
        assert set(summary) == {"7signal", "metaaccess", "sensaphone"}
        ports = set()
        for info in summary.values():
            match = re.match(r"^http://127\.0\.0\.1:(\d+)$", info["url"])
            assert match, info["url"]
            ports.add(int(match.group(1)))
        assert len(ports) == 3 and 0 not in ports  # three real ports the OS chose
        seven, meta, sensa = (summary[v] for v in ("7signal", "metaaccess", "sensaphone"))
        assert seven["credentials"] == SEVEN_CREDS
        assert meta["credentials"] == MA_CREDS
        assert sensa["credentials"] == SP_CREDS

        # each answers its own login with the printed credentials
        auth = seven_token(http, seven["url"], seven["credentials"])
        assert http.get(seven["url"] + "/eyes", headers=auth).json()["agents"]["deviceCount"] > 0
        token = metaaccess_token(http, meta["url"], meta["credentials"])
        account = http.get(meta["url"] + "/o/api/v2/account", params=token)
        assert account.status_code == 200 and account.json()["devices_used"] > 0
        base = sensaphone_session(http, sensa["url"], sensa["credentials"])
        devices = http.get(sensa["url"] + base + "/device").json()
        assert devices["result"]["success"] and devices["response"]["device"]

        # one simulated clock for the three, running `speed` times faster than real time
        clocks = [http.get(info["url"] + "/_emulator/clock").json() for info in summary.values()]
        assert {c["speed"] for c in clocks} == {speed}
        assert len({c["epoch"] for c in clocks}) == 1
        url = seven["url"]
        real_0, sim_0 = time.monotonic(), http.get(url + "/_emulator/clock").json()
        to_0 = http.get(url + "/incidents/agents", headers=auth).json()["range"]["to"]
        time.sleep(1.0)
        sim_1 = http.get(url + "/_emulator/clock").json()
        to_1 = http.get(url + "/incidents/agents", headers=auth).json()["range"]["to"]
        real = time.monotonic() - real_0
        simulated = sim_1["elapsed_seconds"] - sim_0["elapsed_seconds"]
        assert 0.8 * speed <= simulated / real <= 1.25 * speed
        assert (to_1 - to_0) / 1000 >= 0.8 * speed  # what the vendor API shows moves as fast

        assert emulate.stop(stop_with) == 0
        assert "Traceback" not in emulate.process.stderr.read()
    for port in ports:  # every listener is gone
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


# --- same seed, same fleet ---------------------------------------------------------------------
SEVEN_STABLE = ("id", "name", "mac", "platform", "model", "lastSsid", "lastDefinedLocationId")


def fleet_snapshot(summary: dict) -> dict:
    """What the seed decides, read through each vendor API: first pages of devices/agents,
    and (the clock being nearly still at one epoch) the open incidents and the ground truth."""
    with httpx.Client(timeout=10) as http:
        seven, meta, sensa = (summary[v] for v in ("7signal", "metaaccess", "sensaphone"))
        auth = seven_token(http, seven["url"], seven["credentials"])
        agents = http.get(seven["url"] + "/eyes/agents", params={"perPage": 50}, headers=auth)
        incidents = http.get(seven["url"] + "/incidents/agents", headers=auth).json()
        token = metaaccess_token(http, meta["url"], meta["credentials"])
        devices = http.get(meta["url"] + "/o/api/v2.2/devices", params={**token, "limit": 50})
        base = sensaphone_session(http, sensa["url"], sensa["credentials"])
        sensors = http.get(sensa["url"] + base + "/device").json()["response"]["device"]
        return {
            "agents": [{k: a[k] for k in SEVEN_STABLE} for a in agents.json()["results"]],
            "incidents": sorted(i["id"] for i in incidents["results"]),
            "devices": [
                (d["hwid"], d["hostname"], d["network_info"][0]["mac_addr"], d["status"])
                for d in devices.json()
            ],
            "sensors": [
                (s["device_id"], s["id"], s["name"], s["timezone"], [z["name"] for z in s["zone"]])
                for s in sensors
            ],
            "truth": [
                http.get(info["url"] + "/_emulator/truth").json() for info in summary.values()
            ],
        }


def run_for_snapshot(seed: int) -> dict:
    args = ("all", "--port", "0", "--seed", str(seed), "--devices", "80", "--json")
    args += ("--speed", "0.001", "--epoch", "2026-03-10T12:00:00+00:00")
    with Emulate(*args) as emulate:
        summary = json.loads(emulate.readline())
        try:
            return fleet_snapshot(summary)
        finally:
            assert emulate.stop(signal.SIGINT) == 0


def test_same_seed_gives_the_same_fleet_across_runs() -> None:
    first, second = run_for_snapshot(11), run_for_snapshot(11)
    assert len(first["agents"]) == 50 and len(first["devices"]) == 50 and first["sensors"]
    assert first["incidents"]
    assert first == second
    other = run_for_snapshot(12)
    assert other["agents"] != first["agents"] and other["devices"] != first["devices"]


# --- bad options are refused clearly -----------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("7signal", "--port", "70000"), "--port: 70000 is not a TCP port"),
        (("7signal", "--port", "-1"), "--port: -1 is not a TCP port"),
        (("7signal", "--port", "http"), "--port: not a port number"),
        (("all", "--port", "65534"), "leaves no room for 3 consecutive ports"),
        (("all", "--speed", "0"), "--speed: must be greater than 0"),
        (("all", "--speed", "nan"), "--speed: must be greater than 0"),
        (("all", "--speed", "1e400"), "--speed: must be greater than 0"),
        (("all", "--devices", "0"), "--devices must be between 1 and 1000000"),
        (("all", "--epoch", "2026-03-10T12:00:00"), "--epoch needs a UTC offset"),
        (("all", "--epoch", "2150-01-01T00:00:00+00:00"), "--epoch must be in the years"),
        (("all", "--epoch", "tomorrow"), "--epoch: not an ISO 8601"),
    ],
)
def test_bad_options_exit_2_with_a_message(args: tuple, needle: str) -> None:
    result = subprocess.run(
        [FLEETWATCH, "emulate", *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [FLEETWATCH, "emulate", "all", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} for 7signal" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_one_vendor_on_port_0_prints_the_port_it_got() -> None:
    with Emulate("metaaccess", "--port", "0", "--devices", "20", "--json") as emulate:
        summary = json.loads(emulate.readline())
        url = summary["metaaccess"]["url"]
        assert not url.endswith(":0")
        with httpx.Client(timeout=10) as http:
            metaaccess_token(http, url, summary["metaaccess"]["credentials"])
        assert emulate.stop() == 0


# --- no Django in the emulators ----------------------------------------------------------------
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import fleetwatch.emulators as package
names = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in names:
    importlib.import_module(name)
from fleetwatch.cli import main
try:
    main(["fleetwatch", "emulate", "--help"])
except SystemExit:
    pass
print(json.dumps({
    "imported": names,
    "django": sorted(m for m in sys.modules if m == "django" or m.startswith("django.")),
}))
"""


def test_importing_every_emulator_module_loads_no_django() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    imported = set(report["imported"])
    for name in (
        "cli",
        "app",
        "server",
        "sevensignal",
        "metaaccess.emulator",
        "sensaphone.history",
    ):
        assert f"fleetwatch.emulators.{name}" in imported
    assert report["django"] == []
