"""``fleetwatch demo``: the hub on SQLite with the emulated vendors feeding it, in one command.

Migrates, makes sure an ``admin`` superuser exists (its password is generated once and kept
in the data directory), starts the three vendor emulators, a worker and the hub, points one
connector at each emulator, and prints the URL and the login. Ctrl-C stops every process it
started.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from fleetwatch.connectors.models import Connector
from fleetwatch.connectors.services import create_connector
from fleetwatch.connectors.tasks import run_now

# The emulators run faster than real time in the demo; re-reading generous overlaps keeps the
# delta-based vendors from missing what happened between two polls.
DEMO_OPTIONS: dict[str, dict] = {
    "7signal": {"agents_every": 300},
    # status_changed asks for the last `age` seconds on the vendor's clock, ten times ours here.
    "metaaccess": {"overlap": 900},
    "sensaphone": {},
}


def demo_password() -> str:
    path = settings.DATA_DIR / "demo-admin-password"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password)
    return password


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the demo: the hub on SQLite with an admin login (see README, 'Demo')."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--emulator-port",
            type=int,
            default=8101,
            help="first of the three emulator ports (default 8101)",
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=10.0,
            help="emulated seconds per real second (default 10)",
        )
        parser.add_argument("--devices", type=int, default=200)
        parser.add_argument(
            "--interval", type=int, default=15, help="seconds between connector polls (default 15)"
        )

    def handle(self, host, port, emulator_port, speed, devices, interval, **options):
        # A SIGTERM (a supervisor, `timeout`, `kill`) must clean up like Ctrl-C does: the
        # children run in their own sessions and would otherwise outlive the demo.
        signal.signal(signal.SIGTERM, _interrupt)
        call_command("migrate", interactive=False, verbosity=0)
        password = demo_password()
        users = get_user_model().objects
        admin = users.filter(username="admin").first() or users.create_superuser("admin", "")
        admin.set_password(password)
        admin.is_staff = admin.is_superuser = True
        admin.save()
        url = f"http://{host}:{port}"
        processes: list[subprocess.Popen] = []
        try:
            vendors = self.start_emulators(processes, emulator_port, speed, devices)
            for vendor, info in vendors.items():
                self.configure_connector(vendor, info, interval)
            # Two workers: a MetaAccess poll spends most of its time waiting out the vendor's
            # 10 requests/minute, and the other connectors should not wait behind it.
            for n in (1, 2):
                processes.append(self.start(f"worker {n}", ["worker", "--no-startup-delay"]))
            processes.append(self.start("hub", ["serve", "--host", host, "--port", str(port)]))
            self.wait_for(url + "/.still-alive/", processes)
            self.stdout.write(
                self.style.SUCCESS(f"\nFleetwatch is running at {url}/\n")
                + f"  login:    admin / {password}\n"
                + f"  admin:    {url}/admin/\n"
                + f"  API:      {url}/api/v2/incidents/\n"
                + f"  API docs: {url}/api/v2/schema/swagger-ui/\n"
                + "".join(
                    f"  {v:<10}  {i['url']}  (emulated; control API at /_emulator/)\n"
                    for v, i in vendors.items()
                )
                + f"Connectors poll every {interval} s; open incidents appear within a minute.\n"
                + "Ctrl-C stops everything.\n"
            )
            self.supervise(processes)
        except KeyboardInterrupt:
            self.stdout.write("Stopping...")
        finally:
            self.stop(processes)

    def start_emulators(self, processes, port: int, speed: float, devices: int) -> dict:
        emulators = self.start(
            "emulators",
            [
                "emulate",
                "all",
                "--port",
                str(port),
                "--speed",
                str(speed),
                "--devices",
                str(devices),
                "--json",
            ],
            stdout=subprocess.PIPE,
        )
        processes.append(emulators)
        try:
            vendors = json.loads(emulators.stdout.readline() or "{}")
        except ValueError:
            vendors = {}
        if not vendors:
            raise CommandError("the emulators did not start (is a port in use?)")
        return vendors

    def configure_connector(self, vendor: str, info: dict, interval: int) -> None:
        """One connector per emulator, created once and re-pointed on later runs."""
        name = f"demo-{vendor}"
        options = DEMO_OPTIONS.get(vendor, {})
        connector = Connector.objects.filter(name=name).first()
        if connector is None:
            create_connector(
                name=name,
                vendor=vendor,
                base_url=info["url"],
                credentials=info["credentials"],
                poll_interval=interval,
                options=options,
            )
            return
        connector.base_url, connector.poll_interval = info["url"], interval
        connector.credentials, connector.options, connector.enabled = (
            info["credentials"],
            options,
            True,
        )
        connector.save()
        run_now(connector)

    def start(self, name: str, args: list[str], **popen) -> subprocess.Popen:
        command = [sys.executable, "-m", "fleetwatch", *args]
        process = subprocess.Popen(command, start_new_session=True, **popen)
        process.name = name
        return process

    def wait_for(self, url: str, processes: list[subprocess.Popen]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    raise CommandError(f"{process.name} exited with {process.returncode}")
            try:
                if httpx.get(url, timeout=1).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise CommandError(f"the hub did not answer at {url} within 30 s")

    def supervise(self, processes: list[subprocess.Popen]) -> None:
        while True:
            for process in processes:
                if process.poll() is not None:
                    raise CommandError(f"{process.name} exited with {process.returncode}")
            time.sleep(0.5)

    @staticmethod
    def stop(processes: list[subprocess.Popen]) -> None:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
