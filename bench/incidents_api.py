"""Benchmark the incident API of a running hub (starts nothing itself).

    python bench/incidents_api.py --url http://127.0.0.1:8000 --token <source token>

The token must belong to a source system (``fleetwatch create_source bench --type bench``).
Prints: sequential incident POSTs/s (2 tags each), list pages/s for
``open=true&page_size=100`` with at least 10,000 incidents stored, bulk ingest incidents/s,
and p50/p99 latencies. Request loops are bounded; every request goes to --url only.

The client is the standard library's ``http.client`` on one keep-alive connection: httpx's
sync client spends about 1 ms of its own on each request here (measured: 215 POSTs/s through
httpx against 300-335 through http.client, same server), which would be measured as server
time. ``--client httpx`` measures through httpx instead.
"""

import argparse
import http.client
import json
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
    args = parser.parse_args()
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
        bench_posts(http, run, args.posts)
        ensure_stored(http, run, args.stored)
        bench_pages(http, args.pages)
        bench_bulk(http, run, args.bulk, args.batch)


if __name__ == "__main__":
    main()
