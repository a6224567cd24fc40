"""Issue 11 with real processes: ``fleetwatch worker`` subprocesses, SIGSTOP/SIGKILL, a real
SMTP server and webhook receiver on loopback, and the test's database shared with them.

- Killed between the event's commit and the send: the next worker sends it exactly once.
- Killed after its claim, mid-send: the next worker sends it again once the claim runs out
  (at-least-once by design), with the same ``X-Fleetwatch-Delivery`` id, so a receiver can
  tell the retry from a new message.

Waits are for events (a message arriving, a row's status); the one fixed wait is for a claim
to run out, which is the only way a duplicate could still come."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from fleetwatch.incidents.ingest import IncidentDraft, create_incident
from fleetwatch.notifications.models import (
    Delivery,
    Destination,
    Filter,
    NotificationProfile,
)
from fleetwatch.notifications.senders import DELIVERY_HEADER

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLAIM_SECONDS = 3
OPS = "ops@example.org"


def wait_until(check, timeout: float = 40.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def database_url() -> str:
    """This test's database (SQLite: a file under the data dir), for the workers."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def start_worker(tmp_path, smtp_sink):
    """``start_worker(name)``: a ``fleetwatch worker`` sending deliveries (no scheduler) to the
    loopback receivers, its output in ``tmp_path/<name>.log``; killed when the test ends."""
    smtp_port = settings.MAILERS["default"]["OPTIONS"]["port"]  # set by smtp_sink
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        FLEETWATCH_DATA_DIR=str(tmp_path),
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}?timeout=5",
        FLEETWATCH_EMAIL_FROM="hub@fleetwatch.test",
        FLEETWATCH_WEBHOOK_ALLOW_PRIVATE="true",
        FLEETWATCH_WEBHOOK_TIMEOUT="30",
        FLEETWATCH_DELIVERY_CLAIM_SECONDS=str(CLAIM_SECONDS),
        FLEETWATCH_DELIVERY_POLL_INTERVAL="0.1",
        FLEETWATCH_NOTIFICATION_PROFILE_CACHE_SECONDS="0",
    )
    key_file = settings.DATA_DIR / "encryption_key"
    if "FLEETWATCH_ENCRYPTION_KEY" not in env and key_file.exists():
        env["FLEETWATCH_ENCRYPTION_KEY"] = key_file.read_text().strip()
    started: list[subprocess.Popen] = []

    def start(name: str) -> subprocess.Popen:
        log = Path(tmp_path, f"{name}.log").open("wb")
        args = ["worker", "--no-scheduler", "--no-startup-delay", "--interval", "0.5"]
        process = subprocess.Popen(
            [sys.executable, "-m", "fleetwatch", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        process.log = Path(log.name)  # type: ignore[attr-defined]
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def stopped(process: subprocess.Popen) -> bool:
    """Whether the kernel has stopped it (SIGSTOP takes effect asynchronously)."""
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] == "T"


def sqlite_writable() -> bool:
    """Whether no other process holds SQLite's write lock (asked without waiting)."""
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def freeze(process: subprocess.Popen) -> None:
    """SIGSTOP it between two of its transactions: on SQLite (IMMEDIATE transactions) one
    frozen inside its claim would hold the write lock, and the test's commit would wait for it
    in vain; then let it run on a moment and stop it again."""
    for _ in range(100):
        process.send_signal(signal.SIGSTOP)
        assert wait_until(lambda: stopped(process), 10)
        if connection.vendor != "sqlite" or sqlite_writable():
            return
        process.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("the worker always froze holding the SQLite write lock")


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def output(process: subprocess.Popen) -> str:
    return process.log.read_text(errors="replace")[-3000:]  # type: ignore[attr-defined]


@pytest.fixture
def profile(enduser):
    """Every incident of ``enduser``'s sources notifies ``OPS`` by mail (and a webhook, once
    a test adds one)."""
    made = NotificationProfile.objects.create(
        user=enduser, name="all", timeslot=enduser.timeslots.get(name="All the time")
    )
    made.filters.add(Filter.objects.create(user=enduser, name="all", filter={"maxlevel": 5}))
    made.destinations.add(
        Destination.objects.create(
            user=enduser, media="email", label="ops", settings={"email_address": OPS}
        )
    )
    return made


def add_webhook(profile, url: str) -> None:
    profile.destinations.add(
        Destination.objects.create(
            user=profile.user, media="webhook", label="hook", settings={"url": url}
        )
    )


def incident(source, description: str):
    """A committed incident; its START event's Delivery rows commit with it (the outbox)."""
    return create_incident(
        source,
        source.user,
        IncidentDraft(start_time=timezone.now(), description=description, level=1),
    )


def deliveries_of(made) -> list[Delivery]:
    return list(Delivery.objects.filter(event__incident=made).order_by("media"))


def mails_about(sink, description: str) -> list:
    return [mail for mail in sink.to(OPS) if description in mail["Subject"]]


def hooks_about(receiver, description: str) -> list:
    return [r for r in receiver.requests if description in r.body.decode()]


def test_a_worker_killed_between_commit_and_send_leaves_it_to_the_next_exactly_once(
    source, profile, smtp_sink, webhook_receiver, start_worker
):
    """Worker A is alive (it sends a first incident's notifications), then frozen (SIGSTOP);
    a second incident commits with its Delivery rows; A is SIGKILLed without ever seeing
    them. Worker B sends each of them exactly once, on its first attempt."""
    add_webhook(profile, webhook_receiver.url)
    first_worker = start_worker("a")
    warmup = incident(source, "warm-up")
    assert wait_until(
        lambda: all(d.status == Delivery.Status.SENT for d in deliveries_of(warmup))
    ), output(first_worker)
    freeze(first_worker)
    crashed = incident(source, "crash-test")
    rows = deliveries_of(crashed)
    assert [(d.media, d.status, d.attempts) for d in rows] == [
        ("email", Delivery.Status.PENDING, 0),
        ("webhook", Delivery.Status.PENDING, 0),
    ]
    kill(first_worker)
    assert [(d.status, d.attempts) for d in deliveries_of(crashed)] == [
        (Delivery.Status.PENDING, 0)
    ] * 2  # A never saw them
    assert mails_about(smtp_sink, "crash-test") == []
    assert hooks_about(webhook_receiver, "crash-test") == []

    second_worker = start_worker("b")
    assert wait_until(
        lambda: all(d.status == Delivery.Status.SENT for d in deliveries_of(crashed))
    ), output(second_worker)
    assert wait_until(
        lambda: mails_about(smtp_sink, "crash-test") and hooks_about(webhook_receiver, "crash-test")
    )
    # A second send could only come from a claim running out: wait one out, then count.
    time.sleep(CLAIM_SECONDS + 1)
    assert len(mails_about(smtp_sink, "crash-test")) == 1
    hooks = hooks_about(webhook_receiver, "crash-test")
    assert len(hooks) == 1
    webhook_row = rows[1]  # (email, webhook)
    assert hooks[0].headers[DELIVERY_HEADER] == str(webhook_row.pk)
    assert [(d.status, d.attempts) for d in deliveries_of(crashed)] == [
        (Delivery.Status.SENT, 1)
    ] * 2
    # And the warm-up, sent by A before it died, was not sent again by B.
    assert len(mails_about(smtp_sink, "warm-up")) == 1
    assert len(hooks_about(webhook_receiver, "warm-up")) == 1
    assert second_worker.poll() is None, output(second_worker)


def test_a_worker_killed_mid_send_is_retried_with_the_same_delivery_id(
    source, profile, smtp_sink, webhook_receiver, start_worker
):
    """Worker A claims the webhook delivery and its request reaches the receiver, which holds
    it; A is SIGKILLed there, so whether the receiver acted on it is unknown to the hub. When
    A's claim runs out, worker B sends it again — at-least-once by design — carrying the same
    ``X-Fleetwatch-Delivery`` id, so the receiver can drop the repeat. Then nothing more."""
    profile.destinations.clear()
    add_webhook(profile, webhook_receiver.url)
    webhook_receiver.hold = 1
    first_worker = start_worker("a")
    made = incident(source, "mid-send")
    assert wait_until(lambda: len(webhook_receiver.requests) == 1), output(first_worker)
    (row,) = deliveries_of(made)
    assert (row.status, row.attempts) == (Delivery.Status.SENDING, 1)  # A's claim
    kill(first_worker)

    second_worker = start_worker("b")
    assert wait_until(lambda: deliveries_of(made)[0].status == Delivery.Status.SENT), output(
        second_worker
    )
    time.sleep(CLAIM_SECONDS + 1)  # a third send could only follow another claim running out
    first, retry = webhook_receiver.requests  # exactly two
    assert first.headers[DELIVERY_HEADER] == retry.headers[DELIVERY_HEADER] == str(row.pk)
    assert first.body == retry.body
    (row,) = deliveries_of(made)
    assert (row.status, row.attempts) == (Delivery.Status.SENT, 2)
    assert smtp_sink.messages == []
