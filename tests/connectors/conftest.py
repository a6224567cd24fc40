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
    """A connector pointed at an emulator (or at ``url``, e.g. a VendorProxy in front of it),
    with the emulator's demo credentials."""

    def make(server: EmulatorServer, name: str | None = None, *, url: str = "", **options):
        vendor = server.emulator.name
        settings = {"retry": FAST_RETRY, **options}
        return create_connector(
            name=name or f"{vendor}-test",
            vendor=vendor,
            base_url=url or server.url,
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


class VendorProxy:
    """A vendor that answers exactly like the emulator behind it, except where ``rewrite``
    says otherwise: for answers no emulator fault produces (valid JSON of the wrong shape).
    ``rewrite(method, path, status, body) -> (status, body) | None`` (None: pass through)."""

    def __init__(self, target: str) -> None:
        import http.server
        import threading

        self.target = target
        self.rewrite = None
        self.rewritten = 0
        proxy = self
        upstream = httpx.Client(base_url=target, timeout=30)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                answer = upstream.request(self.command, self.path, headers=headers, content=body)
                status, content = answer.status_code, answer.content
                change = proxy.rewrite and proxy.rewrite(
                    self.command, self.path.split("?")[0], status, content
                )
                if change:
                    proxy.rewritten += 1
                    status, content = change
                self.send_response(status)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.upstream = upstream

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()


@pytest.fixture
def vendor_proxy():
    started: list[VendorProxy] = []

    def make(server: EmulatorServer) -> VendorProxy:
        proxy = VendorProxy(server.url)
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
