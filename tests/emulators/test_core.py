"""Tests of the shared emulator core (faults, counters, clock, control API, CLI).

The 7SIGNAL emulator is the vehicle: any vendor would do, and it has tokens to expire and a
rate limiter to trip. Everything runs over real HTTP on 127.0.0.1.
"""

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.faults import KINDS
from fleetwatch.emulators.server import EmulatorServer, free_port

EPOCH = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
SPRING_KEYS = ["timestamp", "path", "status", "error", "requestId", "message"]


def frozen_clock() -> SimClock:
    """A clock that only moves when told to (1 simulated second per 31 real years)."""
    return SimClock(EPOCH, speed=1e-9)


class Emu:
    """One running 7SIGNAL emulator with a token, plus control-API helpers."""

    def __init__(self, server, http: httpx.Client) -> None:
        self.server, self.http, self.url = server, http, server.url
        self.reauth()

    def reauth(self) -> None:
        response = self.http.post(
            f"{self.url}/oauth2/token", data={"grant_type": "client_credentials", **CREDS}
        )
        self.auth = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(self.url + path, headers=self.auth, **kwargs)

    def control(self, method: str, path: str, body=None, **kwargs) -> httpx.Response:
        return self.http.request(method, f"{self.url}/_emulator/{path}", json=body, **kwargs)

    def fault(self, **spec) -> dict:
        response = self.control("POST", "faults", spec)
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def emu(serve, client) -> Emu:
    """A small emulator on a frozen clock; rate limiting off so only faults cause 429s."""
    server = serve("7signal", seed=5, devices=50, clock=frozen_clock())
    emulator = Emu(server, client)
    assert emulator.control("PUT", "ratelimit", {"enabled": False}).status_code == 200
    return emulator


@pytest.fixture(scope="module")
def still() -> Emu:
    """One emulator shared by the tests that change nothing (saves starting a server each)."""
    server = EmulatorServer("7signal", seed=5, devices=50, clock=frozen_clock()).start()
    try:
        with httpx.Client(timeout=10) as http:
            emulator = Emu(server, http)
            assert emulator.control("PUT", "ratelimit", {"enabled": False}).status_code == 200
            yield emulator
    finally:
        server.stop()


def assert_healthy(emu: Emu) -> None:
    """The emulator still answers normally and no fault is left pending."""
    response = emu.get("/eyes/agents")
    assert response.status_code == 200
    assert response.json()["pagination"]["total"] > 0


# --- every fault kind --------------------------------------------------------------------------
def check_http_500(emu: Emu) -> None:
    emu.fault(kind="http_500")
    response = emu.get("/eyes/agents")
    assert response.status_code == 500
    body = response.json()
    assert list(body) == SPRING_KEYS and body["status"] == 500 and body["path"] == "/eyes/agents"


def check_http_503(emu: Emu) -> None:
    emu.fault(kind="http_503")
    response = emu.get("/incidents/agents")
    assert response.status_code == 503
    body = response.json()
    assert list(body) == SPRING_KEYS and body["error"] == "Service Unavailable"


def check_slow(emu: Emu) -> None:
    emu.fault(kind="slow", delay=0.3)
    started = time.monotonic()
    response = emu.get("/eyes/agents")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and response.json()["results"]


def check_timeout(emu: Emu) -> None:
    emu.fault(kind="timeout", delay=0.6)
    with pytest.raises(httpx.TimeoutException):
        emu.get("/eyes/agents", timeout=0.2)


def check_malformed_json(emu: Emu) -> None:
    emu.fault(kind="malformed_json")
    response = emu.get("/eyes/agents")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def check_truncated_json(emu: Emu) -> None:
    emu.fault(kind="truncated_json")
    cut = emu.get("/eyes/agents")
    assert cut.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        cut.json()
    whole = emu.get("/eyes/agents").content  # the clock is frozen: same body
    assert 0 < len(cut.content) < len(whole) and whole.startswith(cut.content)


def check_rate_limit(emu: Emu) -> None:
    emu.fault(kind="rate_limit", count=3)
    for _ in range(3):
        response = emu.get("/eyes")
        assert response.status_code == 429 and response.content == b""
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert "X-RateLimit-Replenish-Rate" in response.headers
        assert "retry-after" not in response.headers


def check_drop_connection(emu: Emu) -> None:
    emu.fault(kind="drop_connection")
    with pytest.raises(httpx.TransportError):
        emu.get("/eyes/agents")


def check_expire_credentials(emu: Emu) -> None:
    created = emu.fault(kind="expire_credentials")
    assert created["kind"] == "expire_credentials"
    assert emu.control("GET", "faults").json() == {"faults": []}  # applied at once
    response = emu.get("/eyes/agents")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert emu.get("/incidents/agents").status_code == 401  # until re-auth, not just once
    emu.reauth()


