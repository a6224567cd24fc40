"""Benchmark: the console's devices pages at ``--devices`` devices (issue 13).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fw_bench python bench/web_devices.py

Creates ``--devices`` devices (each with one 7SIGNAL record) and ties an open incident from
7SIGNAL and one from MetaAccess to ``--troubled`` of them (in trouble with two vendors), then
renders through Django's test client (whole middleware stack, a logged-in session): the
devices page (its "in trouble" section and first page), a page 50 pages deep by cursor,
filtered pages, and one device's page. Prints server CPU per page (median of 5), SQL
statements and bytes. Uses DATABASE_URL if set (a throwaway database: migrated and written
to), else a temporary SQLite file. Asserts nothing.
"""

import argparse
import os
import statistics

from inventory import _incidents, connectors, counted, setup


def _fleet(made, n: int) -> None:
    from fleetwatch.connectors.models import VendorDevice
    from fleetwatch.inventory.models import Device, DeviceLink

    devices = Device.objects.bulk_create(
        [Device(name=f"laptop-{i}") for i in range(n)], batch_size=5000
    )
    records = VendorDevice.objects.bulk_create(
        [
            VendorDevice(connector=made["7signal"], vendor_id=f"a{i}", name=f"laptop-{i}")
            for i in range(n)
        ],
        batch_size=5000,
    )
    DeviceLink.objects.bulk_create(
        [
            DeviceLink(vendor_device=r, device=d, rule="new")
            for r, d in zip(records, devices, strict=True)
        ],
        batch_size=5000,
    )


def measure(client, url: str, repeat: int = 5) -> tuple[float, float, int, int]:
    """Median Python CPU and wall time (ms; the wall time includes the database's work),
    statements and bytes of GET ``url``."""
    cpu, wall = [], []
    for _ in range(repeat):
        (response, c, w, queries) = counted(lambda: client.get(url))
        assert response.status_code == 200, response.content[:300]
        cpu.append(c)
        wall.append(w)
    ms = 1000
    return statistics.median(cpu) * ms, statistics.median(wall) * ms, queries, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--troubled", type=int, default=1_000)
    args = parser.parse_args()
    setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from fleetwatch.inventory.models import Device

    print(f"database: {connection.vendor}")
    made = connectors()
    _fleet(made, args.devices)
    troubled = list(Device.objects.order_by("pk").values_list("pk", flat=True)[: args.troubled])
    _incidents(made, troubled)
    user = get_user_model().objects.create_user("bench-web")
    client = Client()
    client.force_login(user)
    with override_settings(DEBUG=False):
        url = "/devices/"
        for _ in range(50):
            body = client.get(url).content.decode()
            url = "/devices/" + body.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
            url = url.replace("&amp;", "&")
        for label, target in [
            ("devices page (in trouble + first 50)", "/devices/"),
            ("page 51 by cursor", url),
            ("has_open_incidents=true", "/devices/?has_open_incidents=true"),
            ("vendors_in_trouble__gte=2", "/devices/?vendors_in_trouble__gte=2"),
            ("search=laptop-4242", "/devices/?search=laptop-4242"),
            ("one device's page", f"/devices/{troubled[0]}/"),
        ]:
            cpu, wall, queries, size = measure(client, target)
            print(
                f"  GET {label}: {cpu:.1f} ms CPU, {wall:.1f} ms wall, {queries} statements, "
                f"{size / 1000:.1f} kB"
            )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
