"""The shared connector layer end to end: leases, a killed worker, the scheduler, real worker
processes sharing a strict vendor limit, health incidents, secrets.

Waits are for events (the emulator's request counters, rows in the database), never fixed
real-time sleeps; only a lease running out takes the time it takes."""

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fleetwatch.connectors.engine import run_poll, take_lease
from fleetwatch.connectors.models import Connector, ConnectorState, RateLimitSlot
from fleetwatch.connectors.tasks import schedule_due
from fleetwatch.emulators.clock import SimClock
from fleetwatch.incidents.models import Event, Incident


def truth_open(ctl) -> set[str]:
    return {i["id"] for i in ctl.truth()["open_incidents"]}


def wait_for(predicate, timeout=20.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def vendor_requests(ctl, endpoint: str) -> int:
    """Requests the emulator has answered on ``endpoint`` (e.g. ``GET /eyes/agents``)."""
    return ctl.counters()["endpoints"].get(endpoint, {}).get("total", 0)


def faults_pending(ctl) -> int:
    """Faults not yet used up: a counted fault leaves the list when a request arrives and
    takes it (so a request held by a ``slow`` fault has arrived once this drops)."""
    return len(ctl.http.get("/_emulator/faults").raise_for_status().json()["faults"])


def fleetwatch(*args, env):
    """A ``fleetwatch`` subprocess writing its output to a file in the test's data directory
    (``output(process)`` reads it). Not a pipe: nobody reads a pipe while the test waits, and
    a worker that logs more than its 64 KB buffer blocks on its next log line."""
    log = Path(env["FLEETWATCH_DATA_DIR"]) / f"fleetwatch-{time.monotonic_ns()}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fleetwatch", *args], env=env, stdout=sink, stderr=sink
        )
    process.log = log
    return process


def output(process) -> str:
    """The last lines a ``fleetwatch`` subprocess wrote, for a failure's message."""
    return "\n".join(process.log.read_text(errors="replace").splitlines()[-40:])


@pytest.fixture
def seven(emulator, make_connector, control):
    server = emulator("7signal", seed=5, devices=40)
    return server, make_connector(server), control(server)


def test_a_held_lease_skips_the_poll(seven, poll):
    _, connector, _ = seven
    assert take_lease(connector.pk, "someone-else")
    assert poll(connector) == {
        "status": "skipped",
        "reason": "another poll of this connector is running",
    }
    assert not Incident.objects.filter(source=connector.source).exists()


def stop(process) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_killed_mid_poll_is_taken_over_by_another_after_its_lease(seven, worker_env):
    """A ``fleetwatch worker`` is SIGKILLed while its poll waits on the vendor. Nothing is
    stored, and a poll meanwhile is skipped rather than doubled: the connector stays blocked
    until the dead worker's lease (5 s here) runs out; then another worker's scheduler polls it
    again, and the hub matches the vendor — the new incident opened, the ended one ended, once
    each, no incident twice."""
    _, connector, ctl = seven
    assert run_poll(connector.pk).status == "ok"
    Connector.objects.filter(pk=connector.pk).update(poll_interval=1)
    ConnectorState.objects.filter(pk=connector.pk).update(next_run_at=None)  # due now
    made = ctl.act("create_incident")
    ending = sorted(connector.open_incident_ids() & truth_open(ctl))[0]
    ctl.act("end_incident", id=ending)
    ctl.fault("slow", delay=30, path="/incidents/agents", count=1)
    worker_args = ("worker", "--no-startup-delay", "--interval", "0.2")
    first = fleetwatch(*worker_args, env=worker_env)
    try:
        # Its request to the vendor has arrived and is held by the slow fault.
        arrived = wait_for(lambda: faults_pending(ctl) == 0, 40)
        assert arrived, "the first worker never started its poll"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    dead = ConnectorState.objects.get(pk=connector.pk)
    assert dead.lease_owner and dead.lease_expires_at > timezone.now()
    assert made["id"] not in connector.open_incident_ids()  # the dead poll stored nothing
    assert ending in connector.open_incident_ids()
    # The dead worker still holds the lease: a poll now is skipped, not doubled.
    assert run_poll(connector.pk).status == "skipped"
    second = fleetwatch(*worker_args, env=worker_env)
    try:
        recovered = wait_for(
            lambda: ConnectorState.objects.filter(
                pk=connector.pk, last_success_at__gt=dead.lease_expires_at
            ).exists(),
            timeout=60,
        )
        assert recovered, (second.poll(), output(second))
    finally:
        stop(second)
    state = ConnectorState.objects.get(pk=connector.pk)
    assert state.last_attempt_at >= dead.lease_expires_at  # not before the lease ran out
    assert state.lease_owner == "" and state.consecutive_failures == 0
    assert connector.open_incident_ids() == truth_open(ctl)
    assert made["id"] in connector.open_incident_ids()
    ended = Incident.objects.get(source=connector.source, source_incident_id=ending)
    assert not ended.open and ended.events.filter(type="END").count() == 1
    sids = list(
        Incident.objects.filter(source=connector.source).values_list(
            "source_incident_id", flat=True
        )
    )
    assert len(sids) == len(set(sids))
    assert Event.objects.filter(incident__source=connector.source, type="STA").count() == len(sids)


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_held_through_a_long_wait(emulator, make_connector, control, settings):
    """A vendor's Retry-After (5 s) longer than the whole lease (2 s here): the poller renews
    the lease while it waits, so no other poller can take the connector over meanwhile."""
    settings.CONNECTOR_LEASE_SECONDS = 2
    server = emulator("metaaccess", seed=2, devices=60, clock=SimClock(speed=1e-9))
    ctl = control(server)
    ctl.ratelimit(limit=50, window=1)
    connector = make_connector(server, rate_limit=[40, 1], timeout=1.0)
    ctl.fault("rate_limit", count=1, path="/o/api/v3.6/devices")  # 429, Retry-After: 5
    outcome: dict = {}

    def poller() -> None:
        try:
            outcome.update(run_poll(connector.pk, owner="poller").as_dict())
        finally:
            connection.close()

    thread = threading.Thread(target=poller)
    thread.start()
    try:
        blocked = wait_for(
            lambda: RateLimitSlot.objects.filter(blocked_until__gt=timezone.now()).exists(),
            timeout=15,
        )
        assert blocked, "the 429 never arrived"
        first = ConnectorState.objects.get(pk=connector.pk).lease_expires_at
        # Past the lease the poll took before its wait: only renewals during the wait hold it.
        renewed = wait_for(
            lambda: (
                timezone.now() > first
                and ConnectorState.objects.filter(
                    pk=connector.pk, lease_expires_at__gt=first
                ).exists()
            ),
            timeout=15,
        )
        assert renewed, "the lease was not renewed during the wait"
        state = ConnectorState.objects.get(pk=connector.pk)
        assert state.lease_owner == "poller" and state.lease_expires_at > timezone.now()
        assert run_poll(connector.pk, owner="intruder").status == "skipped"
    finally:
        thread.join(30)
    assert outcome["status"] == "ok", outcome
    assert outcome["rate_limited"] == 1 and outcome["waited_seconds"] >= 4, outcome
    assert ConnectorState.objects.get(pk=connector.pk).lease_owner == ""


