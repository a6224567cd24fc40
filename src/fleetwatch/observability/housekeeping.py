"""The worker's housekeeping: heartbeat checks and retention, on their own schedules.

It runs as a thread beside the connector scheduler in every ``fleetwatch worker`` (not with
``--no-scheduler`` or ``--batch``), so a long first retention pass never delays a poll. Both
jobs are safe to run in several workers at once: a missing-heartbeat incident is identified
by the silence it reports (the same in every worker), and pruning claims its batches with
``SKIP LOCKED`` on PostgreSQL.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

from fleetwatch.incidents.heartbeats import check_heartbeats
from fleetwatch.incidents.retention import prune_incidents, prune_task_results

log = logging.getLogger("fleetwatch.housekeeping")


def run_retention() -> dict[str, int]:
    """One retention pass with the configured settings (nothing when they are 0)."""
    done = {"incidents": 0, "task_results": 0}
    if settings.RETENTION_DAYS > 0:
        done["incidents"] = prune_incidents(
            settings.RETENTION_DAYS, settings.RETENTION_BATCH
        ).incidents
    if settings.TASK_RETENTION_DAYS > 0:
        done["task_results"] = prune_task_results(
            settings.TASK_RETENTION_DAYS, settings.RETENTION_BATCH
        )
    return done


class Job:
    def __init__(self, name: str, every: float, run: Callable[[], object]) -> None:
        self.name, self.every, self.run = name, every, run
        self.next_at = 0.0  # due at once


class Housekeeper(threading.Thread):
    """Runs each job when due; ``tick`` is one look (tests call it directly), ``run`` the
    thread's loop, which also drops stale database connections around each look."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name="fleetwatch-housekeeping", daemon=True)
        self.clock = clock
        self.stopped = threading.Event()
        self.jobs = [Job("heartbeats", settings.HEARTBEAT_CHECK_INTERVAL, check_heartbeats)]
        if settings.RETENTION_DAYS > 0 or settings.TASK_RETENTION_DAYS > 0:
            self.jobs.append(Job("retention", settings.RETENTION_INTERVAL, run_retention))

    def tick(self) -> list[str]:
        ran = []
        for job in self.jobs:
            now = self.clock()
            if now < job.next_at:
                continue
            job.next_at = now + job.every
            try:
                job.run()
                ran.append(job.name)
            except Exception:
                log.exception("housekeeping job %s failed; trying again later", job.name)
        return ran

    def run(self) -> None:
        while not self.stopped.is_set():
            close_old_connections()
            try:
                self.tick()
            finally:
                close_old_connections()
            wait = min(job.next_at for job in self.jobs) - self.clock()
            self.stopped.wait(max(1.0, wait))

    def stop(self) -> None:
        self.stopped.set()
