"""Issue 9's scheduler and limiter faults: polls never pile up, staleness opens the health
incident, and a slow vendor paces the next request from the previous answer's completion.
Clocks are injected: nothing here sleeps in real time."""

from datetime import UTC, datetime, timedelta

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fleetwatch.connectors.engine import run_poll, take_lease
from fleetwatch.connectors.models import HEALTH_ID, Connector, ConnectorState, RateLimitSlot
from fleetwatch.connectors.ratelimit import SharedRateLimiter
from fleetwatch.connectors.tasks import check_staleness, schedule_due
from fleetwatch.incidents.models import Event, Incident


@pytest.fixture
def seven(emulator, make_connector, control):
    server = emulator("7signal", seed=5, devices=40)
    return server, make_connector(server), control(server)


def make_due(connector) -> None:
    ConnectorState.objects.filter(pk=connector.pk).update(next_run_at=None)


# --- no piling up -----------------------------------------------------------------------------


def test_no_second_poll_while_one_is_queued(seven):
    """Workers busy elsewhere: the first poll stays queued, and the due times that pass
    meanwhile enqueue nothing more (they used to run back to back later)."""
    _, connector, _ = seven
    assert schedule_due() == [connector.pk]
    for _ in range(5):
        make_due(connector)
        assert schedule_due() == []
    assert DBTaskResult.objects.count() == 1
    state = ConnectorState.objects.get(pk=connector.pk)
    assert state.next_run_at is not None  # the skipped due time moved on
    # Once the queued poll has run, the next due time enqueues again.
    DBTaskResult.objects.update(status=TaskResultStatus.SUCCESSFUL)
    make_due(connector)
    assert schedule_due() == [connector.pk]


def test_no_second_poll_while_one_is_running(seven):
    _, connector, _ = seven
    assert take_lease(connector.pk, "a-worker")  # a poll in flight
    make_due(connector)
    assert schedule_due() == []
    assert not DBTaskResult.objects.exists()


def test_a_dead_workers_task_does_not_block_the_connector_for_ever(seven, settings):
    """A worker killed mid-poll leaves its task row RUNNING for ever; once its lease has
    expired (and the row is older than a lease) the connector is polled again."""
    _, connector, _ = seven
    assert schedule_due() == [connector.pk]
    long_ago = timezone.now() - timedelta(seconds=settings.CONNECTOR_LEASE_SECONDS + 1)
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING, started_at=timezone.now())
    make_due(connector)
    assert schedule_due() == []  # just claimed, lease not taken yet: still running
    DBTaskResult.objects.update(started_at=long_ago)
    ConnectorState.objects.filter(pk=connector.pk).update(
        lease_owner="dead", lease_expires_at=long_ago
    )
    make_due(connector)
    assert schedule_due() == [connector.pk]


def test_other_connectors_are_not_held_up(seven, make_connector):
    server, connector, _ = seven
    other = make_connector(server, "other")
    assert sorted(schedule_due()) == sorted([connector.pk, other.pk])
    DBTaskResult.objects.filter(args_kwargs__args=[other.pk]).update(
        status=TaskResultStatus.SUCCESSFUL
    )
    make_due(connector)
    make_due(other)
    assert schedule_due() == [other.pk]


# --- staleness --------------------------------------------------------------------------------


def health_incidents(connector):
    return Incident.objects.filter(
        source=connector.source, source_incident_id__startswith=f"{HEALTH_ID}:"
    )


def test_a_connector_without_a_good_poll_for_too_long_gets_its_health_incident(seven, settings):
    """Skipped polls (lease held) count as no failure, so the failure threshold is never
    reached; staleness opens the incident anyway, once, and the next good poll ends it."""
    settings.CONNECTOR_STALE_INTERVALS = 5
    settings.CONNECTOR_LEASE_SECONDS = 90
    _, connector, _ = seven
    assert run_poll(connector.pk).status == "ok"
    assert check_staleness() == []
    now = timezone.now()
    # 4 intervals (60 s each) without a success: not stale yet.
    assert check_staleness(now + timedelta(seconds=240)) == []
    # A poll that cannot run (the lease is held): skipped, no failure counted.
    assert take_lease(connector.pk, "stuck")
    assert run_poll(connector.pk).status == "skipped"
    assert ConnectorState.objects.get(pk=connector.pk).consecutive_failures == 0
    later = now + timedelta(seconds=378)  # 6 min 18 s
    assert check_staleness(later) == [connector.pk]
    incident = health_incidents(connector).get()
    assert incident.open and incident.level == 2
    assert "no successful poll for over 6 min" in incident.description, incident.description
    assert check_staleness(later + timedelta(seconds=30)) == []  # one incident, not one a pass
    assert health_incidents(connector).count() == 1
    ConnectorState.objects.filter(pk=connector.pk).update(lease_owner="", lease_expires_at=None)
    assert run_poll(connector.pk).status == "ok"
    incident.refresh_from_db()
    assert not incident.open
    assert Event.objects.filter(incident=incident, type="END").count() == 1


