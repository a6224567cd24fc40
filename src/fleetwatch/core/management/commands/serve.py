"""``fleetwatch serve``: the hub behind gunicorn, the production server."""

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the hub with gunicorn (the production WSGI server)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("FLEETWATCH_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("FLEETWATCH_PORT", "8000"))
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("FLEETWATCH_WEB_WORKERS", str(2 * (os.cpu_count() or 1)))),
            help="gunicorn worker processes (default 2 per core; FLEETWATCH_WEB_WORKERS)",
        )

    def handle(self, host, port, workers, **options):
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "fleetwatch.wsgi",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
        ]
        os.execv(sys.executable, args)
