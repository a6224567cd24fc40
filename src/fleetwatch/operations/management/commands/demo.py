"""``fleetwatch demo``: the hub on SQLite with the emulated vendors feeding it, in one command.

Migrates, makes sure an ``admin`` superuser exists (its password is generated once and kept
in the data directory), starts the three vendor emulators, two workers and the hub, points one
connector at each emulator, and prints the URL and the login. Ctrl-C stops every process it
started.

The emulators start a new timeline on every run. On a later run in the same data directory
the demo connectors therefore start over as well (``connectors.services.reset_connector``):
their bookmarks, cached tokens and rate-limit slots are cleared and the previous run's open
incidents are closed with an END event saying why.

The emulators listen on 127.0.0.1, so the demo allows connectors to reach loopback addresses
(``FLEETWATCH_CONNECTOR_ALLOW_PRIVATE``, for itself and the workers it starts).

Notifications: the demo starts a local SMTP sink (aiosmtpd writing a maildir under the data
directory, ``demo-mail/``), points the workers' ``EMAIL_URL`` at it, and gives ``admin`` an
e-mail address and a notification profile for critical and high incidents (levels 1–2), so a
newcomer finds real notification mails in the maildir within a minute.

SIGINT and SIGTERM are handled explicitly: a demo started in the background (``nohup make
demo &``) inherits SIGINT *ignored*, and Python keeps it ignored unless told otherwise. On
stop, the hub and the workers go first and the emulators last, so no worker is left retrying
against vendors that are already gone.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from fleetwatch.connectors.engine import limiter_key
from fleetwatch.connectors.models import Connector
from fleetwatch.connectors.secrets import SecretError
from fleetwatch.connectors.services import create_connector, reset_connector
from fleetwatch.notifications.models import Filter, NotificationProfile
from fleetwatch.notifications.services import ensure_user_defaults

# The emulators run faster than real time in the demo; re-reading generous overlaps keeps the
# delta-based vendors from missing what happened between two polls.
DEMO_OPTIONS: dict[str, dict] = {
    "7signal": {"agents_every": 300},
    # status_changed asks for the last `age` seconds on the vendor's clock, ten times ours here.
    "metaaccess": {"overlap": 900},
    "sensaphone": {},
}


class NamedProcess(subprocess.Popen[bytes]):
    """A child process with the name the demo reports it by."""

    name: str


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


RESTART_NOTE = (
    "Closed by `fleetwatch demo` on restart: the emulated vendors start over with a new "
    "timeline on every run and will never report this incident's end. Problems that are "
    "still current in the new run are reported again by its first polls."
)


DEMO_EMAIL = "admin@fleetwatch.demo"
DEMO_PROFILE = "Critical and high incidents (demo)"


def demo_notifications(admin) -> None:
    """Give ``admin`` an e-mail address (its managed e-mail destination follows) and, once, a
    profile sending critical and high incidents there. Kept as the user left it on later
    runs: a profile they changed or deactivated stays so."""
    if not admin.email:
        admin.email = DEMO_EMAIL
        admin.save()
    ensure_user_defaults(admin)
    if NotificationProfile.objects.filter(user=admin, name=DEMO_PROFILE).exists():
        return
    stored, _ = Filter.objects.get_or_create(
        user=admin, name="Critical and high", defaults={"filter": {"maxlevel": 2}}
    )
    profile = NotificationProfile.objects.create(
        user=admin, name=DEMO_PROFILE, timeslot=admin.timeslots.get(name="All the time")
    )
    profile.filters.add(stored)
    profile.destinations.add(*admin.destinations.filter(media="email", managed=True))


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        parser.add_argument(
            "--mail-port",
            type=int,
            default=8025,
            help="port of the local SMTP sink the notification mails go to (default 8025)",
        )

    def handle(self, host, port, emulator_port, speed, devices, interval, mail_port, **options):
        # Both stop the demo like Ctrl-C, whatever this process inherited: a SIGTERM (a
        # supervisor, `timeout`, `kill`) and a SIGINT even when started in the background with
        # SIGINT ignored. The children run in their own sessions and would otherwise outlive
        # the demo; since both signals are caught here, they start with the default actions.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        os.environ["FLEETWATCH_CONNECTOR_ALLOW_PRIVATE"] = "true"  # the emulators: loopback
        settings.CONNECTOR_ALLOW_PRIVATE = True
        call_command("migrate", interactive=False, verbosity=0)
        password = demo_password()
        users = get_user_model().objects
        admin = users.filter(username="admin").first() or users.create_superuser("admin", "")
        admin.set_password(password)
        admin.is_staff = admin.is_superuser = True
        admin.save()
        demo_notifications(admin)
        url = f"http://{host}:{port}"
        os.environ["FLEETWATCH_URL"] = url  # the links in the notifications
        maildir = settings.DATA_DIR / "demo-mail"
        processes: list[NamedProcess] = []
        try:
            sink, mail_port = self.start_mail_sink(maildir, mail_port)
            processes.append(sink)
            vendors = self.start_emulators(processes, emulator_port, speed, devices)
            closed = sum(
                self.configure_connector(vendor, info, interval) for vendor, info in vendors.items()
            )
            if closed:
                self.stdout.write(
                    f"Closed {closed} incidents left open by the previous demo run: the "
                    "emulated vendors start over on every run."
                )
            # Two workers: a MetaAccess poll spends most of its time waiting out the vendor's
            # 10 requests/minute, and the other connectors should not wait behind it.
            for n in (1, 2):
                processes.append(self.start(f"worker {n}", ["worker", "--no-startup-delay"]))
            processes.append(self.start("hub", ["serve", "--host", host, "--port", str(port)]))
            self.wait_for(url + "/.still-alive/", processes)
            self.stdout.write(
                self.style.SUCCESS(f"\nFleetwatch is running at {url}/\n")
                + f"  console:  {url}/  (the web console: incidents, sources, notifications)\n"
                + f"  login:    admin / {password}\n"
                + f"  admin:    {url}/admin/\n"
                + f"  API:      {url}/api/v2/incidents/\n"
                + f"  API docs: {url}/api/v2/schema/swagger-ui/\n"
                + "".join(
                    f"  {v:<10}  {i['url']}  (emulated; control API at /_emulator/)\n"
                    for v, i in vendors.items()
                )
                + f"  mail:     {maildir}/new/  (a maildir: the notifications to {admin.email},\n"
                + f'            profile "{DEMO_PROFILE}"; SMTP sink on 127.0.0.1:{mail_port})\n'
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
        assert emulators.stdout is not None  # stdout=PIPE
        try:
            vendors = json.loads(emulators.stdout.readline() or "{}")
        except ValueError:
            vendors = {}
        if not vendors:
            raise CommandError("the emulators did not start (is a port in use?)")
        return vendors

    def configure_connector(self, vendor: str, info: dict, interval: int) -> int:
        """One connector per emulator, created once and re-pointed on later runs. The
        emulators start over on every run, so a re-pointed connector starts over too (see
        ``reset_connector``). Returns how many stale incidents that closed."""
        name = f"demo-{vendor}"
        options = DEMO_OPTIONS.get(vendor, {})
        connector = Connector.objects.filter(name=name).select_related("source__user").first()
        if connector is None:
            create_connector(
                name=name,
                vendor=vendor,
                base_url=info["url"],
                credentials=info["credentials"],
                poll_interval=interval,
                options=options,
            )
            return 0
        try:
            old_keys = [limiter_key(connector)]
        except SecretError:  # the data directory's encryption key was replaced
            old_keys = []
        connector.base_url, connector.poll_interval = info["url"], interval
        connector.credentials, connector.options, connector.enabled = (
            info["credentials"],
            options,
            True,
        )
        connector.save()
        return reset_connector(connector, stale_limiter_keys=old_keys, note=RESTART_NOTE)

    def start_mail_sink(self, maildir, port: int) -> tuple[NamedProcess, int]:
        """aiosmtpd writing every mail it gets into ``maildir``; the workers send there. A
        taken port (another demo) is replaced by a free one: the banner says which."""
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        port = port if port_is_free(port) else free_port()
        os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        command += ["-c", "aiosmtpd.handlers.Mailbox", str(maildir)]
        process = NamedProcess(
            command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        process.name = "mail sink"
        return process, port

    def start(self, name: str, args: list[str], **popen) -> NamedProcess:
        command = [sys.executable, "-m", "fleetwatch", *args]
        process = NamedProcess(command, start_new_session=True, **popen)
        process.name = name
        return process

    def wait_for(self, url: str, processes: list[NamedProcess]) -> None:
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

    def supervise(self, processes: list[NamedProcess]) -> None:
        while True:
            for process in processes:
                if process.poll() is not None:
                    raise CommandError(f"{process.name} exited with {process.returncode}")
            time.sleep(0.5)

    @staticmethod
    def stop(processes: list[NamedProcess]) -> None:
        """The hub and the workers first, the emulators last: a worker stopped after its
        vendors would keep retrying against addresses that no longer answer."""
        last = ("emulators", "mail sink")
        emulators = [p for p in processes if p.name in last]
        others = [p for p in processes if p.name not in last]
        for group in (others, emulators):
            for process in group:
                if process.poll() is None:
                    try:
                        os.killpg(process.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            for process in group:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    process.wait(timeout=5)
