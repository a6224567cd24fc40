"""Server CPU per request — the web process plus its PostgreSQL backend — for list pages and acks.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fw_bench python bench/server_cpu.py \
        [--size 100000] [--requests 200] [--only NAME] [--interleave]

Runs the full Django stack in-process (the WSGI handler gunicorn calls: middleware, token
authentication, view, rendering), so ``time.process_time`` is the web process's CPU for a
request, and reads the CPU time of the connection's PostgreSQL backend from
``/proc/<pg_backend_pid()>/schedstat`` (nanoseconds; PostgreSQL must run on this machine).
Their sum is issue 10's "server CPU per request", which a loaded machine disturbs far less than
wall time. The database is migrated and written to (a throwaway one, e.g. ``fw_bench``);
``--size N`` fills it to N generated incidents first (``incidents_api.load_incidents``: one
``INSERT … SELECT FROM generate_series`` per table, a million in about a minute).

Each list query (``incidents_api.PAGE_QUERIES`` plus the filters of the compiled page path)
is requested ``--requests`` times following ``next`` (restarting at the first page), after a
warm-up; then the detail GET of the newest incident and an ack POST; prints the median and
mean of web, database and total CPU in milliseconds. ``--interleave`` requests one page of
every query in turn instead of one query after another: on a shared machine the load changes
within a run, and that comparison across queries (is a filtered page dearer than the
unfiltered one?) is then fair.

Issue 10's page costs, measured on the 2-core dev machine shared with other helpers' jobs:
total server CPU per request in ms (web / database), ``--interleave``, 300 requests a query,
median of the per-run medians over alternating runs of main at 56215ef ("before") and this
code ("after"); ``--size 10000`` three runs each at load average 1.0-1.7, ``--size 100000``
two runs each at load 2.2-3.1 (six for unfiltered, open, level, source type, stateful and the
detail GET). Runs without ``--interleave`` (the earlier method) moved by up to 2x between two
runs of the same code on this machine: one query's 300 requests fall in one burst of the other
jobs, or miss it.

======================  =================  =================  =================  =================
query                   10,000 before      10,000 after       100,000 before     100,000 after
======================  =================  =================  =================  =================
unfiltered              5.89 (4.74/1.27)   4.52 (2.35/2.11)   5.17 (3.96/1.19)   4.31 (2.27/2.01)
open                    5.81 (4.45/1.36)   4.64 (2.41/2.19)   5.13 (3.94/1.19)   4.26 (2.27/2.02)
level__lte=1            6.31 (4.79/1.49)   4.99 (2.51/2.41)   5.47 (4.06/1.43)   4.83 (2.46/2.30)
source__type__in        7.09 (5.64/1.43)   5.04 (2.64/2.30)   6.08 (4.84/1.23)   4.65 (2.49/2.08)
source+open+level       7.01 (5.41/1.55)   5.10 (2.73/2.34)   6.64 (5.06/1.59)   5.33 (2.81/2.51)
stateful                6.09 (4.65/1.36)   4.99 (2.67/2.31)   5.21 (4.04/1.17)   4.49 (2.40/2.06)
ticket                  6.00 (4.64/1.37)   4.75 (2.46/2.26)   5.31 (4.14/1.18)   4.61 (2.44/2.13)
end_time__isnull        5.85 (4.50/1.35)   4.63 (2.41/2.14)   5.35 (4.13/1.19)   4.55 (2.42/2.12)
source__id__in          5.88 (4.57/1.30)   4.56 (2.31/2.13)   5.75 (4.56/1.15)   4.50 (2.39/2.08)
tags (1 in 300)         6.49 (4.66/1.92)   5.95 (3.86/2.07)   11.06 (7.46/3.68)  10.55 (5.84/4.71)
tags, 2 keys            9.92 (6.08/3.99)   9.01 (4.74/4.15)   17.17 (8.46/8.48)  16.55 (7.25/9.71)
open + level + tag      6.68 (4.79/1.93)   6.05 (4.00/2.14)   11.07 (7.59/3.45)  10.23 (5.92/4.25)
search rare (host)      8.41 (6.38/1.98)   8.45 (6.20/2.22)   10.00 (6.74/3.23)  10.68 (6.78/3.90)
search in events only   7.74 (6.14/1.49)   8.02 (6.01/1.83)   7.84 (6.12/1.69)   9.28 (7.10/2.12)
search common           12.18 (9.63/2.69)  11.15 (7.26/3.98)  12.00 (9.62/2.38)  11.70 (7.78/3.87)
detail GET              3.80 (3.27/0.53)   1.61 (1.28/0.35)   4.29 (3.83/0.45)   1.12 (0.89/0.24)
ack POST                2.75 (2.09/0.64)   3.38 (2.61/0.80)   3.05 (2.33/0.72)   2.87 (2.23/0.64)
======================  =================  =================  =================  =================

"After": each row's JSON written by the page query itself (``fastsql/rows.py``: one query a
page, the tags aggregated in it, no Python per field: web time roughly halves, the database's
grows by ~0.7-0.9 ms a page), source names and types resolved by plain SQL, the detail GET's
SQL compiled once. The search rows are the same within this machine's noise (four more runs
of those two at 10,000, load 0.6-0.9: rare 9.37 → 9.27, events only 8.75 → 9.01); the ack POST
is not touched by the change. Interleaving inflates every figure (the idle machine's
unfiltered page was 4.03 before, sequentially).

At 100,000 incidents with 680 acks (this script's own ack POSTs) every page cost ~28 ms in
the database alone: PostgreSQL hashed all acked incidents for ``is_acked``, scanning the
event table per page (``IncidentQuerySet.with_state`` now keeps it probing per row:
EXPLAIN ANALYZE 135 → 0.8 ms). The 1,000,000 figures are in the fastsql README.

``tags=`` pages read in the tag's own order (``incidents/tag_pages.py``), load 1.5-3, median
of two runs; "before" is main at 56215ef, a fresh database per size (the 10,000 pages of the
site tag hold its 33 incidents, the others 100):

==========================  ==================  ==================  ==================
query                       10,000 (ms)         100,000 (ms)        1,000,000 (ms)
==========================  ==================  ==================  ==================
tags (1 in 300)             5.1-5.9 → 3.0-3.6   8.3-9.5 → 6.0-6.2   16.6-17.8 → 6.9-8.8
tags, 2 keys                6.3-8.8 → 2.9-3.4   13.0-15.4 → 6.8-7.3 20.4-21.7 → 7.6-10.2
open + level + tag          4.3-5.4 → 2.9-3.5   7.6-11.9 → 6.0-6.2  21.6-25.6 → 6.7-8.3
tag on every incident       10.6-11.3 → 4.5-5.3 5.9-6.3 → 4.5-4.6   7.3-9.9 → 4.9-5.2
==========================  ==================  ==================  ==================

``search=`` (issue 10: flat up to 1,000,000 incidents), before (main at 56215ef) → after,
total server CPU per page, median of 100 requests, two rounds each, load average 2.0-2.3:

=================================  ===================  ===================
query                              10,000 incidents     1,000,000 incidents
=================================  ===================  ===================
unfiltered (before / after)        4.3-4.6 / 4.4-4.9    4.0-6.3 / 4.2-6.7
search rare (host), 1 in 4,500     5.6-5.7 → 2.4-2.8    21.1-22.4 → 7.9-8.9
search in events only              4.8-6.8 → 2.7-3.5    6.8-8.2 → 3.2-3.4
search common (1 in 4)             10.1-12.3 → 5.1-8.3  10.7-13.1 → 6.9-7.3
search common in events (1 in 10)  12.4-13.8 → 6.2-9.2  104-107 → 8.1-9.2
=================================  ===================  ===================

(100,000 and why the rest is not flat: ``src/fleetwatch/fastsql/README.md``.) The rare word
has 1 match at 10,000 and 220 at 1,000,000: its page holds 1 row at the one size, 100 at
the other. These pages follow ``next``, so after the first request their SQL is compiled; a
new text on every request costs more (README).
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

#: The filters the compiled page path takes beyond PAGE_QUERIES (``incidents/api/views.py``).
EXTRA_QUERIES = {
    "stateful": "stateful=true",
    "ticket": "ticket=false",
    "end_time__isnull": "end_time__isnull=false",
    "source__id__in": "source__id__in={source}",
    "open + level + tag": "open=true&level__lte=3&tags=site%3Dsite-7",
    "tag on every incident": "tags=problem_type%3Dload",
}


def backend_cpu(pid: int) -> float:
    """Seconds of CPU the PostgreSQL backend ``pid`` has used (``schedstat``: ns on CPU)."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0]) / 1e9


