"""Notification delivery on PostgreSQL: event → delivered, with real workers and sinks.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fleetwatch_bench_notif \\
        python bench/notifications.py [--rate 50] [--seconds 30] [--workers 3] [--drain 1000]

Sets up (in the database given, migrated here; use a scratch database: it is filled) 50
users with 4 active notification profiles each (200) and an e-mail and a webhook destination
each. Every profile filters on its user's team tag (and a level), so each event reaches one
user: 2 deliveries (a mail to a local aiosmtpd sink, a signed POST to a local webhook
receiver, both in a child process of this one). Then:

1. **SQL per event**: statements of one incident creation (the outbox included) with 0, 1 and
   200 active profiles (the target: the same for 1 and 200).
2. **Sustained**: incidents created at ``--rate`` per second for ``--seconds`` (each a START
   event, by ``--producers`` processes calling the ingest service), ``--workers``
   ``fleetwatch worker`` processes sending; latency = arrival at the sink − the event's
   commit. p50, p99.
3. **One worker**: ``--drain`` events' deliveries queued, then one worker started: events/s
   it sends.

Measured figures depend on the machine (the development one has 2 cores shared with other
work): compare runs on the same machine.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")

USERS, PROFILES_EACH = 50, 4
SUBJECT_PK = re.compile(rb"\(#(\d+)\)")


class Arrivals:
    """Arrival times by incident pk, reported by the sink process through a queue (the sinks
    run in their own process so that the event producer here keeps its CPU)."""

    def __init__(self, queue) -> None:
        self.queue = queue
        self.mail: dict[int, float] = {}
        self.hook: dict[int, float] = {}

    def drain(self) -> None:
        import queue as stdlib_queue

        while True:
            try:
                kind, pk, when = self.queue.get_nowait()
            except stdlib_queue.Empty:
                return
            (self.mail if kind == "mail" else self.hook).setdefault(pk, when)

    def count(self) -> int:
        self.drain()
        return len(self.mail) + len(self.hook)

    def clear(self) -> None:
        self.drain()
        self.mail.clear()
        self.hook.clear()


def run_sinks(queue, ports) -> None:
    """The child process: an aiosmtpd sink and a webhook receiver on loopback."""
    import json
    import logging
    import socket

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Mail:
        async def handle_DATA(self, server, session, envelope):  # noqa: ARG002  (aiosmtpd hook)
            now = time.time()
            match = SUBJECT_PK.search(envelope.content.replace(b"\r\n ", b" "))
            if match:
                queue.put(("mail", int(match.group(1)), now))
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        smtp_port = sock.getsockname()[1]
    Controller(Mail(), hostname="127.0.0.1", port=smtp_port).start()

    class Hook(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            now = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            queue.put(("hook", json.loads(body)["incident"]["pk"], now))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    ports.put((smtp_port, server.server_address[1]))
    server.serve_forever()


def setup_profiles(hook_url: str, profiles: bool = True):
    from django.contrib.auth import get_user_model

    from fleetwatch.incidents.sources import create_source
    from fleetwatch.notifications.models import (
        Destination,
        Filter,
        NotificationProfile,
    )

    User = get_user_model()
    users = []
    for n in range(USERS):
        user, _ = User.objects.get_or_create(
            username=f"bench-notif-{n}", defaults={"email": f"user{n}@bench.test"}
        )
        users.append(user)
    if profiles and not NotificationProfile.objects.filter(user__in=users).exists():
        for n, user in enumerate(users):
            email = Destination.objects.filter(user=user, media="email").first()
            hook = Destination.objects.create(
                user=user,
                media="webhook",
                label="bench",
                settings={"url": hook_url, "format": "generic", "secret": "bench"},
            )
            timeslot = user.timeslots.get(name="All the time")
            for p in range(PROFILES_EACH):
                stored = Filter.objects.create(
                    user=user,
                    name=f"team{n}-{p}",
                    filter={"tags": [f"team=t{n}"], "maxlevel": p + 2},
                )
                profile = NotificationProfile.objects.create(
                    user=user, name=f"p{p}", timeslot=timeslot
                )
                profile.filters.add(stored)
                profile.destinations.add(email, hook)
    # The webhook URL changes every run (the receiver's port).
    Destination.objects.filter(media="webhook", label="bench").update(
        settings={"url": hook_url, "format": "generic", "secret": "bench"}
    )
    from fleetwatch.incidents.models import SourceSystem

    source = SourceSystem.objects.filter(name="bench-notif").first()
    if source is None:
        source = create_source("bench-notif", "bench", create_type=True)
    return source


def catch_all_profile() -> int:
    """User 0's profile for every incident (level 5 or better)."""
    from fleetwatch.notifications.models import Destination, Filter, NotificationProfile

    profile = NotificationProfile.objects.filter(name="catch-all").first()
    if profile is None:
        user = Destination.objects.filter(label="bench").order_by("pk").first().user
        stored = Filter.objects.create(user=user, name="everything", filter={"maxlevel": 5})
        profile = NotificationProfile.objects.create(
            user=user, name="catch-all", timeslot=user.timeslots.get(name="All the time")
        )
        profile.filters.add(stored)
        profile.destinations.add(*user.destinations.all())
    return profile.pk


