"""A request id for every request, in every log line it causes and in the tasks it enqueues.

The id lives in a context variable, so code far from the view (services, the ORM, connectors)
logs it without being handed it. An incoming ``X-Request-ID`` is kept when it is well formed
(a proxy or client can then follow one request through several systems); anything else is
replaced by a fresh id, so a client cannot inject text into the logs. The id goes back in the
response's ``X-Request-ID`` header.
"""

import logging
import os
import re
import time
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# Letters, digits and a few separators, at most 128: what uuids, trace ids and proxies'
# ``$request_id`` use, and nothing that could break a log line or a header.
VALID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")

access_log = logging.getLogger("fleetwatch.request")

request_id: ContextVar[str | None] = ContextVar("fleetwatch_request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("fleetwatch_task_id", default=None)


def current_request_id() -> str | None:
    return request_id.get()


def new_request_id() -> str:
    """32 random hex digits (a uuid4's worth of randomness without building a UUID)."""
    return os.urandom(16).hex()


def accept_request_id(value: str | None) -> str:
    """The incoming id if well formed, else a fresh one."""
    if value and VALID.fullmatch(value):
        return value
    return new_request_id()


class RequestIdMiddleware:
    """Sets the request id for the request's duration and returns it in ``X-Request-ID``;
    with ``FLEETWATCH_ACCESS_LOG`` also logs one line per request (logger
    ``fleetwatch.request``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.access_log = settings.ACCESS_LOG

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = accept_request_id(request.META.get(META_KEY))
        # Middleware may add attributes to the request; HttpRequest's stub declares none.
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = rid
            if self.access_log:
                self.log(request, response, started)
        finally:
            request_id.reset(token)
        return response

    @staticmethod
    def log(request: HttpRequest, response: HttpResponse, started: float) -> None:
        took = round((time.perf_counter() - started) * 1000, 2)
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": took,
                "remote_addr": request.META.get("REMOTE_ADDR"),
            },
        )


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` and ``task_id`` (None outside a request or task) to every record,
    so any formatter can use them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.task_id = task_id.get()
        return True
