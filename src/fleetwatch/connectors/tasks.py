"""The schedule: each enabled connector polls every ``poll_interval`` seconds.

``schedule_due`` runs in every worker (a small thread beside the task loop). For each due
connector it moves ``next_run_at`` on with a conditional UPDATE — only the worker whose UPDATE
matched enqueues the poll — so several workers never double-schedule. The schedule lives in
the database and survives restarts. A poll whose worker died holds a lease that expires; the
next due time enqueues a fresh poll, which takes the lease over.

A connector whose poll is still queued or running gets no second one: when every worker is
busy, the due times that pass are skipped rather than piled up (they would otherwise run back
to back once a worker frees up). And because skipped or killed polls count as no failure, the
scheduler also watches staleness: a connector with no successful poll for
``CONNECTOR_STALE_INTERVALS`` intervals (at least one lease) gets its health incident.
"""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fleetwatch.connectors.engine import run_poll, set_health_incident
from fleetwatch.connectors.models import HEALTH_ID, Connector, ConnectorState
from fleetwatch.incidents.models import Incident

log = logging.getLogger("fleetwatch.connectors")


@task()
def poll_connector(connector_id: int) -> dict:
    return run_poll(connector_id).as_dict()


def busy_connectors(ids: list[int], now) -> set[int]:
    """The connectors among ``ids`` with a poll queued or running.

    Queued: a READY task row. Running: a lease still held, or a RUNNING task row younger than
    a lease (claimed, lease not taken yet). A RUNNING row whose worker was killed stays RUNNING
    for ever, so an old one counts only through its lease, which expires.
    """
    if not ids:
        return set()
    leased = set(
        ConnectorState.objects.filter(
            pk__in=ids, lease_expires_at__gt=now, lease_owner__gt=""
        ).values_list("pk", flat=True)
    )
    recent = now - timedelta(seconds=settings.CONNECTOR_LEASE_SECONDS)
    rows = DBTaskResult.objects.filter(task_path=poll_connector.module_path).filter(
        Q(status=TaskResultStatus.READY) | Q(status=TaskResultStatus.RUNNING, started_at__gt=recent)
    )
    wanted = set(ids)
    queued = set()
    for args_kwargs in rows.values_list("args_kwargs", flat=True):
        args = (args_kwargs or {}).get("args") or []
        if args and args[0] in wanted:
            queued.add(args[0])
    return leased | queued


def schedule_due(now=None) -> list[int]:
    """Enqueue a poll for every enabled connector that is due and has none queued or running;
    returns their ids. A busy connector's due time is moved on without a poll (skipped, not
    piled up)."""
    now = now or timezone.now()
    for connector in Connector.objects.filter(enabled=True, state__isnull=True):
        ConnectorState.objects.get_or_create(connector=connector)
    due = list(
        ConnectorState.objects.filter(connector__enabled=True)
        .filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now))
        .select_related("connector")
    )
    busy = busy_connectors([state.pk for state in due], now)
    enqueued = []
    for state in due:
        same = (
            Q(next_run_at__isnull=True)
            if state.next_run_at is None
            else Q(next_run_at=state.next_run_at)
        )
        next_run = now + timedelta(seconds=state.connector.poll_interval)
        moved = ConnectorState.objects.filter(same, pk=state.pk).update(next_run_at=next_run)
        if moved and state.pk in busy:
            log.info(
                "connector %s: a poll is still queued or running; this one is skipped",
                state.connector.name,
            )
        elif moved:
            poll_connector.enqueue(state.pk)
            enqueued.append(state.pk)
    return enqueued


def stale_after(connector: Connector) -> timedelta:
    """How long a connector may go without a successful poll before its health incident
    opens: ``CONNECTOR_STALE_INTERVALS`` poll intervals, and at least one lease (a killed
    worker blocks its connector that long without anything being wrong with the vendor)."""
    seconds = max(
        settings.CONNECTOR_STALE_INTERVALS * connector.poll_interval,
        settings.CONNECTOR_LEASE_SECONDS,
    )
    return timedelta(seconds=seconds)


def check_staleness(now=None) -> list[int]:
    """Open the health incident of every enabled connector whose last successful poll (or,
    before its first, its last configuration change) is older than ``stale_after``: skipped
    polls and polls killed mid-way never count as failures, so without this a connector could
    go quiet for ever without an incident. The incident ends on the next good poll. Returns
    the ids of the connectors whose incident was opened now."""
    now = now or timezone.now()
    with_incident = set(
        Incident.objects.open()
        .filter(source_incident_id__startswith=f"{HEALTH_ID}:", source__connector__isnull=False)
        .values_list("source__connector__pk", flat=True)
    )
    opened = []
    states = ConnectorState.objects.filter(connector__enabled=True).select_related(
        "connector__source__user"
    )
    for state in states.exclude(pk__in=with_incident):
        connector = state.connector
        since = max(filter(None, [state.last_success_at, connector.updated]))
        if now - since < stale_after(connector):
            continue
        with transaction.atomic():
            # Row lock (PostgreSQL) / write lock (SQLite): two schedulers open one incident.
            ConnectorState.objects.select_for_update().get(pk=state.pk)
            if (
                Incident.objects.open()
                .filter(source=connector.source, source_incident_id__startswith=f"{HEALTH_ID}:")
                .exists()
            ):
                continue
            age = int((now - since).total_seconds())
            what = "successful poll" if state.last_success_at else "successful poll yet"
            set_health_incident(
                connector,
                f"no {what} for over {age // 60} min {age % 60} s "
                f"(stale after {int(stale_after(connector).total_seconds())} s)",
            )
        log.warning("connector %s is stale: no successful poll since %s", connector.name, since)
        opened.append(state.pk)
    return opened


def run_now(connector: Connector) -> None:
    """Make a connector due at once (after enable, or from the API's ``sync`` action)."""
    ConnectorState.objects.update_or_create(connector=connector, defaults={"next_run_at": None})


class Scheduler(threading.Thread):
    """Calls ``schedule_due`` and ``check_staleness`` every ``interval`` seconds until
    stopped."""

    def __init__(self, interval: float | None = None) -> None:
        super().__init__(name="fleetwatch-scheduler", daemon=True)
        self.interval = interval or settings.SCHEDULER_INTERVAL
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                close_old_connections()
                if ids := schedule_due():
                    log.debug("scheduled polls for connectors %s", ids)
                check_staleness()
            except Exception:
                log.exception("scheduler pass failed; trying again")
            finally:
                close_old_connections()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