def make_incident(source, n: int, sid: str):
    from django.utils import timezone

    from fleetwatch.incidents.ingest import IncidentDraft, create_incident

    draft = IncidentDraft(
        start_time=timezone.now(),
        source_incident_id=sid,
        description=f"bench incident {sid}",
        level=1,
        tags=[("team", f"t{n % USERS}"), ("host", f"h{n}")],
    )
    return create_incident(source, source.user, draft)


def produce(n: int, of: int, rate: float, total: int, prefix: str, results) -> None:
    """A producer process: events ``n``, ``n + of``, … of ``total`` at their due times."""
    import django

    django.setup()
    from fleetwatch.incidents.models import SourceSystem

    source = SourceSystem.objects.get(name="bench-notif")
    created: dict[int, float] = {}
    start = time.time() + 1.0  # all producers start together
    for i in range(n, total, of):
        if (pause := start + i / rate - time.time()) > 0:
            time.sleep(pause)
        incident = make_incident(source, i, f"{prefix}-{i}")
        created[incident.pk] = time.time()
    results.put(created)


def sql_per_event(source, run: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fleetwatch.notifications import outbox

    outbox.clear_cache()
    make_incident(source, 0, f"{run}-warm")  # loads the snapshot
    counts = []
    for i in range(5):
        with CaptureQueriesContext(connection) as queries:
            make_incident(source, i, f"{run}-sql-{i}")
        counts.append(len(queries))
    return statistics.median(counts)


def start_workers(n: int, smtp_port: int) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "FLEETWATCH_WEBHOOK_ALLOW_PRIVATE": "true",
        "FLEETWATCH_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "fleetwatch", "worker", "--no-scheduler"]
    return [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
        for _ in range(n)
    ]


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def wait_for(arrivals: Arrivals, expected: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while arrivals.count() < expected and time.time() < deadline:
        time.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--drain", type=int, default=1000)
    parser.add_argument(
        "--producers", type=int, default=2, help="processes creating the events (default 2)"
    )
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("DATABASE_URL must point at a scratch PostgreSQL database")
    call_command("migrate", interactive=False, verbosity=0)
    from fleetwatch.notifications.models import Delivery, NotificationProfile

    Delivery.objects.all().delete()
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue, ports = context.Queue(), context.Queue()
    sinks = context.Process(target=run_sinks, args=(queue, ports), daemon=True)
    sinks.start()
    smtp_port, hook_port = ports.get(timeout=30)
    arrivals = Arrivals(queue)
    hook_url = f"http://127.0.0.1:{hook_port}/hook"
    run = str(int(time.time()))

    # 1. SQL statements per event: no active profile; one profile that every event matches;
    # the 200 (each event matches the 4 profiles of one user).
    source = setup_profiles(hook_url)
    catch_all = catch_all_profile()
    NotificationProfile.objects.update(active=False)
    zero = sql_per_event(source, f"{run}-0")
    NotificationProfile.objects.filter(pk=catch_all).update(active=True)
    one = sql_per_event(source, f"{run}-1")
    NotificationProfile.objects.update(active=True)
    NotificationProfile.objects.filter(pk=catch_all).update(active=False)
    many = sql_per_event(source, f"{run}-200")
    print(
        "SQL statements per event (incident + START event + outbox), median of 5: "
        f"no active profile {zero}, 1 matching profile {one}, 200 profiles {many}"
    )
    Delivery.objects.all().delete()

    # 2. Sustained rate with N workers.
    from fleetwatch.notifications import outbox

    outbox.clear_cache()
    workers = start_workers(args.workers, smtp_port)
    time.sleep(3)  # let them start
    total = int(args.rate * args.seconds)
    results = context.Queue()
    producers = [
        context.Process(
            target=produce,
            args=(n, args.producers, args.rate, total, f"{run}-rate", results),
        )
        for n in range(args.producers)
    ]
    start = time.time()
    for producer in producers:
        producer.start()
    created: dict[int, float] = {}
    for _ in producers:
        created.update(results.get(timeout=600))
    for producer in producers:
        producer.join()
    produced = time.time() - start - 1.0
    wait_for(arrivals, 2 * total, 120)
    stop(workers)
    arrivals.drain()
    latencies = [
        arrived - created[pk]
        for box in (arrivals.mail, arrivals.hook)
        for pk, arrived in box.items()
        if pk in created
    ]
    print(
        f"Sustained: {total} events in {produced:.1f} s ({total / produced:.1f} events/s), "
        f"{args.workers} workers, {len(latencies)} of {2 * total} messages arrived; "
        f"latency event→delivered p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )

    # 3. One worker draining a backlog.
    arrivals.clear()
    for i in range(args.drain):
        make_incident(source, i, f"{run}-drain-{i}")
    began = time.time()
    workers = start_workers(1, smtp_port)
    wait_for(arrivals, 2 * args.drain, 600)
    took = time.time() - began
    stop(workers)
    print(
        f"One worker: {arrivals.count()} messages for {args.drain} events in {took:.1f} s "
        f"(including its start-up): {args.drain / took:.1f} events/s, "
        f"{arrivals.count() / took:.1f} messages/s"
    )
    sinks.terminate()


if __name__ == "__main__":
    main()