def test_staleness_counts_from_the_configuration_before_a_first_success(seven, settings):
    settings.CONNECTOR_STALE_INTERVALS = 3
    _, connector, _ = seven
    now = timezone.now()
    assert check_staleness(now + timedelta(seconds=100)) == []  # lease (90 s) < 3 × 60 s
    assert check_staleness(now + timedelta(seconds=200)) == [connector.pk]
    assert "no successful poll yet" in health_incidents(connector).get().description


def test_the_stale_threshold_is_at_least_one_lease(seven, settings):
    settings.CONNECTOR_STALE_INTERVALS = 1
    settings.CONNECTOR_LEASE_SECONDS = 300
    _, connector, _ = seven
    now = timezone.now()
    assert check_staleness(now + timedelta(seconds=200)) == []  # > 1 interval, < 1 lease
    assert check_staleness(now + timedelta(seconds=301)) == [connector.pk]


def test_a_scheduler_pass_costs_the_same_queries_for_many_connectors(
    seven, make_connector, django_assert_max_num_queries
):
    server, _, _ = seven
    for n in range(6):
        make_connector(server, f"more-{n}")
    ConnectorState.objects.update(next_run_at=timezone.now() + timedelta(hours=1))
    with django_assert_max_num_queries(3):  # missing states, due states (none)
        assert schedule_due() == []
    with django_assert_max_num_queries(2):  # open health incidents, enabled states
        assert check_staleness() == []


def test_disabled_connectors_are_never_stale(seven):
    _, connector, _ = seven
    Connector.objects.filter(pk=connector.pk).update(enabled=False)
    assert check_staleness(timezone.now() + timedelta(days=1)) == []


# --- pacing from completion -------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.mark.django_db
def test_after_a_slow_answer_the_next_request_waits_a_full_interval_from_its_completion():
    clock = FakeClock()
    limiter = SharedRateLimiter("k", 1, 1.0, margin=0.02, sleep=clock.sleep, now=clock.now)
    limiter.acquire()
    limiter.sent()
    clock.advance(0.9)  # the vendor took 0.9 s to answer
    assert limiter.completed()
    limiter.acquire()
    # Paced by send time it would have waited 0.12 s and arrived 0.12 s after the answer.
    assert clock.slept == [pytest.approx(1.02)]


@pytest.mark.django_db
def test_fast_answers_keep_the_send_time_pace():
    clock = FakeClock()
    limiter = SharedRateLimiter("k", 10, 1.0, margin=0.02, sleep=clock.sleep, now=clock.now)
    for _ in range(3):
        limiter.acquire()
        limiter.sent()
        clock.advance(0.001)  # well inside the margin (2 ms)
        assert not limiter.completed()
    assert clock.slept == [pytest.approx(0.101), pytest.approx(0.101)]


@pytest.mark.django_db
def test_the_completion_pace_holds_for_every_worker_sharing_the_credential():
    clock = FakeClock()
    first = SharedRateLimiter("shared", 1, 1.0, sleep=clock.sleep, now=clock.now)
    second = SharedRateLimiter("shared", 1, 1.0, sleep=clock.sleep, now=clock.now)
    first.acquire()
    first.sent()
    clock.advance(3.0)
    first.completed()
    second.acquire()
    assert clock.slept == [pytest.approx(1.02)]
    assert RateLimitSlot.objects.get(key="shared").next_at == clock.at + timedelta(seconds=1.02)


def test_every_answer_of_a_real_poll_reaches_the_limiter(
    emulator, make_connector, control, monkeypatch
):
    """Through the HTTP layer: each answer tells the limiter it has arrived, and the slowed
    one (0.5 s, far past the 10 ms margin of 2 requests/s) moves the pace on."""
    heard: list[bool] = []
    completed = SharedRateLimiter.completed

    def spy(self) -> bool:
        heard.append(completed(self))
        return heard[-1]

    monkeypatch.setattr(SharedRateLimiter, "completed", spy)
    server = emulator("7signal", seed=5, devices=40)
    connector = make_connector(server, rate_limit=[2, 1.0], agents_every=0)
    control(server).fault("slow", delay=0.5, path="/incidents/agents", count=1)
    summary = run_poll(connector.pk).as_dict()
    assert summary["status"] == "ok", summary
    assert len(heard) == summary["requests"] and any(heard), heard


@pytest.mark.django_db
def test_an_allowance_gives_a_burst_then_one_per_interval_and_refuses_without_counting():
    from fleetwatch.connectors.ratelimit import take_allowance

    clock = FakeClock()

    def take() -> float:
        return take_allowance("tests:u1", 5, 60, now=clock.now)

    assert [take() for _ in range(5)] == [0.0] * 5
    assert take() == pytest.approx(12.0)  # refused: the next one fits in 12 s
    assert take() == pytest.approx(12.0)  # a refusal counts nothing
    assert take_allowance("tests:u2", 5, 60, now=clock.now) == 0.0  # another key: its own
    clock.advance(12.0)
    assert take() == 0.0 and take() == pytest.approx(12.0)
    clock.advance(60.0)
    assert [take() for _ in range(5)] == [0.0] * 5 and take() > 0
