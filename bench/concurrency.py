"""Many clients at once against a running hub (starts nothing itself).

    python bench/concurrency.py --url http://127.0.0.1:8000 --token <source token>

``--clients`` threads (default 100), each on its own keep-alive connection (the standard
library's ``http.client``: a few µs per request of client time), send requests for
``--duration`` seconds (default 60) in the mix 50 % incident POSTs, 40 % list pages
(``open=true&page_size=100``), 10 % acknowledgements of incidents this run created. Then it
prints, per request type: requests/s, p50/p90/p99/max latency, statuses and errors (a
connection error or a status other than the expected one); and checks that every incident
answered 201 is stored (and every acknowledged one is acked), through the API.

If the hub serves ``/metrics`` (reachable with ``--metrics-token`` if it is protected), the
server's own time per route over the run is printed beside the client's: the difference is
time spent queued for a worker (connection handling), not in Django.

Before the run, ``--seed N`` (default 10,000) makes sure at least N incidents are stored
(through the bulk endpoint), so list pages read a realistic table.
"""

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from urllib.parse import urlsplit

KINDS = ("post", "list", "ack")
EXPECTED = {"post": 201, "list": 200, "ack": 201}
ROUTES = {
    "post": ("/api/v2/incidents/", "POST"),
    "list": ("/api/v2/incidents/", "GET"),
    "ack": ("/api/v2/incidents/<int:pk>/acks/", "POST"),
}


