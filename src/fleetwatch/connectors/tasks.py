"""The schedule: each enabled connector polls every ``poll_interval`` seconds.

``schedule_due`` runs in every worker (a small thread beside the task loop). For each due
connector it moves ``next_run_at`` on with a conditional UPDATE — only the worker whose UPDATE
matched enqueues the poll — so several workers never double-schedule. The schedule lives in
the database and survives restarts. A poll whose worker died holds a lease that expires; the
next due time enqueues a fresh poll, which takes the lease over.
"""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.tasks import task
from django.utils import timezone

from fleetwatch.connectors.engine import run_poll
from fleetwatch.connectors.models import Connector, ConnectorState

log = logging.getLogger("fleetwatch.connectors")


@task()
def poll_connector(connector_id: int) -> dict:
    return run_poll(connector_id).as_dict()


def schedule_due(now=None) -> list[int]:
    """Enqueue a poll for every enabled connector that is due; returns their ids."""
    now = now or timezone.now()
    for connector in Connector.objects.filter(enabled=True, state__isnull=True):
        ConnectorState.objects.get_or_create(connector=connector)
    due = ConnectorState.objects.filter(connector__enabled=True).filter(
        Q(next_run_at__isnull=True) | Q(next_run_at__lte=now)
    )
    enqueued = []
    for state in due.select_related("connector"):
        same = (
            Q(next_run_at__isnull=True)
            if state.next_run_at is None
            else Q(next_run_at=state.next_run_at)
        )
        next_run = now + timedelta(seconds=state.connector.poll_interval)
        if ConnectorState.objects.filter(same, pk=state.pk).update(next_run_at=next_run):
            poll_connector.enqueue(state.pk)
            enqueued.append(state.pk)
    return enqueued


def run_now(connector: Connector) -> None:
    """Make a connector due at once (after enable, or from the API's ``sync`` action)."""
    ConnectorState.objects.update_or_create(connector=connector, defaults={"next_run_at": None})


class Scheduler(threading.Thread):
    """Calls ``schedule_due`` every ``interval`` seconds until stopped."""

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
            except Exception:
                log.exception("scheduler pass failed; trying again")
            finally:
                close_old_connections()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
