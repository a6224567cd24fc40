"""``fleetwatch serve``: the hub behind gunicorn, the production server.

Workers are gunicorn's ``gthread`` kind (``--threads``, default 1 per worker): unlike the
``sync`` kind it keeps client connections alive (gunicorn's ``--keep-alive``, 2 s), so an API
client or a reverse proxy reusing connections pays no TCP set-up per request. Measured with
bench/incidents_api.py, 3 workers: list-page p99 51-55 ms (sync) -> 19-27 ms, p50 up to 1.5 ms
lower. More threads per worker only help when requests wait on the database, not on the CPU.
"""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from fleetwatch.observability.metrics import remove_dead_process_files


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
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("FLEETWATCH_WEB_THREADS", "1")),
            help="threads per worker (default 1; FLEETWATCH_WEB_THREADS); connections are "
            "kept alive whatever the number",
        )

    def handle(self, host, port, workers, threads, **options):
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
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--graceful-timeout",
            "10",
        ]
        if settings.LOG_FORMAT == "json":  # gunicorn's own lines as JSON too
            args += ["--config", "python:fleetwatch.observability.gunicorn_conf"]
        elif not settings.ACCESS_LOG:  # else the hub logs each request itself, with its id
            args += ["--access-logfile", "-"]
        remove_dead_process_files()  # /metrics sums this run's processes (and live workers)
        os.execv(sys.executable, args)