def environ(method: str, url: str, token: str, body: bytes = b"") -> dict:
    parts = urlsplit(url)
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


class Meter:
    """Requests through the WSGI ``app`` with their web and database CPU."""

    def __init__(self, app, token: str, pid: int) -> None:
        self.app, self.token, self.pid = app, token, pid

    def call(self, method: str, url: str, body: bytes = b"") -> tuple[bytes, float, float]:
        status: list[str] = []

        def start_response(line, _headers, _exc_info=None):
            status.append(line)

        from django.db import connection

        connection.ensure_connection()  # the backend that serves this request
        self.pid = connection.connection.info.backend_pid
        db0, cpu0 = backend_cpu(self.pid), time.process_time()
        response = self.app(environ(method, url, self.token, body), start_response)
        content = b"".join(response)
        response.close()
        cpu, db = time.process_time() - cpu0, backend_cpu(self.pid) - db0
        if not status[0][:1] == "2":
            sys.exit(f"{method} {url}: {status[0]} {content[:300]!r}")
        return content, cpu, db


def report(name: str, web: list[float], db: list[float]) -> None:
    total = [a + b for a, b in zip(web, db, strict=True)]
    print(
        f"  {name:<24} total median {statistics.median(total) * 1000:6.2f} ms "
        f"mean {statistics.fmean(total) * 1000:6.2f}   web {statistics.median(web) * 1000:6.2f}"
        f"   db {statistics.median(db) * 1000:6.2f}   ({len(total)} requests)"
    )


