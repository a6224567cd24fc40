"""Benchmark: the device inventory's matching and device list (issue 13).

    python bench/inventory.py [--records 100000] [--changed 10000]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fw_bench python bench/inventory.py

1. Stores ``--records`` vendor records from three vendors (45 % 7SIGNAL agents, 45 %
   MetaAccess devices — two thirds of them the same laptops, by MAC, some with a second wired
   MAC — and 10 % Sensaphone units), then times ``fleetwatch devices rematch`` (matching them
   all from scratch): records/s and SQL statements per record.
2. An incremental poll: ``--changed`` MetaAccess records change (new IP, renamed host) and
   are stored the way a poll stores them (``engine.store_devices``, which matches them):
   records/s and statements per record.
3. Tops the inventory up to ``--devices`` devices, ties 2,000 open incidents from two
   sources to 1,000 devices, and times pages of ``GET /api/v2/devices/`` through the
   in-process WSGI stack (first page, a page 50 pages deep by cursor, and filtered pages).

Uses DATABASE_URL if set (a throwaway database: migrated and written to), else a temporary
SQLite file. Prints figures; asserts nothing.
"""

import argparse
import os
import statistics
import tempfile
import time


def setup() -> None:
    os.environ.setdefault("FLEETWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fw-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    os.environ["FLEETWATCH_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def mac(i: int, prefix: int = 0xAA) -> str:
    return (
        f"{prefix:02X}:{i >> 24 & 255:02X}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}:01"
    )


def records(n: int):
    from datetime import UTC, datetime

    from fleetwatch.connectors.base import DeviceRecord

    now = datetime.now(UTC)
    agents = int(n * 0.45)
    shared = agents * 2 // 3
    seven = [
        DeviceRecord(vendor_id=f"a{i}", name=f"WIN-{i}", mac=mac(i), last_seen=now)
        for i in range(agents)
    ]
    meta = []
    for j in range(agents):
        i = j if j < shared else agents + j
        macs = [mac(i, 0x3C), mac(i)] if j % 20 == 0 else [mac(i)]
        meta.append(
            DeviceRecord(
                vendor_id=f"m{j}",
                name=f"win-{i}.corp.example",
                mac=macs[0],
                last_seen=now,
                data={"macs": macs},
            )
        )
    sensa = [
        DeviceRecord(vendor_id=str(k), name=f"Unit {k}", last_seen=now, data={"serial": f"SP{k}"})
        for k in range(n - 2 * agents)
    ]
    return {"7signal": seven, "metaaccess": meta, "sensaphone": sensa}


def connectors():
    from fleetwatch.connectors.models import Connector, ConnectorState
    from fleetwatch.incidents.sources import create_source

    made = {}
    for vendor in ("7signal", "metaaccess", "sensaphone"):
        source = create_source(f"b-{vendor}", vendor, username=f"b-{vendor}", create_type=True)
        made[vendor] = Connector.objects.create(
            name=f"b-{vendor}", vendor=vendor, base_url="https://example.org", source=source
        )
        ConnectorState.objects.create(connector=made[vendor])
    return made


def counted(fn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        c0, w0 = time.process_time(), time.perf_counter()
        result = fn()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return result, cpu, wall, len(ctx.captured_queries)


def page_times(client, url: str, repeat: int = 5) -> tuple[float, float, int]:
    """Median wall and hub-CPU ms of ``repeat`` requests, and the SQL statements of one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        times.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        assert response.status_code == 200, response.content[:300]
    return statistics.median(times) * 1000, statistics.median(cpus) * 1000, len(ctx)


def sql_ms(url: str) -> float:
    """Database execution time of the page's device query (EXPLAIN ANALYZE; PostgreSQL)."""
    from django.conf import settings
    from django.db import connection
    from django.http import QueryDict

    from fleetwatch.inventory.api.filters import DeviceFilterSet
    from fleetwatch.inventory.models import Device

    if connection.vendor != "postgresql" or "cursor=" in url:
        return float("nan")
    params = QueryDict(url.partition("?")[2])
    qs = DeviceFilterSet(params, queryset=Device.objects.all()).qs
    size = int(params.get("page_size") or settings.PAGE_SIZE_DEFAULT)
    qs = qs.order_by("-created", "-id")[: size + 1]
    sql, args = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, args)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else plan
    return float(plan["Execution Time"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args()
    setup()
    from datetime import UTC, datetime, timedelta

    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import override_settings
    from rest_framework.authtoken.models import Token

    from fleetwatch.connectors import engine
    from fleetwatch.connectors.models import VendorDevice
    from fleetwatch.inventory import services
    from fleetwatch.inventory.models import Device, IncidentDevice

    print(f"database: {connection.vendor}")
    made, data = connectors(), records(args.records)
    w0 = time.perf_counter()
    for vendor, recs in data.items():
        with transaction.atomic():
            engine.store_devices(made[vendor], recs)
    print(
        f"stored (and matched as polls) {args.records} records in {time.perf_counter() - w0:.1f} s"
    )

    stats, cpu, wall, queries = counted(services.rematch)
    n = VendorDevice.objects.count()
    print(
        f"rematch from scratch: {n} records in {wall:.1f} s ({n / wall:,.0f} records/s, "
        f"CPU {cpu:.1f} s), {queries} statements = {queries / n:.3f} per record; "
        f"devices {Device.objects.count()}; rules {dict(stats)}"
    )

    changed = data["metaaccess"][: args.changed]
    for k, record in enumerate(changed):
        record.ip = f"10.9.{k >> 8 & 255}.{k & 255}"
        if k % 10 == 0:
            record.name = f"DESKTOP-{k:07d}"

    def incremental():
        with transaction.atomic():
            return engine.store_devices(made["metaaccess"], changed)

    summary, cpu, wall, queries = counted(incremental)
    print(
        f"incremental poll: {len(changed)} changed records stored and matched in {wall:.2f} s "
        f"({len(changed) / wall:,.0f} records/s, CPU {cpu:.2f} s), {queries} statements = "
        f"{queries / len(changed):.4f} per record; {summary}"
    )

    extra = args.devices - Device.objects.count()
    if extra > 0:
        Device.objects.bulk_create(
            [Device(name=f"spare-{i}") for i in range(extra)], batch_size=5000
        )
    _incidents(made, list(Device.objects.order_by("pk").values_list("pk", flat=True)[:1000]))
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench", is_staff=True)
    token = Token.objects.create(user=user)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    print(f"devices: {Device.objects.count()}, incident links: {IncidentDevice.objects.count()}")
    recent = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"load average: {os.getloadavg()}")
    with override_settings(DEBUG=False):
        first = client.get("/api/v2/devices/?page_size=100").json()
        url = first["next"]
        for _ in range(49):
            url = client.get(url).json()["next"]
        for label, target in [
            ("first page (100)", "/api/v2/devices/?page_size=100"),
            ("page 51 by cursor", url),
            ("vendor=metaaccess", "/api/v2/devices/?page_size=100&vendor=metaaccess"),
            ("has_open_incidents", "/api/v2/devices/?page_size=100&has_open_incidents=true"),
            (
                "vendors_in_trouble__gte=2",
                "/api/v2/devices/?page_size=100&vendors_in_trouble__gte=2",
            ),
            ("has_open_incidents=false", "/api/v2/devices/?page_size=100&has_open_incidents=false"),
            ("vendor=sensaphone", "/api/v2/devices/?page_size=100&vendor=sensaphone"),
            ("last_seen__gte (recent)", "/api/v2/devices/?page_size=100&last_seen__gte=" + recent),
            ("search by MAC", "/api/v2/devices/?search=" + mac(77).replace(":", "-")),
            ("search by name", "/api/v2/devices/?search=win-4242"),
            ("search, no match", "/api/v2/devices/?search=nothing-like-it"),
        ]:
            wall, cpu, queries = page_times(client, target)
            print(
                f"  GET devices {label}: {wall:.1f} ms wall, {cpu:.1f} ms hub CPU, "
                f"{queries} statements; device query {sql_ms(target):.2f} ms in PostgreSQL"
            )


def _incidents(made, device_ids) -> None:
    from datetime import UTC, datetime

    from fleetwatch.incidents.models import INFINITY, Incident
    from fleetwatch.inventory import trouble
    from fleetwatch.inventory.models import IncidentDevice

    now = datetime.now(UTC)
    rows = []
    for vendor in ("7signal", "metaaccess"):
        source = made[vendor].source
        for k, pk in enumerate(device_ids):
            rows.append(
                (
                    Incident(
                        source=source,
                        start_time=now,
                        end_time=INFINITY,
                        source_incident_id=f"b{vendor}{k}",
                        description="bench",
                    ),
                    pk,
                )
            )
    Incident.objects.bulk_create([i for i, _ in rows], batch_size=2000)
    IncidentDevice.objects.bulk_create(
        [IncidentDevice(incident=i, device_id=pk) for i, pk in rows], batch_size=2000
    )
    trouble.refresh(device_ids)  # what linking does as it ties incidents (made directly here)


if __name__ == "__main__":
    main()
