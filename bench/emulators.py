"""Emulator benchmark: fleet build time, memory and request throughput for each vendor emulator.

    .venv/bin/python bench/emulators.py [--devices 100000] [--requests 3000] [--concurrency 4]
                                        [--vendors 7signal,metaaccess,sensaphone]

For each vendor whose module exists, this builds a fleet of ``--devices`` endpoints, serves the
emulator in this process (uvicorn on a background thread, loopback only; the emulator is the
system under test), lifts its rate limits through the control API, then sends ``--requests``
small requests per probe from ``--concurrency`` client *processes* (so the clients do not compete
with the server for this process's GIL). It prints figures and asserts nothing about timing.

Adding a vendor: add an entry to ``BENCHES`` below that builds a ``VendorBench``: a ``prepare``
function that logs in with the demo credentials and returns the ready-made requests (``Probe``)
to time, and the ``PUT /_emulator/ratelimit`` body that disables or lifts its limits. Vendors
keep that knowledge in their own module (``<vendor>.bench.BENCH``); the entry here adapts it.
"""

import argparse
import importlib.util
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx


@dataclass(frozen=True)
class Probe:
    """One request to time; ``kwargs`` go to ``httpx.Client.request`` (headers, params, json)."""

    label: str
    method: str
    path: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class VendorBench:
    """What the bench needs to know about a vendor: how to log in, what to hit, how to unthrottle.

    ``prepare(client, credentials)`` gets an httpx client whose base_url is the emulator and the
    dict from ``GET /_emulator/credentials``; it returns the probes, each carrying its own auth.
    """

    prepare: Callable[[httpx.Client, dict], list[Probe]]
    ratelimit_off: dict


def bench_7signal() -> VendorBench:
    """7SIGNAL ships its own hook (fleetwatch.emulators.sevensignal.bench.BENCH)."""
    from fleetwatch.emulators.sevensignal.bench import BENCH

    def prepare(client: httpx.Client, credentials: dict) -> list[Probe]:
        return [Probe(**spec) for spec in BENCH["prepare"](client, credentials)]

    return VendorBench(prepare, ratelimit_off=BENCH["ratelimit_off"])


def bench_metaaccess() -> VendorBench:
    """MetaAccess ships its own hook (fleetwatch.emulators.metaaccess.bench.BENCH)."""
    from fleetwatch.emulators.metaaccess.bench import BENCH

    def prepare(client: httpx.Client, credentials: dict) -> list[Probe]:
        return [Probe(**spec) for spec in BENCH["prepare"](client, credentials)]

    return VendorBench(prepare, ratelimit_off=BENCH["ratelimit_off"])


def bench_sensaphone() -> VendorBench:
    """Sensaphone.net's hook (fleetwatch.emulators.sensaphone.BENCH): a JSON-mode login, then
    URI-mode reads with the account id and session in the path."""
    from fleetwatch.emulators.sensaphone import BENCH, bench_paths

    def prepare(client: httpx.Client, credentials: dict) -> list[Probe]:
        login = BENCH["login"]
        response = client.request(login["method"], login["path"], json=login["json"])
        response.raise_for_status()
        return [
            Probe(f"GET {name}: {BENCH[name].rsplit('{session}/', 1)[-1]}", "GET", path)
            for name, path in bench_paths(response.json()).items()
        ]

    return VendorBench(prepare, ratelimit_off={"enabled": False})


# Vendor name -> a function building its VendorBench. Called only for vendors whose emulator
# module exists, so a vendor's hook is imported lazily. A new vendor adds one entry here.
BENCHES: dict[str, Callable[[], VendorBench]] = {
    "7signal": bench_7signal,
    "metaaccess": bench_metaaccess,
    "sensaphone": bench_sensaphone,
}


