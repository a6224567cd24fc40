"""Benchmark the incident API of a running hub (starts nothing itself).

    python bench/incidents_api.py --url http://127.0.0.1:8000 --token <source token>

The token must belong to a source system (``fleetwatch create_source bench --type bench``).
Prints: sequential incident POSTs/s (2 tags each), list pages/s for
``open=true&page_size=100`` with at least 10,000 incidents stored, bulk ingest incidents/s,
and p50/p99 latencies. Request loops are bounded; every request goes to --url only.

``--size N`` (up to 1,000,000 and more) first fills the hub's PostgreSQL database directly
(``--database-url``, default ``$DATABASE_URL``) with N generated incidents of the token's
source — one INSERT … SELECT FROM generate_series per table, then ANALYZE: a million rows in
about a minute — and then times list pages 100 deep for each query in PAGE_QUERIES
(unfiltered, open, tags, level, source, search for a rare word, a word in events only, a
common word and a word common in events): p50/p90/p99 per query. ``--skip-posts`` and
``--skip-bulk`` leave out the rest.

The client is the standard library's ``http.client`` on one keep-alive connection: httpx's
sync client spends about 1 ms of its own on each request here (measured: 215 POSTs/s through
httpx against 300-335 through http.client, same server), which would be measured as server
time. ``--client httpx`` measures through httpx instead.
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import time
import uuid
from urllib.parse import urlencode, urlsplit

import httpx


class Response:
    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.text = body.decode("utf-8", "replace")
        self._body = body

    def json(self):
        return json.loads(self._body)


class KeepAliveClient:
    """GET and POST with JSON on one persistent connection, at the cost of the stdlib only."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.headers = headers

    def request(self, method: str, url: str, body: bytes | None = None) -> Response:
        if "://" in url:  # a `next` link: same server, so its path and query
            parts = urlsplit(url)
            url = f"{parts.path}?{parts.query}" if parts.query else parts.path
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.connection.request(method, url, body, headers)
        reply = self.connection.getresponse()
        return Response(reply.status, reply.read())

    def get(self, url: str, params: dict | None = None) -> Response:
        return self.request("GET", f"{url}?{urlencode(params)}" if params else url)

    def post(self, url: str, json: object) -> Response:
        return self.request("POST", url, _dumps(json))

    def __enter__(self) -> "KeepAliveClient":
        return self

    def __exit__(self, *exc) -> None:
        self.connection.close()


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()


Client = KeepAliveClient | httpx.Client


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def report(name: str, count: int, seconds: float, latencies: list[float], unit: str) -> None:
    print(
        f"{name:<28} {count / seconds:9.1f} {unit}/s   "
        f"p50 {statistics.median(latencies) * 1000:7.2f} ms   "
        f"p99 {percentile(latencies, 99) * 1000:7.2f} ms   ({count} in {seconds:.2f} s)"
    )


def incident(run: str, n: int) -> dict:
    return {
        "start_time": "2026-11-20T10:00:00Z",
        "source_incident_id": f"bench-{run}-{n}",
        "description": f"bench incident {n}",
        "level": 1 + n % 5,
        "tags": [{"tag": f"host=bench-{n % 500}"}, {"tag": "problem_type=bench"}],
    }


def timed(call) -> tuple[Response | httpx.Response, float]:
    start = time.perf_counter()
    response = call()
    return response, time.perf_counter() - start


def bench_posts(http: Client, run: str, count: int) -> None:
    latencies = []
    start = time.perf_counter()
    for n in range(count):
        response, seconds = timed(
            lambda n=n: http.post("/api/v2/incidents/", json=incident(run, n))
        )
        if response.status_code != 201:
            sys.exit(f"POST failed: {response.status_code} {response.text[:200]}")
        latencies.append(seconds)
    report("sequential POST", count, time.perf_counter() - start, latencies, "incidents")


def ensure_stored(http: Client, run: str, wanted: int) -> None:
    have = http.get("/api/v2/incidents/", params={"open": "true", "count": ""}).json()["count"]
    n = 0
    while have < wanted:
        batch = [incident(f"{run}-fill", n + i) for i in range(min(1000, wanted - have))]
        response = http.post("/api/v2/incidents/bulk/", json={"incidents": batch})
        if response.status_code != 201:
            sys.exit(f"bulk fill failed: {response.status_code} {response.text[:200]}")
        have += response.json()["created"]
        n += len(batch)
    print(f"open incidents stored: {have}")