def test_scheduler_enqueues_each_due_connector_once(seven):
    _, connector, _ = seven
    assert schedule_due() == [connector.pk]
    assert schedule_due() == []  # not due again until poll_interval has passed
    assert DBTaskResult.objects.count() == 1
    ConnectorState.objects.filter(pk=connector.pk).update(next_run_at=None)
    Connector.objects.filter(pk=connector.pk).update(enabled=False)
    assert schedule_due() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_enqueue_once(seven):
    _, connector, _ = seven
    results, barrier = [], threading.Barrier(4)

    def race():
        barrier.wait()
        results.extend(schedule_due())
        connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [connector.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_workers_poll_on_schedule_and_share_a_strict_limit(
    emulator, make_connector, control, worker_env
):
    """Two worker processes, two connectors with one credential, the vendor at 2 requests/s:
    the emulator never has to refuse a request."""
    server = emulator("7signal", seed=6, devices=600)
    ctl = control(server)
    ctl.ratelimit(enabled=True, burst=2, replenish_rate=2)
    first = make_connector(server, "seven-a", rate_limit=[2, 1.0], agents_every=0)
    second = make_connector(server, "seven-b", rate_limit=[2, 1.0], agents_every=0)
    Connector.objects.filter(pk__in=[first.pk, second.pk]).update(poll_interval=5)
    workers = [
        fleetwatch("worker", "--no-startup-delay", "--interval", "0.2", env=worker_env)
        for _ in range(2)
    ]
    try:
        polled = wait_for(
            lambda: (
                ConnectorState.objects.filter(
                    pk__in=[first.pk, second.pk], last_success_at__isnull=False
                ).count()
                == 2
            ),
            timeout=60,
        )
        assert polled, [(w.poll(), output(w)) for w in workers]
        # Both have paged through the agents (3 pages each) under the shared limit.
        paged = wait_for(lambda: vendor_requests(ctl, "GET /eyes/agents") >= 6, timeout=30)
        assert paged, ctl.counters()
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()
    counters = ctl.counters()
    assert counters["rate_limited"] == 0, counters
    assert first.open_incident_ids() == truth_open(ctl)


def test_repeated_failures_open_then_end_a_health_incident(seven, poll):
    _, connector, ctl = seven
    ctl.fault("http_500", count=1000)
    for attempt in range(1, 4):
        summary = poll(connector)
        assert summary["status"] == "failed"
        health = Incident.objects.open().filter(source=connector.source)
        assert health.count() == (1 if attempt >= 3 else 0)  # threshold: 3 in a row
    state = ConnectorState.objects.get(pk=connector.pk)
    assert state.consecutive_failures == 3 and "500" in state.last_error
    incident = Incident.objects.get(source=connector.source)
    assert incident.description.startswith(f"Connector {connector.name} failing: 500")
    assert incident.level == 2
    ctl.clear_faults()
    assert poll(connector)["status"] == "ok"
    incident.refresh_from_db()
    assert not incident.open
    assert Event.objects.filter(incident=incident, type="END").count() == 1


def test_secrets_never_leave(seven, poll, caplog, client_for, superuser):
    _, connector, _ = seven
    secret = connector.credentials["client_secret"]
    raw = Connector.objects.filter(pk=connector.pk).values_list("credentials_encrypted", flat=True)[
        0
    ]
    assert secret not in raw
    with caplog.at_level(logging.DEBUG):
        poll(connector)
    state = ConnectorState.objects.get(pk=connector.pk)
    token = state.auth_cache["access_token"]
    assert token not in state.auth_cache_encrypted
    assert secret not in caplog.text and token not in caplog.text
    body = client_for(superuser).get(f"/api/v2/connectors/{connector.pk}/").content.decode()
    assert secret not in body and token not in body and "credentials" not in json.loads(body)