class Connection:
    """One keep-alive connection; reconnects after a failure (counted as an error)."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port or 80, timeout
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.conn = None

    def request(self, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        data = json.dumps(body).encode() if body is not None else None
        try:
            self.conn.request(method, path, data, self.headers)
            reply = self.conn.getresponse()
            return reply.status, reply.read()
        except Exception:
            self.conn.close()
            self.conn = None
            raise


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Run:
    def __init__(self, args) -> None:
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.errors: dict[str, Counter] = defaultdict(Counter)
        self.created: dict[int, str] = {}  # pk -> source_incident_id, every 201
        self.acked: set[int] = set()
        self.stop_at = 0.0
        self.counter = iter(range(1, 10**9))

    def client(self, n: int) -> None:
        rng = random.Random(n)
        conn = Connection(self.args.url, self.args.token, self.args.timeout)
        mine: list[int] = []
        while time.monotonic() < self.stop_at:
            roll = rng.random()
            kind = "post" if roll < 0.5 else "list" if roll < 0.9 else "ack"
            if kind == "ack" and not mine:
                kind = "post"
            started = time.perf_counter()
            try:
                if kind == "post":
                    sid = f"conc-{self.run_id}-{next(self.counter)}"
                    body = {
                        "start_time": now_iso(),
                        "description": f"concurrency bench {sid}",
                        "level": rng.randint(1, 5),
                        "source_incident_id": sid,
                        "tags": [{"tag": f"host=h{rng.randint(1, 500)}"}, {"tag": "bench=conc"}],
                    }
                    status, raw = conn.request("POST", "/api/v2/incidents/", body)
                elif kind == "list":
                    status, raw = conn.request("GET", "/api/v2/incidents/?open=true&page_size=100")
                else:
                    pk = rng.choice(mine)
                    status, raw = conn.request(
                        "POST", f"/api/v2/incidents/{pk}/acks/", {"timestamp": now_iso()}
                    )
            except Exception as exc:
                with self.lock:
                    self.errors[kind][type(exc).__name__] += 1
                continue
            took = time.perf_counter() - started
            with self.lock:
                self.latencies[kind].append(took)
                self.statuses[kind][status] += 1
                if status != EXPECTED[kind]:
                    self.errors[kind][f"HTTP {status}"] += 1
                elif kind == "post":
                    pk = json.loads(raw)["pk"]
                    self.created[pk] = sid
                    mine.append(pk)
                elif kind == "ack":
                    self.acked.add(pk)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def scrape(args) -> dict | None:
    """Server-side sums and counts per (route, method) from /metrics, or None."""
    conn = Connection(args.url, args.token, args.timeout)
    conn.headers = {"Authorization": f"Bearer {args.metrics_token}"} if args.metrics_token else {}
    try:
        status, raw = conn.request("GET", "/metrics")
    except Exception:
        return None
    if status != 200:
        return None
    out: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for line in raw.decode().splitlines():
        if not line.startswith("fleetwatch_http_request_duration_seconds_"):
            continue
        name, _, value = line.rpartition(" ")
        kind = "sum" if "_sum{" in name else "count" if "_count{" in name else None
        if kind is None:
            continue
        labels = dict(
            part.split("=", 1) for part in name[name.index("{") + 1 : -1].split('",') if part
        )
        labels = {k: v.strip('"') for k, v in labels.items()}
        key = (labels.get("route"), labels.get("method"))  # all statuses together
        out[key][0 if kind == "sum" else 1] += float(value)
    return out


def seed(args) -> None:
    conn = Connection(args.url, args.token, 120)
    status, raw = conn.request("GET", "/api/v2/incidents/?count")
    have = json.loads(raw)["count"] if status == 200 else 0
    missing = max(0, args.seed - have)
    batch = 1000
    while missing > 0:
        n = min(batch, missing)
        items = [
            {
                "start_time": now_iso(),
                "description": "seed",
                "source_incident_id": f"seed-{uuid.uuid4().hex}",
                "tags": [{"tag": "bench=seed"}],
                **({"end_time": now_iso()} if i % 2 else {}),
            }
            for i in range(n)
        ]
        status, raw = conn.request("POST", "/api/v2/incidents/bulk/", {"incidents": items})
        if status != 201:
            sys.exit(f"seeding failed: {status} {raw[:200]!r}")
        missing -= n
    print(f"stored incidents before the run: {max(have, args.seed)}")


def verify(run: Run) -> tuple[int, int, int]:
    """(incidents answered 201, of them found stored, acked ones found acked)."""
    conn = Connection(run.args.url, run.args.token, 60)
    pks = sorted(run.created)
    found, acked_ok = 0, 0
    for start in range(0, len(pks), 500):
        chunk = pks[start : start + 500]
        ids = ",".join(map(str, chunk))
        status, raw = conn.request("GET", f"/api/v2/incidents/?id__in={ids}&page_size=1000")
        if status != 200:
            print(f"verify: HTTP {status}", file=sys.stderr)
            continue
        for row in json.loads(raw)["results"]:
            if run.created.get(row["pk"]) == row["source_incident_id"]:
                found += 1
                if row["pk"] in run.acked and row["acked"]:
                    acked_ok += 1
    return len(pks), found, acked_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a source system's API token")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=60, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--metrics-token", default="")
    args = parser.parse_args()

    seed(args)
    run = Run(args)
    before = scrape(args)
    threads = [threading.Thread(target=run.client, args=(n,)) for n in range(args.clients)]
    run.stop_at = time.monotonic() + args.duration
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    after = scrape(args)

    total = sum(len(v) for v in run.latencies.values())
    errors = sum(sum(c.values()) for c in run.errors.values())
    print(
        f"{args.clients} clients, {elapsed:.1f} s: {total / elapsed:.1f} requests/s, "
        f"{errors} errors"
    )
    print(
        f"{'type':5} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'server ms':>10}  statuses / errors"
    )
    for kind in KINDS:
        lat = run.latencies[kind]
        server = ""
        if before is not None and after is not None:
            key = ROUTES[kind]
            s = after.get(key, [0, 0])
            b = before.get(key, [0, 0])
            if s[1] - b[1] > 0:
                server = f"{(s[0] - b[0]) / (s[1] - b[1]) * 1000:.1f}"
        print(
            f"{kind:5} {len(lat):6d} {len(lat) / elapsed:7.1f} {pct(lat, 50) * 1000:8.1f} "
            f"{pct(lat, 90) * 1000:8.1f} {pct(lat, 99) * 1000:8.1f} "
            f"{(max(lat) if lat else 0) * 1000:8.1f} {server:>10}  "
            f"{dict(run.statuses[kind])} {dict(run.errors[kind]) or ''}"
        )
        if lat:
            print(f"      mean {statistics.fmean(lat) * 1000:.1f} ms")
    if before is None or after is None:
        print("(no /metrics: server-side times not shown)")
    created, stored, acked = verify(run)
    print(
        f"verify: {created} incidents answered 201, {stored} stored "
        f"({'OK' if stored == created else 'MISSING ' + str(created - stored)}); "
        f"{len(run.acked)} acknowledged, {acked} acked "
        f"({'OK' if acked == len(run.acked) else 'MISSING'})"
    )
    sys.exit(0 if stored == created and acked == len(run.acked) and not errors else 1)


if __name__ == "__main__":
    main()
