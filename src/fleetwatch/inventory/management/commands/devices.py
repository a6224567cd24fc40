"""``fleetwatch devices rematch|link-incidents|recount|show ID|stats``."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from tqdm import tqdm

from fleetwatch.connectors.models import VendorDevice
from fleetwatch.incidents.models import Incident
from fleetwatch.inventory import services
from fleetwatch.inventory.models import Device


class Command(BaseCommand):
    help = "The device inventory (see README, 'Device inventory')."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "rematch", help="match every vendor record again from scratch (manual links kept)"
        )
        sub.add_parser(
            "link-incidents",
            help="tie incidents not yet tied to a device whose tags name a known MAC or hostname",
        )
        sub.add_parser("recount", help="count every device's open incidents again")
        show = sub.add_parser("show", help="one device, its records and why they are linked")
        show.add_argument("device", type=int)
        sub.add_parser("stats", help="devices, records, links by rule, conflicts")

    def handle(self, *args, action: str, **options):
        getattr(self, action.replace("-", "_"))(**options)

    def rematch(self, **_options) -> None:
        total = VendorDevice.objects.count()
        with tqdm(total=total, unit="records", disable=total < 1000) as bar:
            stats = services.rematch(progress=bar.update)
        self.stdout.write(json.dumps({"records": total, **stats}, sort_keys=True))

    def link_incidents(self, **_options) -> None:
        linked = services.link_incidents(Incident.objects.all())
        self.stdout.write(f"{linked} incidents linked")

    def recount(self, **_options) -> None:
        services.recount_all()
        troubled = Device.objects.filter(open_incident_count__gt=0).count()
        self.stdout.write(f"{troubled} devices with open incidents")

    def show(self, *, device: int, **_options) -> None:
        from fleetwatch.inventory.api.serializers import DeviceDetailSerializer

        found = Device.objects.filter(pk=device).first()
        if found is None:
            raise CommandError(f"no device {device}")
        self.stdout.write(json.dumps(DeviceDetailSerializer(found).data, indent=2, default=str))

    def stats(self, **_options) -> None:
        from fleetwatch.inventory.models import DeviceLink

        rules = dict(DeviceLink.objects.values_list("rule").annotate(n=Count("pk")))
        self.stdout.write(
            json.dumps(
                {
                    "devices": Device.objects.count(),
                    "records": VendorDevice.objects.count(),
                    "links": rules,
                },
                sort_keys=True,
            )
        )
