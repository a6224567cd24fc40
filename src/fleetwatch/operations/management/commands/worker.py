"""``fleetwatch worker``: a background worker (django-tasks-db's ``db_worker``) plus the
connector scheduler and the notification sender.

Run as many as you like, on as many machines as share the database: on PostgreSQL they
claim tasks with ``SELECT ... FOR UPDATE SKIP LOCKED``, and the scheduler in each of them
enqueues a connector's poll only once (see ``fleetwatch.connectors.tasks``).
"""

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from fleetwatch.connectors.tasks import Scheduler
from fleetwatch.notifications.delivery import DeliveryWorker
from fleetwatch.observability.housekeeping import Housekeeper
from fleetwatch.observability.metrics import remove_dead_process_files


class Command(DbWorkerCommand):
    help = (
        "Run a background worker: queued tasks, the connector poll schedule and notification "
        "sending (see README)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--no-scheduler",
            action="store_false",
            dest="scheduler",
            help="only run queued tasks; do not schedule connector polls from this worker",
        )
        parser.add_argument(
            "--no-deliveries",
            action="store_false",
            dest="deliveries",
            help="do not send notifications from this worker",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = options.pop("scheduler", True)
        deliveries = options.pop("deliveries", True)
        threads: list[Scheduler | Housekeeper | DeliveryWorker] = []
        remove_dead_process_files()
        if scheduler and not options.get("batch"):
            threads += [Scheduler(), Housekeeper()]  # polls; heartbeats and retention
        if deliveries and not options.get("batch"):
            threads.append(DeliveryWorker())  # the notification outbox
        for thread in threads:
            thread.start()
        try:
            super().handle(*args, **options)
        finally:
            for thread in threads:
                thread.stop()