FAULT_CHECKS: dict[str, Callable[[Emu], None]] = {
    "http_500": check_http_500,
    "http_503": check_http_503,
    "slow": check_slow,
    "timeout": check_timeout,
    "malformed_json": check_malformed_json,
    "truncated_json": check_truncated_json,
    "rate_limit": check_rate_limit,
    "drop_connection": check_drop_connection,
    "expire_credentials": check_expire_credentials,
}


def test_every_fault_kind_has_a_check() -> None:
    assert set(FAULT_CHECKS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(FAULT_CHECKS))
def test_fault_then_the_emulator_keeps_serving(emu: Emu, kind: str) -> None:
    FAULT_CHECKS[kind](emu)
    assert emu.control("GET", "faults").json() == {"faults": []}
    assert_healthy(emu)


# --- fault scope: counts, time spans, paths ----------------------------------------------------
def test_count_limited_fault_hits_exactly_that_many_requests(emu: Emu) -> None:
    emu.fault(kind="http_503", count=3)
    assert emu.get("/eyes").status_code == 503
    [pending] = emu.control("GET", "faults").json()["faults"]
    assert (pending["remaining"], pending["applied"]) == (2, 1)
    assert [emu.get("/eyes").status_code for _ in range(3)] == [503, 503, 200]


def test_time_span_fault_lasts_for_its_seconds(emu: Emu) -> None:
    emu.fault(kind="http_500", seconds=0.5)
    [pending] = emu.control("GET", "faults").json()["faults"]
    assert pending["remaining"] is None and 0 < pending["seconds_left"] <= 0.5
    assert [emu.get("/eyes").status_code for _ in range(4)] == [500] * 4
    time.sleep(0.55)
    assert emu.get("/eyes").status_code == 200
    assert emu.control("GET", "faults").json() == {"faults": []}


def test_path_scoping_spares_other_paths_and_the_control_api(emu: Emu) -> None:
    emu.fault(kind="http_500", path="/incidents", count=5)
    assert emu.get("/eyes/agents").status_code == 200
    assert emu.control("GET", "truth").status_code == 200
    assert emu.get("/incidents/agents").status_code == 500
    [pending] = emu.control("GET", "faults").json()["faults"]
    assert pending["path"] == "/incidents" and pending["applied"] == 1