def rss_mib() -> float:
    """This process's resident set size (VmRSS in /proc/self/status), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _client_worker(
    base_url: str, probe: Probe, count: int, barrier, results: "multiprocessing.Queue"
) -> None:
    """A load-generating process: warm up, wait for the others, then time ``count`` requests."""
    latencies: list[float] = []
    failures = 0
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(10):
            client.request(probe.method, probe.path, **probe.kwargs)
        barrier.wait()
        started = time.monotonic()
        for _ in range(count):
            before = time.perf_counter()
            response = client.request(probe.method, probe.path, **probe.kwargs)
            latencies.append(time.perf_counter() - before)
            failures += response.status_code != 200
        finished = time.monotonic()
    results.put((latencies, failures, started, finished))


def drive(base_url: str, probe: Probe, requests: int, concurrency: int) -> dict:
    """Send ``requests`` requests from ``concurrency`` processes; throughput and latency figures."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(concurrency), context.Queue()
    shares = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]
    workers = [
        context.Process(target=_client_worker, args=(base_url, probe, n, barrier, results))
        for n in shares
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(x for outcome in outcomes for x in outcome[0])
    span = max(o[3] for o in outcomes) - min(o[2] for o in outcomes)
    return {
        "requests": len(latencies),
        "failures": sum(o[1] for o in outcomes),
        "rps": len(latencies) / span if span > 0 else float("inf"),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def bench_vendor(name: str, bench: VendorBench, args: argparse.Namespace) -> None:
    from fleetwatch.emulators.clock import SimClock
    from fleetwatch.emulators.fleet import generate_fleet
    from fleetwatch.emulators.server import EmulatorServer, vendor_class

    vendor_class(name)  # import the vendor module first, so RSS deltas measure data only
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(f"== {name}: {args.devices:,} devices, seed {args.seed}")
    print(f"  host: {os.cpu_count()} CPUs; uvicorn HTTP parser: {http}")
    rss_start = rss_mib()
    started = time.perf_counter()
    fleet = generate_fleet(args.seed, args.devices)
    fleet_seconds = time.perf_counter() - started
    rss_fleet = rss_mib()
    print(f"  fleet build     {fleet_seconds:7.2f} s    RSS +{rss_fleet - rss_start:6.1f} MiB")
    started = time.perf_counter()
    clock = SimClock(datetime.now(UTC).replace(second=0, microsecond=0))
    server = EmulatorServer(name, seed=args.seed, fleet=fleet, clock=clock)
    emulator_seconds = time.perf_counter() - started
    rss_emulator = rss_mib()
    print(
        f"  emulator build  {emulator_seconds:7.2f} s    RSS +{rss_emulator - rss_fleet:6.1f} MiB"
        f"    process RSS {rss_emulator:6.1f} MiB"
    )
    with server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            client.put("/_emulator/ratelimit", json=bench.ratelimit_off).raise_for_status()
            credentials = client.get("/_emulator/credentials").json()
            probes = bench.prepare(client, credentials)
        for probe in probes:
            figures = drive(server.url, probe, args.requests, args.concurrency)
            print(
                f"  {probe.label}\n      {figures['requests']:,} requests, {args.concurrency} "
                f"clients: {figures['rps']:7,.0f} req/s   p50 {figures['p50_ms']:6.2f} ms   "
                f"p99 {figures['p99_ms']:6.2f} ms   non-200: {figures['failures']}"
            )
    print(f"  process RSS after serving {rss_mib():6.1f} MiB")


def main() -> None:
    from fleetwatch.emulators.server import VENDORS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3000, help="per probe (default 3000)")
    parser.add_argument("--concurrency", type=int, default=4, help="client processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--vendors", default=",".join(VENDORS), help="comma-separated")
    args = parser.parse_args()
    names = args.vendors.split(",")
    if len(names) > 1:  # one process per vendor, so each RSS figure is that vendor's alone
        for name in names:
            passed = ["--devices", str(args.devices), "--requests", str(args.requests)]
            passed += ["--concurrency", str(args.concurrency), "--seed", str(args.seed)]
            subprocess.run([sys.executable, __file__, "--vendors", name, *passed], check=False)
        return
    for name in names:
        module = VENDORS[name].partition(":")[0]
        if importlib.util.find_spec(module) is None:
            print(f"== {name}: skipped, {module} does not exist yet")
            continue
        make_bench = BENCHES.get(name)
        if make_bench is None:
            print(f"== {name}: skipped, no entry in BENCHES (bench/emulators.py) yet")
            continue
        bench_vendor(name, make_bench(), args)


if __name__ == "__main__":
    main()