def bench_pages(http: Client, pages: int) -> None:
    latencies, url = [], "/api/v2/incidents/?open=true&page_size=100"
    start = time.perf_counter()
    for _ in range(pages):
        response, seconds = timed(lambda url=url: http.get(url))
        if response.status_code != 200 or len(response.json()["results"]) != 100:
            sys.exit(f"list failed: {response.status_code} {response.text[:200]}")
        latencies.append(seconds)
        url = response.json()["next"] or "/api/v2/incidents/?open=true&page_size=100"
    report("list page (100 open)", pages, time.perf_counter() - start, latencies, "pages")


# Generated incidents (``load_incidents``): incident g has description "<kind> on host-<g %
# 50,000> at site-<g % 300>", level 1 + g % 5, tags site=site-<g % 300> and
# problem_type=load; every tenth has an OTH event "ticket TKT-<g>"; a third are closed.
PAGE_QUERIES = {
    "unfiltered": "",
    "open": "open=true",
    "tags (1 in 300)": "tags=site%3Dsite-7",
    "tags, 2 keys": "tags=site%3Dsite-7,problem_type%3Dload",
    "level <= 1 (1 in 5)": "level__lte=1",
    "source type": "source__type__in=bench",
    "source + open + level": "source__type__in=bench&open=true&level__lte=2",
    # host-4242 and host-42420..42429 (search values are stripped): 1 in 4,500 incidents.
    "search rare (host)": "search=host-4242",
    # TKT-77770 and TKT-777700..777709: up to 11 incidents whatever the size.
    "search in events only": "search=TKT-77770",
    "search common": "search=lost",
    # In the events of every tenth incident ("ticket TKT-<g>"), in no description.
    "search common in events": "search=ticket",
}


def load_incidents(database_url: str, token: str, size: int) -> None:
    """Fill the token's source with ``size`` generated incidents (kept across runs)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as db:
        row = db.execute(
            "SELECT s.id, s.user_id FROM authtoken_token t "
            "JOIN incidents_sourcesystem s ON s.user_id = t.user_id WHERE t.key = %s",
            [token],
        ).fetchone()
        if row is None:
            sys.exit("--size: the token is not a source system's")
        source, user = row
        have = db.execute(
            "SELECT count(*) FROM incidents_incident WHERE source_id = %s "
            "AND source_incident_id LIKE 'load-%%'",
            [source],
        ).fetchone()[0]
        if have >= size:
            print(f"generated incidents stored: {have}")
            return
        started = time.perf_counter()
        params = {"source": source, "user": user, "first": have + 1, "last": size}
        db.execute(
            "INSERT INTO incidents_tag (key, value) SELECT 'site', 'site-' || k "
            "FROM generate_series(0, 299) k UNION ALL SELECT 'problem_type', 'load' "
            "ON CONFLICT DO NOTHING"
        )
        db.execute(
            """
            INSERT INTO incidents_incident (start_time, end_time, source_id, source_incident_id,
                details_url, description, level, ticket_url, metadata)
            SELECT now() - g * interval '3 seconds',
                   CASE WHEN g %% 3 = 0 THEN now() - g * interval '3 seconds' + interval '1 hour'
                        ELSE '9999-12-30 00:00:00+00' END,
                   %(source)s, 'load-' || g, '',
                   (ARRAY['link lost', 'power failure', 'high temperature', 'agent offline'])
                       [1 + g %% 4] || ' on host-' || (g %% 50000) || ' at site-' || (g %% 300),
                   1 + g %% 5, '', '{}'::jsonb
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
            """,
            params,
        )
        db.execute(
            """
            INSERT INTO incidents_event (incident_id, actor_id, timestamp, received, type,
                description)
            SELECT i.id, %(user)s, i.start_time, now(), e.type, e.description
            FROM incidents_incident i
            CROSS JOIN LATERAL (
                SELECT 'STA' AS type, '' AS description
                UNION ALL SELECT 'END', '' WHERE i.end_time < '9999-01-01'
                UNION ALL SELECT 'OTH', 'ticket TKT-' || substr(i.source_incident_id, 6)
                    WHERE substr(i.source_incident_id, 6)::bigint %% 10 = 0
            ) e
            WHERE i.source_id = %(source)s AND i.source_incident_id LIKE 'load-%%'
              AND substr(i.source_incident_id, 6)::bigint BETWEEN %(first)s AND %(last)s
            """,
            params,
        )
        for tag in (
            "t.key = 'site' AND t.value = 'site-' || (substr(i.source_incident_id, 6)::bigint"
            " %% 300)",
            "t.key = 'problem_type' AND t.value = 'load'",
        ):
            db.execute(
                f"""
                INSERT INTO incidents_incidenttagrelation (tag_id, incident_id, added_by_id,
                    added_time, start_time)
                SELECT t.id, i.id, %(user)s, now(), i.start_time
                FROM incidents_incident i JOIN incidents_tag t ON {tag}
                WHERE i.source_id = %(source)s AND i.source_incident_id LIKE 'load-%%'
                  AND substr(i.source_incident_id, 6)::bigint BETWEEN %(first)s AND %(last)s
                """,
                params,
            )
        db.execute("VACUUM ANALYZE incidents_incident")
        db.execute("VACUUM ANALYZE incidents_event")
        db.execute("VACUUM ANALYZE incidents_incidenttagrelation")
        took = time.perf_counter() - started
        print(f"generated incidents stored: {size} ({size - have} added in {took:.0f} s)")


def bench_page_queries(http: Client, pages: int) -> None:
    """Each query's first page and the pages after it (``next``), ``pages`` requests each."""
    for name, query in PAGE_QUERIES.items():
        first = f"/api/v2/incidents/?page_size=100&{query}".rstrip("&")
        latencies, url, count = [], first, 0
        for _ in range(pages):
            response, seconds = timed(lambda url=url: http.get(url))
            if response.status_code != 200:
                sys.exit(f"{name} failed: {response.status_code} {response.text[:200]}")
            body = response.json()
            latencies.append(seconds)
            count = max(count, len(body["results"]))
            url = body["next"] or first
        print(
            f"  {name:<24} p50 {statistics.median(latencies) * 1000:7.2f} ms   "
            f"p90 {percentile(latencies, 90) * 1000:7.2f} ms   "
            f"p99 {percentile(latencies, 99) * 1000:7.2f} ms   ({count} rows/page)"
        )


