"""Benchmark: the hub's own CPU per acknowledgement POST (and per single event POST).

    python bench/acks.py [--requests 500] [--incidents 300]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fw_bench python bench/acks.py

Runs the full Django stack in-process — the WSGI handler gunicorn calls (middleware, token
authentication, view, rendering) with a ready-made WSGI environ — so the process CPU time of
each request is the hub's CPU for it, less gunicorn's HTTP parsing; the database's own work
happens in its process and shows only in the wall time. Uses
DATABASE_URL if set (a throwaway database: it is migrated and written to), else a temporary
SQLite file. Prints median and mean CPU and wall milliseconds per request; asserts nothing.
Issue 10's target: an ack POST at most 3 ms of server CPU.
"""

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time


def measure(app, url: str, body: dict, token: str, count: int) -> tuple[list, list]:
    """POST ``body`` to ``url`` ``count`` times through the WSGI ``app``: CPU and wall seconds."""
    cpu, wall = [], []
    payload = json.dumps(body).encode()
    replies: list[str] = []

    def start_response(status, _headers, _exc_info=None):
        replies.append(status)

    for _ in range(count):
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": url,
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "HTTP_AUTHORIZATION": f"Token {token}",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
            "wsgi.input": io.BytesIO(payload),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        c0, w0 = time.process_time(), time.perf_counter()
        response = app(environ, start_response)
        content = b"".join(response)
        response.close()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        if not replies[-1].startswith("201"):
            sys.exit(f"POST {url} failed: {replies[-1]} {content[:200]!r}")
    return cpu, wall


def report(name: str, cpu: list[float], wall: list[float]) -> None:
    print(
        f"{name:<26} CPU median {statistics.median(cpu) * 1000:6.2f} ms  "
        f"mean {statistics.fmean(cpu) * 1000:6.2f} ms   "
        f"wall median {statistics.median(wall) * 1000:6.2f} ms  ({len(cpu)} requests)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    os.environ.setdefault("FLEETWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fw-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    os.environ["FLEETWATCH_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connection

    from fleetwatch.accounts.models import User, replace_drf_token
    from fleetwatch.incidents.ingest import parse_incident, upsert_incidents
    from fleetwatch.incidents.sources import create_source

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    run = f"{time.time():.0f}"
    source = create_source(f"bench-acks-{run}", "bench", create_type=True)
    drafts = [
        parse_incident(
            {
                "start_time": "2026-11-20T10:00:00Z",
                "source_incident_id": f"ack-{n}",
                "description": f"bench incident {n}",
                "tags": [{"tag": f"host=bench-{n}"}, {"tag": "problem_type=bench"}],
            }
        )
        for n in range(args.incidents)
    ]
    pks = [r.incident.pk for r in upsert_incidents(source, source.user, drafts)]
    person = User.objects.create_user(f"bench-person-{run}")
    token = replace_drf_token(person).key
    app = WSGIHandler()
    target = pks[len(pks) // 2]
    acks, events = f"/api/v2/incidents/{target}/acks/", f"/api/v2/incidents/{target}/events/"
    measure(app, acks, {}, token, args.warmup)
    report("ack POST", *measure(app, acks, {}, token, args.requests))
    body = {"type": "OTH", "description": "note"}
    report("event POST (OTH)", *measure(app, events, body, token, args.requests))


if __name__ == "__main__":
    main()
