"""Benchmark: a full MetaAccess sync of 10,000 devices under a rate limit, then steady polls.

    python bench/connectors_metaaccess.py [--devices 10000] [--limit 100] [--window 10]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fw_bench \
        python bench/connectors_metaaccess.py

Starts a MetaAccess emulator in-process on 127.0.0.1 with a fleet of about ``--devices``
MetaAccess devices and a clock that only moves when told to. The emulator enforces
``--limit`` requests per ``--window`` seconds (sliding window per client_id) and the connector
is configured to the same limit, so the vendor's real 10/min is scaled up 60× to keep the run
short: the pacing logic is identical. Then:

1. the first poll: a full resync (v3.6 device list) plus the last hour of blocked activities;
2. ``--steady`` delta polls back to back, the emulator clock moved one minute between them.

Prints requests used against the minimum possible (token + pages needed), the achieved request
rate as a share of the allowed one (and the most requests seen in any window), 429s, and
incidents created per second. Uses DATABASE_URL if set — give it a throwaway database, it is
migrated and written to — else a temporary SQLite file. Asserts nothing.
"""

import argparse
import math
import os
import sys
import tempfile
import time


def most_in_window(times: list[float], window: float) -> int:
    """The most requests sent within any ``window`` seconds (a sliding window, like the vendor)."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def fleet_for(target: int, seed: int) -> tuple[int, int]:
    """A fleet size whose MetaAccess share is about ``target`` devices (laptops and desktops
    run the agent; phones and sensors do not)."""
    from fleetwatch.emulators.fleet import generate_fleet

    size = target
    for _ in range(3):
        have = len(generate_fleet(seed, size).metaaccess_devices())
        if have == target:
            break
        size = max(1, round(size * target / max(have, 1)))
    return size, len(generate_fleet(seed, size).metaaccess_devices())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--steady", type=int, default=20, help="delta polls after the sync")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("FLEETWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fw-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    os.environ["FLEETWATCH_CONNECTOR_ALLOW_PRIVATE"] = "true"  # the emulator is on 127.0.0.1
    import django

    django.setup()
    import httpx
    from django.core.management import call_command
    from django.db import connection

    from fleetwatch.connectors import engine
    from fleetwatch.connectors.http import VendorHTTP
    from fleetwatch.connectors.models import Connector
    from fleetwatch.connectors.services import create_connector
    from fleetwatch.emulators.clock import SimClock
    from fleetwatch.emulators.server import EmulatorServer

    call_command("migrate", verbosity=0)
    name = "bench-metaaccess"
    Connector.objects.filter(name=name).update(enabled=False, name=f"old-{time.time():.0f}")
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")

    sent: list[float] = []  # when each request left, token requests included
    send_once = VendorHTTP.send_once

    def recording_send_once(self, req):
        sent.append(time.monotonic())
        return send_once(self, req)

    VendorHTTP.send_once = recording_send_once
    store_seconds: list[float] = []
    store = engine.store

    def timed_store(*a, **kw):
        begin = time.perf_counter()
        try:
            return store(*a, **kw)
        finally:
            store_seconds.append(time.perf_counter() - begin)

    engine.store = timed_store

    size, _ = fleet_for(args.devices, args.seed)
    allowed = args.limit / args.window
    clock = SimClock(speed=1e-9)
    with EmulatorServer("metaaccess", seed=args.seed, devices=size, clock=clock) as server:
        control = httpx.Client(base_url=server.url, timeout=30)
        control.put(
            "/_emulator/ratelimit", json={"limit": args.limit, "window": args.window}
        ).raise_for_status()
        truth = control.get("/_emulator/truth").json()
        devices = truth["devices"]  # live now: the day of history enrolled and deleted some
        print(
            f"emulator: {devices} MetaAccess devices (fleet {size}), "
            f"{len(truth['non_compliant_devices'])} non-compliant; limit {args.limit} requests "
            f"/ {args.window:g} s on both sides ({allowed:g}/s)"
        )
        connector = create_connector(
            name=name,
            vendor="metaaccess",
            base_url=server.url,
            credentials=control.get("/_emulator/credentials").json(),
            options={"rate_limit": [args.limit, args.window]},
        )

        # 1. The full sync.
        begin = time.perf_counter()
        outcome = engine.run_poll(connector.pk)
        elapsed = time.perf_counter() - begin
        if outcome.status != "ok":
            sys.exit(f"poll failed: {outcome.summary}")
        summary = outcome.summary
        pages = summary["pages"]
        activity_pages = max(1, math.ceil(summary["activities_seen"] / 50))
        minimum = 1 + math.ceil(devices / 50) + activity_pages
        span = sent[-1] - sent[0]
        rate = (len(sent) - 1) / span if span > 0 else float("inf")
        created = summary["incidents"]["created"]
        counters = control.get("/_emulator/counters").json()
        print("\nfull sync")
        print(
            f"  requests       {summary['requests']} used, {minimum} minimum "
            f"(1 token + {math.ceil(devices / 50)} device pages + {activity_pages} activity "
            f"pages for {summary['activities_seen']} blocked activities); pages read {pages}"
        )
        print(
            f"  request rate   {rate:.3f}/s = {rate / allowed:.3f} of the allowed {allowed:g}/s; "
            f"most in any {args.window:g} s: {most_in_window(sent, args.window)} "
            f"(limit {args.limit})"
        )
        print(
            f"  429s           {counters['rate_limited']} at the emulator, "
            f"{summary['rate_limited']} seen by the connector"
        )
        print(
            f"  incidents      {created} created in {elapsed:.1f} s = {created / elapsed:.0f}/s "
            f"of poll time; the store step took {store_seconds[-1]:.2f} s = "
            f"{created / store_seconds[-1]:.0f}/s (+ {summary['devices']['created']} devices)"
        )

        # 2. Steady state: delta polls back to back, a minute of vendor time between them.
        control.delete("/_emulator/counters").raise_for_status()
        first = len(sent)
        made = ended = 0
        begin = time.perf_counter()
        for _ in range(args.steady):
            control.post("/_emulator/clock/advance", json={"seconds": 60}).raise_for_status()
            outcome = engine.run_poll(connector.pk)
            if outcome.status != "ok":
                sys.exit(f"poll failed: {outcome.summary}")
            made += outcome.summary["incidents"]["created"]
            ended += outcome.summary["ended"]
        elapsed = time.perf_counter() - begin
        steady = sent[first:]
        counters = control.get("/_emulator/counters").json()
        open_now = connector.source.incidents.open().exclude(
            source_incident_id__startswith=engine.HEALTH_ID
        )
        truth = control.get("/_emulator/truth").json()
        print(f"\nsteady state: {args.steady} delta polls in {elapsed:.1f} s")
        print(
            f"  requests       {len(steady)} ({len(steady) / args.steady:.1f} per poll); "
            f"most in any {args.window:g} s: {most_in_window(steady, args.window)} "
            f"(limit {args.limit})"
        )
        print(f"  429s           {counters['rate_limited']} at the emulator")
        print(f"  incidents      {made} created, {ended} ended")
        print(
            f"  hub vs truth   {open_now.count()} open device incidents in the hub, "
            f"{len(truth['non_compliant_devices'])} non-compliant devices at the vendor"
        )
        connector.enabled = False
        connector.save()


if __name__ == "__main__":
    main()
