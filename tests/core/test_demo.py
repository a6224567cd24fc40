"""``fleetwatch demo`` end to end: open incidents from all three vendors within 60 s, and
nothing left running after it is stopped."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.standalone


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


def test_demo_feeds_the_hub_from_all_three_vendors(tmp_path: Path):
    hub_port, *emulator_ports = free_ports(4)
    env = {**os.environ, "FLEETWATCH_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)  # the demo is the SQLite set-up
    demo = subprocess.Popen(
        [sys.executable, "-m", "fleetwatch", "demo", "--port", str(hub_port),
         "--emulator-port", str(emulator_ports[0]), "--interval", "5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{hub_port}"
    try:
        deadline = time.monotonic() + 90
        token = None
        while token is None and time.monotonic() < deadline:
            password_file = tmp_path / "demo-admin-password"
            try:
                if password_file.exists():
                    answer = httpx.post(
                        f"{base}/api/v2/token-auth/",
                        json={"username": "admin", "password": password_file.read_text()},
                    )
                    token = answer.json().get("token") if answer.status_code == 200 else None
            except httpx.HTTPError:
                pass
            assert demo.poll() is None, demo.stdout.read()
            time.sleep(0.5)
        assert token, "the hub never came up"
        started = time.monotonic()
        counts: dict[str, int] = {}
        while time.monotonic() - started < 60:
            counts = {
                vendor: httpx.get(
                    f"{base}/api/v2/incidents/",
                    params={"open": "true", "source__type__in": vendor, "count": ""},
                    headers={"Authorization": f"Token {token}"},
                ).json()["count"]
                for vendor in ("7signal", "metaaccess", "sensaphone")
            }
            if all(counts.values()):
                break
            time.sleep(2)
        assert all(counts.values()), counts
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(30)
    time.sleep(1)
    assert not any(port_in_use(p) for p in (hub_port, *emulator_ports))