def test_faults_can_be_cleared(emu: Emu) -> None:
    emu.fault(kind="http_500", count=10)
    assert emu.control("DELETE", "faults").json() == {"faults": []}
    assert emu.get("/eyes").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "meteor"}, "kind"),
        ({}, "kind"),
        ({"kind": "http_500", "count": 0}, "count"),
        ({"kind": "http_500", "count": "3"}, "count"),
        ({"kind": "http_500", "count": True}, "count"),
        ({"kind": "http_500", "seconds": -1}, "seconds"),
        ({"kind": "slow", "delay": 601}, "delay"),
        ({"kind": "http_500", "path": "eyes"}, "path"),
        ({"kind": "http_500", "colour": "red"}, "colour"),
        ([1, 2], "body"),
    ],
)
def test_bad_fault_is_a_400_naming_the_field(still: Emu, body, field: str) -> None:
    response = still.control("POST", "faults", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field and error["message"]
    assert still.control("GET", "faults").json() == {"faults": []}


def test_body_that_is_not_json_is_a_400(still: Emu) -> None:
    response = still.control("POST", "faults", content=b"{kind: http_500")
    assert response.status_code == 400 and response.json()["error"]["field"] == "body"


# --- counters ----------------------------------------------------------------------------------
def test_counters_per_endpoint_include_rejections_and_reset(emu: Emu) -> None:
    emu.control("DELETE", "counters")
    emu.control("PUT", "ratelimit", {"enabled": True, "burst": 2, "replenish_rate": 0.001})
    statuses = [emu.get("/eyes").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    emu.fault(kind="http_500")
    emu.get("/eyes/agents")
    emu.get("/no/such/path")
    emu.control("GET", "truth")  # the control API is not counted
    counters = emu.control("GET", "counters").json()
    assert counters["total"] == 5 and counters["rate_limited"] == 1
    endpoints = counters["endpoints"]
    assert endpoints["GET /eyes"] == {"total": 3, "statuses": {"200": 2, "429": 1}}
    assert endpoints["GET /eyes/agents"] == {"total": 1, "statuses": {"500": 1}}
    assert endpoints["GET (unmatched)"]["statuses"] == {"404": 1}
    emu.get(f"/eyes/agents/{'0' * 8}")  # counted under the route template, not the raw path
    assert "GET /eyes/agents/{agent_id}" in emu.control("GET", "counters").json()["endpoints"]
    reset = emu.control("DELETE", "counters").json()
    assert reset == {"total": 0, "rate_limited": 0, "endpoints": {}}


def test_storm_429s_are_counted_as_rate_limited(emu: Emu) -> None:
    emu.fault(kind="rate_limit", count=4)
    for _ in range(4):
        emu.get("/incidents/agents")
    counters = emu.control("GET", "counters").json()
    assert counters["rate_limited"] == 4
    assert counters["endpoints"]["GET /incidents/agents"]["statuses"] == {"429": 4}


# --- clock -------------------------------------------------------------------------------------
def test_clock_advances_and_refuses_to_go_back(emu: Emu) -> None:
    clock = emu.control("GET", "clock").json()
    assert clock["epoch"] == EPOCH.isoformat() and clock["speed"] == 1e-9
    moved = emu.control("POST", "clock/advance", {"seconds": 5400}).json()
    jump = datetime.fromisoformat(moved["now"]) - datetime.fromisoformat(clock["now"])
    assert jump.total_seconds() == pytest.approx(5400, abs=0.01)
    assert moved["elapsed_seconds"] == pytest.approx(5400, abs=0.01)
    for bad in (-1, "soon", True, None):
        response = emu.control("POST", "clock/advance", {"seconds": bad})
        assert response.status_code == 400 and response.json()["error"]["field"] == "seconds"
    assert emu.control("GET", "clock").json()["elapsed_seconds"] == pytest.approx(5400, abs=0.01)


def test_advancing_the_clock_runs_the_scenario(emu: Emu) -> None:
    before = emu.get("/incidents/agents").json()["range"]
    emu.control("POST", "clock/advance", {"seconds": 3600})
    after = emu.get("/incidents/agents").json()["range"]
    assert after["to"] - before["to"] == 3_600_000


def test_same_seed_and_epoch_replay_the_same_timeline(serve, client) -> None:
    servers = [
        Emu(serve("7signal", seed=11, devices=120, clock=frozen_clock()), client) for _ in range(2)
    ]
    other = Emu(serve("7signal", seed=12, devices=120, clock=frozen_clock()), client)

    def snapshot(emu: Emu) -> tuple:
        return (
            emu.get("/eyes/agents", params={"perPage": 250}).json(),
            emu.get("/incidents/agents").json(),
            emu.control("GET", "truth").json(),
        )

    assert snapshot(servers[0]) == snapshot(servers[1])
    for emu in (*servers, other):
        emu.control("POST", "clock/advance", {"seconds": 6 * 3600 + 17})
    first, second = snapshot(servers[0]), snapshot(servers[1])
    assert first == second
    assert first[1]["results"] and first[1]["range"]["to"] > 0
    assert snapshot(other)[1] != first[1]  # the seed matters, so the comparison can fail


# --- unknown paths, methods, index -------------------------------------------------------------
@pytest.mark.parametrize("authorized", [True, False])
def test_unknown_path_is_a_spring_404(still: Emu, authorized: bool) -> None:
    headers = still.auth if authorized else {}
    response = still.http.get(f"{still.url}/eyes/sensors/nope/x", headers=headers)
    assert response.status_code == 404
    body = response.json()
    assert list(body) == SPRING_KEYS
    assert (body["status"], body["error"], body["path"]) == (
        404,
        "Not Found",
        "/eyes/sensors/nope/x",
    )


def test_wrong_method_is_a_spring_405(still: Emu) -> None:
    response = still.http.delete(f"{still.url}/eyes/agents", headers=still.auth)
    assert response.status_code == 405 and list(response.json()) == SPRING_KEYS


def test_control_index_lists_endpoints_actions_and_fault_kinds(still: Emu) -> None:
    index = still.control("GET", "").json()
    assert index["vendor"] == "7signal"
    assert index["fault_kinds"] == KINDS
    assert "GET|POST|DELETE /_emulator/faults" in index["endpoints"]
    assert set(index["actions"]) == {"create_incident", "end_incident"}
    assert still.control("GET", "nope").status_code == 404


# --- the command line --------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_serves_the_emulator_until_terminated() -> None:
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("fleetwatch")),
        "emulate",
        "7signal",
        "--port",
        str(port),
        "--devices",
        "40",
        "--json",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            token = http.post(
                "/oauth2/token", data={"grant_type": "client_credentials", **CREDS}
            ).json()["access_token"]
            eyes = http.get("/eyes", headers={"Authorization": f"Bearer {token}"})
            assert eyes.status_code == 200
            assert eyes.json()["agents"]["deviceCount"] == 36  # 9 in 10 devices run the agent
        summary = json.loads(process.stdout.readline())
        assert summary["7signal"]["url"] == f"http://127.0.0.1:{port}"
        assert summary["7signal"]["credentials"] == CREDS
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode is not None
