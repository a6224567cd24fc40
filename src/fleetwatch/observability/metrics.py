"""Prometheus metrics at ``/metrics``.

Two kinds of figures, kept apart on purpose:

* **Process counters** (prometheus-client in multiprocess mode): HTTP requests by route,
  method and status with a latency histogram, counted by the web processes; connector polls
  by outcome and rate-limit waits, counted by the worker that ran the poll (from the
  ``task_finished`` signal, so the connector code does not know about metrics). Every process
  on a machine writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (default
  ``$FLEETWATCH_DATA_DIR/metrics``, set in settings before prometheus-client is imported), and
  the scrape adds them up — so several gunicorn workers and the background workers of that
  machine answer as one.
* **Database figures**, computed at scrape time with four queries whatever the size of the
  hub: incidents by source and state, per-connector health and requests used, the task
  queue, and each source's last heartbeat. They are right on every machine at once, need no
  process to have seen the event, and survive restarts.
"""

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.db.models.functions import Now
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger("fleetwatch.metrics")

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "<unmatched>"

# One histogram serves both: its ``_count`` is the number of requests by route, method and
# status, so a request costs two value writes rather than three.
HTTP_LATENCY = Histogram(
    "fleetwatch_http_request_duration_seconds",
    "Requests answered and their time from the first middleware to the response, by route "
    "pattern, method and status (``_count``: requests).",
    ["route", "method", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CONNECTOR_POLLS = Counter(
    "fleetwatch_connector_polls",
    "Connector polls run by the workers of this machine, by outcome (ok, failed, skipped).",
    ["connector", "status"],
)
CONNECTOR_RATE_LIMITED = Counter(
    "fleetwatch_connector_rate_limited",
    "429 answers connector polls received (on this machine).",
    ["connector"],
)
CONNECTOR_WAIT = Counter(
    "fleetwatch_connector_rate_limit_wait_seconds",
    "Seconds connector polls spent waiting for their rate limit (on this machine).",
    ["connector"],
)
NOTIFICATION_DELIVERIES = Counter(
    "fleetwatch_notification_deliveries",
    "Notification delivery attempts by the workers of this machine, by medium and outcome "
    "(sent, retried, failed, dropped).",
    ["medium", "status"],
)


def count_delivery(medium: str, status: str) -> None:
    """One delivery attempt's outcome (``fleetwatch.notifications.delivery``)."""
    NOTIFICATION_DELIVERIES.labels(medium=medium, status=status).inc()


# --- HTTP ------------------------------------------------------------------------------------


class MetricsMiddleware:
    """Counts and times every request. The label children are cached per (route, method,
    status), so a request costs a dictionary look-up and two mmap writes (a few µs)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._histograms: dict[tuple[str, str, int], Histogram] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = "/" + match.route if match is not None and match.route else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        key = (route, method, response.status_code)
        histogram = self._histograms.get(key)
        if histogram is None:
            histogram = self._histograms[key] = HTTP_LATENCY.labels(
                route, method, str(response.status_code)
            )
        histogram.observe(elapsed)
        return response


# --- Worker: connector polls -----------------------------------------------------------------

_connector_names: dict[int, str] = {}


def connector_name(connector_id: int) -> str:
    """The connector's name (cached per process; the id if it is gone)."""
    if connector_id not in _connector_names:
        from fleetwatch.connectors.models import Connector

        name = Connector.objects.filter(pk=connector_id).values_list("name", flat=True).first()
        if name is None:
            return str(connector_id)
        _connector_names[connector_id] = name
    return _connector_names[connector_id]


def observe_poll(connector_id: int, outcome: dict[str, Any]) -> None:
    """Count one finished poll (``outcome`` is the task's return value)."""
    name = connector_name(connector_id)
    CONNECTOR_POLLS.labels(name, str(outcome.get("status", "unknown"))).inc()
    if rate_limited := outcome.get("rate_limited"):
        CONNECTOR_RATE_LIMITED.labels(name).inc(rate_limited)
    if waited := outcome.get("waited_seconds"):
        CONNECTOR_WAIT.labels(name).inc(waited)


# --- Scrape-time figures from the database ---------------------------------------------------


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("nan")


class DatabaseCollector:
    """Figures read from the database at scrape time, in a constant number of queries."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "fleetwatch_metrics_database_up",
            "1 if this scrape could read the database figures; 0 (and those figures left out, "
            "the process counters still served) if the database failed.",
        )
        try:
            figures = [
                *self.incidents_and_sources(),
                *self.connectors(),
                *self.task_queue(),
            ]
        except DatabaseError:
            log.exception("metrics: database figures unavailable")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from figures

    def incidents_and_sources(self) -> Iterator[Metric]:
        from fleetwatch.incidents.models import Incident, SourceSystem

        sources = {
            row["pk"]: row
            for row in SourceSystem.objects.values(
                "pk", "name", "type_id", "last_seen", "heartbeat_frequency"
            )
        }
        counts = (
            Incident.objects.order_by()
            .values("source_id")
            .annotate(
                n_open=Count("pk", filter=Q(end_time__gt=Now())),
                n_closed=Count("pk", filter=Q(end_time__lte=Now())),
                n_stateless=Count("pk", filter=Q(end_time__isnull=True)),
            )
        )
        stored = GaugeMetricFamily(
            "fleetwatch_incidents",
            "Incidents stored, by source and state (open, closed, stateless).",
            labels=["source", "source_type", "state"],
        )
        opened = CounterMetricFamily(
            "fleetwatch_incidents_opened",
            "Incidents a source has opened (those stored: retention lowers it).",
            labels=["source", "source_type"],
        )
        ended = CounterMetricFamily(
            "fleetwatch_incidents_ended",
            "Incidents of a source that have ended (those stored: retention lowers it).",
            labels=["source", "source_type"],
        )
        for row in counts:
            source = sources.get(row["source_id"])
            if source is None:
                continue
            labels = [source["name"], source["type_id"]]
            by_state = {
                "open": row["n_open"],
                "closed": row["n_closed"],
                "stateless": row["n_stateless"],
            }
            for state, count in by_state.items():
                stored.add_metric([*labels, state], count)
            opened.add_metric(labels, sum(by_state.values()))
            ended.add_metric(labels, row["n_closed"])
        yield from (stored, opened, ended)

        last_seen = GaugeMetricFamily(
            "fleetwatch_source_last_seen_timestamp_seconds",
            "When a source was last heard from (heartbeat, request or good poll).",
            labels=["source", "source_type"],
        )
        frequency = GaugeMetricFamily(
            "fleetwatch_source_heartbeat_frequency_seconds",
            "The heartbeat a source promises (sources that have one).",
            labels=["source", "source_type"],
        )
        for source in sources.values():
            labels = [source["name"], source["type_id"]]
            if source["last_seen"] is not None:
                last_seen.add_metric(labels, _ts(source["last_seen"]))
            if source["heartbeat_frequency"]:
                frequency.add_metric(labels, source["heartbeat_frequency"])
        yield from (last_seen, frequency)

    def connectors(self) -> Iterator[Metric]:
        from fleetwatch.connectors.models import ConnectorState

        label_names = ["connector", "vendor"]
        requests = CounterMetricFamily(
            "fleetwatch_connector_requests",
            "Vendor API requests a connector has used, all workers together.",
            labels=label_names,
        )
        failures = GaugeMetricFamily(
            "fleetwatch_connector_consecutive_failures",
            "Failed polls in a row (0 after a good poll).",
            labels=label_names,
        )
        enabled = GaugeMetricFamily(
            "fleetwatch_connector_enabled", "1 if the connector polls.", labels=label_names
        )
        success = GaugeMetricFamily(
            "fleetwatch_connector_last_success_timestamp_seconds",
            "When the connector's last good poll finished.",
            labels=label_names,
        )
        error = GaugeMetricFamily(
            "fleetwatch_connector_last_error_timestamp_seconds",
            "When the connector's last poll failed.",
            labels=label_names,
        )
        seconds = GaugeMetricFamily(
            "fleetwatch_connector_last_poll_seconds",
            "How long the last poll took.",
            labels=label_names,
        )
        waited = GaugeMetricFamily(
            "fleetwatch_connector_last_poll_rate_limit_wait_seconds",
            "How long the last poll waited for its rate limit.",
            labels=label_names,
        )
        rows = ConnectorState.objects.values_list(
            "connector__name",
            "connector__vendor",
            "connector__enabled",
            "requests_total",
            "consecutive_failures",
            "last_success_at",
            "last_error_at",
            "last_poll_seconds",
            "last_poll_summary",
        )
        for name, vendor, on, total, failed, ok_at, err_at, took, summary in rows:
            labels = [name, vendor]
            requests.add_metric(labels, total)
            failures.add_metric(labels, failed)
            enabled.add_metric(labels, 1 if on else 0)
            if ok_at is not None:
                success.add_metric(labels, _ts(ok_at))
            if err_at is not None:
                error.add_metric(labels, _ts(err_at))
            if took is not None:
                seconds.add_metric(labels, took)
            if isinstance(summary, dict) and "waited_seconds" in summary:
                waited.add_metric(labels, float(summary["waited_seconds"] or 0))
        yield from (requests, failures, enabled, success, error, seconds, waited)

    def task_queue(self) -> Iterator[Metric]:
        from django_tasks_db.models import DBTaskResult

        depth = GaugeMetricFamily(
            "fleetwatch_task_queue_depth",
            "Background tasks waiting (READY) or running, by queue.",
            labels=["queue", "status"],
        )
        oldest = GaugeMetricFamily(
            "fleetwatch_task_queue_oldest_ready_timestamp_seconds",
            "When the oldest task still waiting was enqueued.",
            labels=["queue"],
        )
        rows = (
            DBTaskResult.objects.filter(status__in=["READY", "RUNNING"])
            .order_by()
            .values("queue_name", "status")
            .annotate(n=Count("id"), first=Min("enqueued_at"))
        )
        seen = set()
        for row in rows:
            depth.add_metric([row["queue_name"], row["status"].lower()], row["n"])
            seen.add(row["queue_name"])
            if row["status"] == "READY":
                oldest.add_metric([row["queue_name"]], _ts(row["first"]))
        if "default" not in seen:  # an empty queue is a 0, not a missing series
            depth.add_metric(["default", "ready"], 0)
        yield from (depth, oldest)


# --- Scrape ------------------------------------------------------------------------------------


def multiprocess_dir() -> Path:
    return Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def render() -> bytes:
    """The whole exposition: every process's counters on this machine plus the database."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(multiprocess_dir()))  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: open unless ``FLEETWATCH_METRICS_TOKEN`` is set, then it needs
    ``Authorization: Bearer <token>`` (Prometheus's ``authorization`` / ``bearer_token``)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if token := settings.METRICS_TOKEN:
        given = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            return HttpResponse(
                "metrics need Authorization: Bearer <FLEETWATCH_METRICS_TOKEN>\n",
                status=401,
                content_type="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


def remove_dead_process_files(path: Path | None = None) -> int:
    """Delete the value files of processes that no longer run; returns how many.

    Called when a server or worker starts. While an installation runs, a dead gunicorn
    worker's counts must stay in the sum (else Prometheus sees counters fall); from one start
    to the next, only the files of live processes (other commands sharing the directory) are
    still meaningful.
    """
    path = path or multiprocess_dir()
    removed = 0
    for file in path.glob("*.db"):
        try:
            pid = int(file.stem.rsplit("_", 1)[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        file.unlink(missing_ok=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