class Walk:
    """One list query's pages, requested one at a time following ``next`` (restarting at the
    first page), with each request's web and database CPU."""

    def __init__(self, meter: Meter, name: str, query: str) -> None:
        self.meter, self.name = meter, name
        self.first = self.url = f"/api/v2/incidents/?page_size=100&{query}".rstrip("&")
        self.web: list[float] = []
        self.db: list[float] = []

    def step(self, measured: bool) -> None:
        import json

        content, cpu, dbcpu = self.meter.call("GET", self.url)
        if measured:
            self.web.append(cpu)
            self.db.append(dbcpu)
        self.url = json.loads(content)["next"] or self.first


def pages(walks: list[Walk], requests: int, warmup: int, interleave: bool) -> None:
    """Each walk's pages; ``interleave``: one page of every walk in turn, so that a change in
    the machine's load hits every query alike (the figures compare across queries)."""
    rounds = [walks] if interleave else [[walk] for walk in walks]
    for group in rounds:
        for n in range(warmup + requests):
            for walk in group:
                walk.step(n >= warmup)
        if not interleave:
            report(group[0].name, group[0].web, group[0].db)
    if interleave:
        for walk in walks:
            report(walk.name, walk.web, walk.db)


def detail(meter: Meter, incident: int, requests: int, warmup: int) -> None:
    web, db = [], []
    for n in range(warmup + requests):
        _, cpu, dbcpu = meter.call("GET", f"/api/v2/incidents/{incident}/")
        if n >= warmup:
            web.append(cpu)
            db.append(dbcpu)
    report("detail GET", web, db)


def acks(meter: Meter, incident: int, requests: int, warmup: int) -> None:
    web, db = [], []
    for n in range(warmup + requests):
        _, cpu, dbcpu = meter.call("POST", f"/api/v2/incidents/{incident}/acks/", b"{}")
        if n >= warmup:
            web.append(cpu)
            db.append(dbcpu)
    report("ack POST", web, db)


def setup() -> tuple[str, str, int, int]:
    """Migrate; a source (its token) and a person (their token); the source's id and an
    incident of it to acknowledge."""
    from django.core.management import call_command

    from fleetwatch.accounts.models import User, replace_drf_token
    from fleetwatch.incidents.ingest import parse_incident, upsert_incidents
    from fleetwatch.incidents.models import SourceSystem
    from fleetwatch.incidents.sources import create_source

    call_command("migrate", verbosity=0)
    source = SourceSystem.objects.filter(name="bench-cpu").first()
    if source is None:
        source = create_source("bench-cpu", "bench", create_type=True)
    draft = parse_incident(
        {
            "start_time": "2026-11-20T10:00:00Z",
            "source_incident_id": "ack-target",
            "description": "ack target",
            "tags": [{"tag": "problem_type=bench"}],
        }
    )
    incident = upsert_incidents(source, source.user, [draft])[0].incident
    person, _ = User.objects.get_or_create(username="bench-cpu-person")
    person.is_superuser = True
    person.save()
    return replace_drf_token(source.user).key, replace_drf_token(person).key, source.pk, incident.pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--interleave", action="store_true", help="one page of each in turn")
    args = parser.parse_args()
    os.environ.setdefault("FLEETWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fw-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    os.environ["FLEETWATCH_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from incidents_api import PAGE_QUERIES, load_incidents

    if connection.vendor != "postgresql":
        sys.exit("DATABASE_URL must point at a PostgreSQL on this machine")
    source_token, person_token, source, incident = setup()
    if args.size:
        load_incidents(os.environ["DATABASE_URL"], source_token, args.size)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), count(*), max(id) FROM incidents_incident")
        pid, stored, newest = cursor.fetchone()
    print(f"incidents stored: {stored}, fast SQL {'on' if settings.FAST_SQL else 'off'}")
    meter = Meter(WSGIHandler(), person_token, pid)
    queries = {**PAGE_QUERIES, **EXTRA_QUERIES}
    walks = [
        Walk(meter, name, query.format(source=source))
        for name, query in queries.items()
        if not args.only or name in args.only
    ]
    pages(walks, args.requests, args.warmup, args.interleave)
    if not args.only or "detail" in args.only:
        detail(meter, newest, args.requests, args.warmup)
    if not args.only or "ack" in args.only:
        acks(meter, incident, args.requests, args.warmup)


if __name__ == "__main__":
    main()
