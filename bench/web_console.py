"""Benchmark the web console's incident list and its live-update poll, in process.

    .venv/bin/python bench/web_console.py --size 100000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/fw_bench_web

Fills a fresh database (a temporary SQLite file by default; with ``--database-url`` that
PostgreSQL database, which must exist and be empty or a previous run's) with N generated
incidents over 20 sources (one STA event each, a tag on every tenth), logs a user in, and
times through Django's test client (the whole middleware stack; no network, no browser):

* the first page of ``/`` (50 rows), filtered pages (level, tags, source, search), sorted
  pages (level, source, oldest first) and the second page of some: p50/p90 wall time, this
  process's CPU, the SQL time as the driver saw it, the number of queries and the bytes sent;
* ``/incidents/changed/?marker=<current>&key=<poll key>``, the poll every open list makes
  each second, when nothing changed: CPU time per request (``time.process_time``) over
  ``--polls`` requests.

The test client's own overhead is counted as server time, so the figures are upper bounds.
"""

import argparse
import html
import os
import re
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


def _sources(users, count: int) -> list:
    """``count`` sources of one type, ``bench-00`` … (so that a sort by source has ties)."""
    from fleetwatch.incidents.models import SourceSystem, SourceSystemType

    source_type, _ = SourceSystemType.objects.get_or_create(name="bench")
    sources = []
    for n in range(count):
        source = SourceSystem.objects.filter(name=f"bench-{n:02d}").first()
        if source is None:
            user = users.create_user(f"bench-source-{n:02d}")
            source = SourceSystem.objects.create(name=f"bench-{n:02d}", type=source_type, user=user)
        sources.append(source)
    return sources


def load(size: int):
    """N incidents over 20 sources, a quarter of them open, levels 1-5, a tag on every tenth:
    on PostgreSQL by set-based INSERT … SELECT generate_series (100,000 in seconds), else in
    ORM batches."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from fleetwatch.incidents.models import Incident, Tag

    users = get_user_model().objects
    viewer = users.filter(username="bench-viewer").first() or users.create_user(
        "bench-viewer", password="bench-pass-123"
    )
    sources = _sources(users, 20)
    have = Incident.objects.filter(source__in=sources).count()
    tag, _ = Tag.objects.get_or_create(key="site", value="oslo")
    if have < size:
        fill = _fill_postgresql if connection.vendor == "postgresql" else _fill_orm
        fill(sources, tag, have, size)
    return viewer


def _fill_postgresql(sources: list, tag, have: int, size: int) -> None:
    from django.db import connection

    params = {
        "sources": [s.pk for s in sources],
        "users": [s.user_id for s in sources],
        "tag": tag.pk,
        "first": have,
        "last": size - 1,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO incidents_incident (start_time, end_time, source_id, source_incident_id,
                details_url, description, level, ticket_url, metadata)
            SELECT now() - g * interval '7 seconds',
                   CASE WHEN g %% 4 = 0 THEN '9999-12-30 00:00:00+00'
                        ELSE now() - g * interval '7 seconds' + interval '1 minute' END,
                   (%(sources)s::bigint[])[1 + g %% 20], 'bench-' || g, '',
                   (ARRAY['freezer', 'door', 'printer', 'pump', 'switch', 'agent', 'sensor',
                          'badge'])[1 + g %% 8] || ' alarm ' || g,
                   1 + g %% 5, '', '{}'::jsonb
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO incidents_event (incident_id, actor_id, timestamp, received, type,
                description)
            SELECT i.id, s.user_id, i.start_time, now(), 'STA', ''
            FROM incidents_incident i JOIN incidents_sourcesystem s ON s.id = i.source_id
            WHERE i.source_id = ANY(%(sources)s) AND i.source_incident_id LIKE 'bench-%%'
              AND substr(i.source_incident_id, 7)::bigint BETWEEN %(first)s AND %(last)s
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO incidents_incidenttagrelation (tag_id, incident_id, added_by_id,
                added_time, start_time)
            SELECT %(tag)s, i.id, s.user_id, now(), i.start_time
            FROM incidents_incident i JOIN incidents_sourcesystem s ON s.id = i.source_id
            WHERE i.source_id = ANY(%(sources)s) AND i.source_incident_id LIKE 'bench-%%'
              AND substr(i.source_incident_id, 7)::bigint BETWEEN %(first)s AND %(last)s
              AND substr(i.source_incident_id, 7)::bigint %% 10 = 0
            """,
            params,
        )
    with connection.cursor() as cursor:
        for table in (
            "incidents_incident",
            "incidents_event",
            "incidents_incidenttagrelation",
            "incidents_sourcesystem",
        ):
            cursor.execute(f"ANALYZE {table}")


