"""CPU cost per request of the observability middleware (request id + metrics), in-process.

    python bench/middleware_overhead.py

Times a trivial view called directly against the same view behind ``RequestIdMiddleware``
and ``MetricsMiddleware`` (prometheus-client in multiprocess mode, as served), so the figure
does not drown in the noise of a loaded machine the way an HTTP benchmark does. Uses a
temporary metrics directory; touches no database.
"""

import os
import sys
import tempfile
import time

os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="fw-metrics-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
os.environ.setdefault("FLEETWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fw-data-"))

import django

django.setup()

from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import resolve  # noqa: E402

from fleetwatch.observability.metrics import MetricsMiddleware  # noqa: E402
from fleetwatch.observability.requestid import RequestIdMiddleware  # noqa: E402


def main(n: int = 50_000) -> None:
    factory = RequestFactory()
    requests = [factory.post("/api/v2/incidents/") for _ in range(n)]
    match = resolve("/api/v2/incidents/")
    for request in requests:
        request.resolver_match = match
    response = HttpResponse(status=201)

    def view(request):
        return response

    wrapped = RequestIdMiddleware(MetricsMiddleware(view))
    for label, handler in (("bare view", view), ("with middleware", wrapped)):
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for request in requests:
                handler(request)
            best = min(best, (time.perf_counter() - started) / n)
        print(f"{label:16} {best * 1e6:7.2f} µs per request")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