def bench_bulk(http: Client, run: str, total: int, batch: int) -> None:
    latencies, sent = [], 0
    start = time.perf_counter()
    while sent < total:
        items = [incident(f"{run}-bulk", sent + i) for i in range(min(batch, total - sent))]
        response, seconds = timed(
            lambda items=items: http.post("/api/v2/incidents/bulk/", json={"incidents": items})
        )
        if response.status_code != 201 or response.json()["created"] != len(items):
            sys.exit(f"bulk failed: {response.status_code} {response.text[:200]}")
        latencies.append(seconds)
        sent += len(items)
    elapsed = time.perf_counter() - start
    report(f"bulk ingest ({batch}/request)", sent, elapsed, latencies, "incidents")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a source system's API token")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--stored", type=int, default=10_000)
    parser.add_argument("--bulk", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--client", choices=["http.client", "httpx"], default="http.client")
    parser.add_argument(
        "--size", type=int, default=0, help="fill the database to N generated incidents first"
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--page-requests", type=int, default=50, help="per --size query")
    parser.add_argument("--skip-posts", action="store_true")
    parser.add_argument("--skip-bulk", action="store_true")
    args = parser.parse_args()
    if args.size and not args.database_url.startswith("postgres"):
        sys.exit("--size needs --database-url (or DATABASE_URL) of the hub's PostgreSQL")
    run = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Token {args.token}"}
    if args.client == "httpx":
        client = httpx.Client(base_url=args.url, headers=headers, timeout=120)
    else:
        client = KeepAliveClient(args.url, headers, timeout=120)
    with client as http:
        meta = http.get("/api/").json()
        print(f"server: {meta.get('server', '?')} {meta.get('server-version')} at {args.url}")
        print(f"client: {args.client}, one keep-alive connection")
        if args.size:
            load_incidents(args.database_url, args.token, args.size)
            print(f"list pages of 100 ({args.page_requests} requests each, following next):")
            bench_page_queries(http, args.page_requests)
        if not args.skip_posts:
            bench_posts(http, run, args.posts)
        ensure_stored(http, run, args.stored)
        bench_pages(http, args.pages)
        if not args.skip_bulk:
            bench_bulk(http, run, args.bulk, args.batch)


if __name__ == "__main__":
    main()
