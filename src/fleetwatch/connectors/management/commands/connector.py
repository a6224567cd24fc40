"""``fleetwatch connector add|list|show|test|sync|enable|disable|delete``."""

import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from fleetwatch.connectors.engine import run_poll
from fleetwatch.connectors.models import Connector, Vendor
from fleetwatch.connectors.services import (
    CheckFailed,
    check_connector,
    create_connector,
    delete_connector,
)
from fleetwatch.connectors.services import connector_health as health
from fleetwatch.connectors.tasks import run_now


def parse_pairs(pairs: list[str], what: str, as_json: bool = False) -> dict:
    values = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--{what} takes KEY=VALUE, not {pair!r}")
        if as_json:
            try:
                value = json.loads(value)
            except ValueError:
                pass  # a bare string
        values[key] = value
    return values


class Command(BaseCommand):
    help = "Manage vendor connectors (see README, 'Connectors')."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a connector (and its source system)")
        add.add_argument("name")
        add.add_argument("--vendor", required=True, choices=Vendor.values)
        add.add_argument("--url", required=True, help="the vendor API's base URL")
        add.add_argument(
            "--credentials-file",
            help="JSON file with the credentials ('-' reads standard input); preferred, "
            "since --credential values show up in the process list",
        )
        add.add_argument("--credential", action="append", metavar="KEY=VALUE")
        add.add_argument("--interval", type=int, default=60, help="seconds between polls")
        add.add_argument("--option", action="append", metavar="KEY=JSON")
        add.add_argument("--disabled", action="store_true")
        sub.add_parser("list", help="every connector with its health")
        for name, text in [
            ("show", "one connector's settings (never its credentials) and health"),
            ("test", "log in and make one cheap call"),
            ("sync", "run one poll now, in the foreground"),
            ("enable", "poll on schedule again (and now)"),
            ("disable", "stop polling"),
            ("delete", "delete the connector; its source system and incidents stay"),
        ]:
            sub.add_parser(name, help=text).add_argument("name")

    def handle(self, action, **options):
        return getattr(self, f"do_{action}")(**options)

    def get(self, name: str) -> Connector:
        try:
            return Connector.objects.select_related("source").get(name=name)
        except Connector.DoesNotExist:
            raise CommandError(f"no connector named {name!r}") from None

    def do_add(
        self, name, vendor, url, credentials_file, credential, interval, option, disabled, **_
    ):
        credentials = parse_pairs(credential, "credential")
        if credentials_file:
            fh = sys.stdin if credentials_file == "-" else open(credentials_file)
            try:
                credentials.update(json.load(fh))
            except ValueError as exc:
                raise CommandError(f"credentials file is not JSON: {exc}") from None
            finally:
                if fh is not sys.stdin:
                    fh.close()
        try:
            connector = create_connector(
                name=name,
                vendor=vendor,
                base_url=url,
                credentials=credentials,
                poll_interval=interval,
                enabled=not disabled,
                options=parse_pairs(option, "option", as_json=True),
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        self.stdout.write(
            f"Created connector {connector.name} ({vendor}) with source {connector.source.name!r}."
        )

    def do_list(self, **_):
        rows = [("NAME", "VENDOR", "ENABLED", "EVERY", "LAST SUCCESS", "FAILS", "LAST ERROR")]
        for connector in Connector.objects.all():
            h = health(connector)
            rows.append(
                (
                    connector.name,
                    connector.vendor,
                    "yes" if connector.enabled else "no",
                    f"{connector.poll_interval}s",
                    h["last_success"] or "never",
                    str(h["consecutive_failures"]),
                    (h["last_error"] or "")[:60],
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            )

    def do_show(self, name, **_):
        connector = self.get(name)
        data = {
            "name": connector.name,
            "vendor": connector.vendor,
            "base_url": connector.base_url,
            "source": connector.source.name,
            "options": connector.options,
            "credentials": sorted(connector.credentials),  # the field names only
            **health(connector),
        }
        self.stdout.write(json.dumps(data, indent=2))

    def do_test(self, name, **_):
        connector = self.get(name)
        try:
            seen, requests = check_connector(connector)
        except CheckFailed as exc:
            raise CommandError(f"{connector.name}: {exc}") from None
        self.stdout.write(f"{connector.name}: OK ({requests} requests) {json.dumps(seen)}")

    def do_sync(self, name, **_):
        connector = self.get(name)
        started = timezone.now()
        with tqdm(desc=f"{connector.name} requests", unit="req", file=sys.stderr) as bar:
            outcome = run_poll(connector.pk, progress=lambda: bar.update(1))
        self.stdout.write(json.dumps(outcome.as_dict(), indent=2, default=str))
        if outcome.status == "skipped":
            raise CommandError("another poll of this connector is running; try again later")
        if outcome.status != "ok":
            raise CommandError(
                f"poll failed after {(timezone.now() - started).total_seconds():.1f} s"
            )

    def do_enable(self, name, **_):
        connector = self.get(name)
        connector.enabled = True
        connector.save(update_fields=["enabled", "updated"])
        run_now(connector)
        self.stdout.write(f"{connector.name} enabled; a poll is due now.")

    def do_disable(self, name, **_):
        connector = self.get(name)
        connector.enabled = False
        connector.save(update_fields=["enabled", "updated"])
        self.stdout.write(f"{connector.name} disabled.")

    def do_delete(self, name, **_):
        connector = self.get(name)
        delete_connector(connector)
        self.stdout.write(
            f"{name} deleted; its source {connector.source.name!r} and its incidents are kept."
        )
