"""Connectors are tested against the emulators over real HTTP on 127.0.0.1."""

import httpx
import pytest

from fleetwatch.connectors.engine import run_poll
from fleetwatch.connectors.services import create_connector
from fleetwatch.emulators.server import EmulatorServer

# Retries fast enough for tests; the backoff shape is the production one.
FAST_RETRY = {"base_delay": 0.01, "max_delay": 0.05, "default_rate_limit_wait": 0.05}


@pytest.fixture
def make_connector(db):
    """A connector pointed at an emulator, with the emulator's demo credentials."""

    def make(server: EmulatorServer, name: str | None = None, **options):
        vendor = server.emulator.name
        settings = {"retry": FAST_RETRY, **options}
        return create_connector(
            name=name or f"{vendor}-test",
            vendor=vendor,
            base_url=server.url,
            credentials=server.emulator.credentials(),
            poll_interval=60,
            options=settings,
        )

    return make


@pytest.fixture
def poll():
    def run(connector) -> dict:
        return run_poll(connector.pk).as_dict()

    return run


class Control:
    """The emulator's /_emulator/ API, for driving scenarios and reading the ground truth."""

    def __init__(self, server: EmulatorServer) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def truth(self) -> dict:
        return self.http.get("/_emulator/truth").raise_for_status().json()

    def act(self, action: str, **params) -> dict:
        return (
            self.http.post("/_emulator/scenario", json={"action": action, **params})
            .raise_for_status()
            .json()
        )

    def fault(self, kind: str, **spec) -> dict:
        return (
            self.http.post("/_emulator/faults", json={"kind": kind, **spec})
            .raise_for_status()
            .json()
        )

    def clear_faults(self) -> None:
        self.http.delete("/_emulator/faults").raise_for_status()

    def advance(self, seconds: float) -> None:
        self.http.post("/_emulator/clock/advance", json={"seconds": seconds}).raise_for_status()

    def ratelimit(self, **settings) -> dict:
        if settings:
            return self.http.put("/_emulator/ratelimit", json=settings).raise_for_status().json()
        return self.http.get("/_emulator/ratelimit").raise_for_status().json()

    def counters(self) -> dict:
        return self.http.get("/_emulator/counters").raise_for_status().json()


@pytest.fixture
def control():
    clients: list[Control] = []

    def make(server: EmulatorServer) -> Control:
        c = Control(server)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.http.close()


def database_url() -> str:
    """The URL of the test database this process uses, for worker subprocesses."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker_env(tmp_path):
    """Environment for a ``fleetwatch`` subprocess sharing this test's database."""
    import os

    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        FLEETWATCH_DATA_DIR=str(tmp_path),
        FLEETWATCH_CONNECTOR_LEASE_SECONDS="5",
        FLEETWATCH_SCHEDULER_INTERVAL="0.5",
    )
    # Same encryption key as this process, or the worker could not read the credentials.
    from django.conf import settings

    key_file = settings.DATA_DIR / "encryption_key"
    if "FLEETWATCH_ENCRYPTION_KEY" not in env and key_file.exists():
        env["FLEETWATCH_ENCRYPTION_KEY"] = key_file.read_text().strip()
    return env
