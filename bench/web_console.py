"""Benchmark the web console's incident list and its live-update poll, in process.

    .venv/bin/python bench/web_console.py --size 20000 [--database-url postgresql://...]

Fills a fresh database (a temporary SQLite file by default; with ``--database-url`` that
PostgreSQL database, which must be empty or a previous run's) with N generated incidents (one
STA event each, a tag on every tenth), logs a user in, and times through Django's test client
(the whole middleware stack; no network, no browser):

* the first page of ``/`` (50 rows) and a filtered page (``open=true&level__lte=2``) and a
  search page: p50/p90 wall time and bytes sent;
* ``/incidents/changed/?marker=<current>&key=<poll key>``, the poll every open list makes
  each second, when nothing changed: CPU time per request (``time.process_time``) over
  ``--polls`` requests.

The test client's own overhead is counted as server time, so the figures are upper bounds.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def setup(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["FLEETWATCH_DATA_DIR"] = tempfile.mkdtemp(prefix="fw-web-bench-")
    os.environ["FLEETWATCH_ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def load(size: int):
    """N incidents of one source, a quarter of them open, levels 1-5, in batches."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from fleetwatch.incidents.models import (
        INFINITY,
        Event,
        Incident,
        IncidentTagRelation,
        SourceSystem,
        SourceSystemType,
        Tag,
    )

    users = get_user_model().objects
    viewer = users.filter(username="bench-viewer").first() or users.create_user(
        "bench-viewer", password="bench-pass-123"
    )
    source_type, _ = SourceSystemType.objects.get_or_create(name="bench")
    source = SourceSystem.objects.filter(name="bench").first()
    if source is None:
        source = SourceSystem.objects.create(
            name="bench", type=source_type, user=users.create_user("bench-source")
        )
    have = Incident.objects.filter(source=source).count()
    now = timezone.now()
    tag, _ = Tag.objects.get_or_create(key="site", value="oslo")
    words = ["freezer", "door", "printer", "pump", "switch", "agent", "sensor", "badge"]
    for start in range(have, size, 5000):
        batch = [
            Incident(
                source=source,
                start_time=now - timedelta(seconds=n * 7),
                end_time=INFINITY if n % 4 == 0 else now - timedelta(seconds=n * 7 - 60),
                description=f"{words[n % len(words)]} alarm {n}",
                level=1 + n % 5,
                source_incident_id=f"bench-{n}",
            )
            for n in range(start, min(size, start + 5000))
        ]
        Incident.objects.bulk_create(batch, batch_size=1000)
        Event.objects.bulk_create(
            [
                Event(incident=i, actor=source.user, timestamp=i.start_time, type="STA")
                for i in batch
            ],
            batch_size=1000,
        )
        IncidentTagRelation.objects.bulk_create(
            [IncidentTagRelation(tag=tag, incident=i, added_by=source.user) for i in batch[::10]],
            batch_size=1000,
        )
    return viewer


def timed_pages(client, url: str, count: int) -> None:
    times, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        size = len(response.content)
    times.sort()
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"{url:<40} p50 {statistics.median(times):6.1f} ms  p90 {p90:6.1f} ms  {size:7d} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--polls", type=int, default=2000)
    args = parser.parse_args()
    setup(args)
    from django.db import connection
    from django.test import Client

    started = time.perf_counter()
    viewer = load(args.size)
    print(
        f"{args.size} incidents ready in {time.perf_counter() - started:.1f} s "
        f"({connection.vendor})"
    )
    client = Client()
    client.force_login(viewer)
    for url in ("/", "/?open=true&level__lte=2", "/?search=pump", "/?tags=site%3Doslo"):
        client.get(url)  # warm
        timed_pages(client, url, args.pages)
    from fleetwatch.web.listing import change_marker
    from fleetwatch.web.views import _poll_signer

    marker = change_marker()
    key = _poll_signer.sign(str(viewer.pk))
    poll = f"/incidents/changed/?marker={marker}&key={key}"
    for _ in range(50):
        assert client.get(poll).status_code == 204
    cpu = time.process_time()
    wall = time.perf_counter()
    for _ in range(args.polls):
        client.get(poll)
    cpu = (time.process_time() - cpu) / args.polls * 1000
    wall = (time.perf_counter() - wall) / args.polls * 1000
    print(
        f"poll, nothing changed (204): {cpu:.3f} ms CPU, {wall:.3f} ms wall per request, "
        "0 bytes (one query: tests/web asserts it)"
    )


if __name__ == "__main__":
    main()
