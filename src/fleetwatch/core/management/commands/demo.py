"""``fleetwatch demo``: the hub on SQLite, ready to log in to, in one command.

Migrates, makes sure an ``admin`` superuser exists (its password is generated once and kept
in the data directory), starts the server and prints the URL and the login. Ctrl-C stops
every process it started.
"""

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


class Command(BaseCommand):
    help = "Run the demo: the hub on SQLite with an admin login (see README, 'Demo')."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, host, port, **options):
        call_command("migrate", interactive=False, verbosity=0)
        password = demo_password()
        users = get_user_model().objects
        admin = users.filter(username="admin").first() or users.create_superuser("admin", "")
        admin.set_password(password)
        admin.is_staff = admin.is_superuser = True
        admin.save()
        url = f"http://{host}:{port}"
        processes = [self.start("hub", ["serve", "--host", host, "--port", str(port)])]
        self.wait_for(url + "/.still-alive/", processes)
        self.stdout.write(
            self.style.SUCCESS(f"\nFleetwatch is running at {url}/\n")
            + f"  login:    admin / {password}\n"
            + f"  admin:    {url}/admin/\n"
            + f"  API:      {url}/api/v2/incidents/\n"
            + f"  API docs: {url}/api/v2/schema/swagger-ui/\n"
            + "Ctrl-C stops everything.\n"
        )
        self.supervise(processes)

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        command = [sys.executable, "-m", "fleetwatch", *args]
        process = subprocess.Popen(command, start_new_session=True)
        process.name = name
        return process

    def wait_for(self, url: str, processes: list[subprocess.Popen]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    self.stop(processes)
                    raise CommandError(f"{process.name} exited with {process.returncode}")
            try:
                if httpx.get(url, timeout=1).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop(processes)
        raise CommandError(f"the hub did not answer at {url} within 30 s")

    def supervise(self, processes: list[subprocess.Popen]) -> None:
        try:
            while True:
                for process in processes:
                    if process.poll() is not None:
                        raise CommandError(f"{process.name} exited with {process.returncode}")
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("Stopping...")
        finally:
            self.stop(processes)

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
