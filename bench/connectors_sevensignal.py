"""Benchmark: ingest a 7SIGNAL backlog of 10,000 incidents into the hub through the connector.

    python bench/connectors_sevensignal.py [--incidents 10000]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fw_bench \
        python bench/connectors_sevensignal.py

Starts a 7SIGNAL emulator in-process on 127.0.0.1 (rate limit off), fills it with the backlog
through its control API, then times the connector's first poll (everything new) and a second
poll (everything unchanged). Uses DATABASE_URL if set — give it a throwaway database, it is
migrated and written to — else a temporary SQLite file. Prints figures; asserts nothing.
"""

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("FLEETWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fw-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    os.environ["FLEETWATCH_CONNECTOR_ALLOW_PRIVATE"] = "true"  # the emulator is on 127.0.0.1
    import django

    django.setup()
    import httpx
    from django.core.management import call_command
    from django.db import connection

    from fleetwatch.connectors.engine import run_poll
    from fleetwatch.connectors.models import Connector
    from fleetwatch.connectors.services import create_connector
    from fleetwatch.emulators.server import EmulatorServer

    call_command("migrate", verbosity=0)
    Connector.objects.filter(name="bench-7signal").update(enabled=False, name=f"old-{time.time()}")
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    with EmulatorServer("7signal", seed=9, devices=2000) as server:
        control = httpx.Client(base_url=server.url, timeout=30)
        control.put("/_emulator/ratelimit", json={"enabled": False}).raise_for_status()
        start = time.perf_counter()

        def create(_: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as c:
                for _ in range(args.incidents // 8):
                    c.post(
                        "/_emulator/scenario", json={"action": "create_incident"}
                    ).raise_for_status()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(8)))
        truth = control.get("/_emulator/truth").json()
        print(
            f"backlog: {len(truth['open_incidents'])} open incidents in the emulator "
            f"(made in {time.perf_counter() - start:.1f} s)"
        )
        connector = create_connector(
            name="bench-7signal",
            vendor="7signal",
            base_url=server.url,
            credentials={"client_id": "fleetwatch-demo", "client_secret": "demo-secret"},
            options={"rate_limit": [1000, 1.0], "agents_every": 10**9},
        )
        for label in ("first poll (all new)", "second poll (all unchanged)"):
            begin = time.perf_counter()
            outcome = run_poll(connector.pk)
            elapsed = time.perf_counter() - begin
            if outcome.status != "ok":
                sys.exit(f"poll failed: {outcome.summary}")
            counts = outcome.summary["incidents"]
            total = sum(counts.values())
            print(
                f"{label:<28} {total:6d} incidents in {elapsed:6.2f} s = "
                f"{total / elapsed:8.0f} incidents/s   {counts}"
            )
        connector.enabled = False
        connector.save()


if __name__ == "__main__":
    main()