def _fill_orm(sources: list, tag, have: int, size: int) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from fleetwatch.incidents.models import INFINITY, Event, Incident, IncidentTagRelation

    now = timezone.now()
    words = ["freezer", "door", "printer", "pump", "switch", "agent", "sensor", "badge"]
    for start in range(have, size, 5000):
        batch = [
            Incident(
                source=sources[n % 20],
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
                Event(incident=i, actor=i.source.user, timestamp=i.start_time, type="STA")
                for i in batch
            ],
            batch_size=1000,
        )
        IncidentTagRelation.objects.bulk_create(
            [
                IncidentTagRelation(
                    tag=tag, incident=i, added_by=i.source.user, start_time=i.start_time
                )
                for i in batch[::10]
            ],
            batch_size=1000,
        )


def timed_pages(client, url: str, count: int) -> str:
    """Time ``url`` ``count`` times; print p50/p90 wall, CPU of this process, the queries and
    their time as the database driver saw it, and the bytes; return the next-page URL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    walls, cpus, sqls, size, queries = [], [], [], 0, 0
    response = None
    for _ in range(count):
        started, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        assert b"The filter is not valid" not in response.content, url
        sqls.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        size, queries = len(response.content), len(captured.captured_queries)
    db = _database_time([q["sql"] for q in captured.captured_queries])
    walls.sort()
    p90 = walls[max(0, int(len(walls) * 0.9) - 1)]
    print(
        f"{url[:44]:<44} p50 {statistics.median(walls):6.1f} ms  p90 {p90:6.1f} ms wall, "
        f"CPU {statistics.median(cpus):5.1f} ms, SQL {statistics.median(sqls):5.1f} ms "
        f"(EXPLAIN ANALYZE {db}) in {queries} queries, {size:7d} bytes"
    )
    found = re.search(rb'<a href="([^"]+)" rel="next">', response.content) if response else None
    return html.unescape(found.group(1).decode()) if found else ""


def _database_time(queries: list[str]) -> str:
    """The database's own time for a request's SELECTs (planning + execution, from EXPLAIN
    ANALYZE, median of 5): what the shared machine's load does not inflate as much."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return "n/a"
    runs = []
    for _ in range(5):
        total = 0.0
        for sql in queries:
            if not sql.startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql.replace("%", "%%"))
                plan = cursor.fetchone()[0][0]
            total += plan["Planning Time"] + plan["Execution Time"]
        runs.append(total)
    return f"{statistics.median(runs):.1f} ms"


PAGES = (
    "/",
    "/?open=true&level__lte=2",
    "/?tags=site%3Doslo",
    "/?source__name__in=bench-03",
    "/?search=pump",
    "/?sort=level",
    "/?sort=-source",
    "/?sort=start_time",
    "/?sort=source&level__lte=2&tags=site%3Doslo",
)


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
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores, shared)")
    for url in PAGES:
        client.get(url)  # warm
        next_page = timed_pages(client, url, args.pages)
        if url in ("/", "/?sort=level", "/?sort=-source") and next_page:
            client.get(next_page)
            timed_pages(client, next_page, args.pages)
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
