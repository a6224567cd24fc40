"""``fleetwatch prune``: one retention pass now (for cron, or a first clean-up)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fleetwatch.incidents.retention import (
    expired_incidents,
    prune_incidents,
    prune_task_results,
)


class Command(BaseCommand):
    help = (
        "Delete closed (and stateless) incidents older than --days with their events, acks "
        "and tags, and finished task results older than --task-days, in batches. Open "
        "incidents are never touched. Defaults: FLEETWATCH_RETENTION_DAYS, "
        "FLEETWATCH_TASK_RETENTION_DAYS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.RETENTION_DAYS)
        parser.add_argument("--task-days", type=int, default=settings.TASK_RETENTION_DAYS)
        parser.add_argument("--batch-size", type=int, default=settings.RETENTION_BATCH)
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would go, delete nothing"
        )

    def handle(
        self,
        *args: Any,
        days: int,
        task_days: int,
        batch_size: int,
        dry_run: bool,
        **options: Any,
    ) -> None:
        if days < 0 or task_days < 0 or batch_size < 1:
            raise CommandError("--days and --task-days must be >= 0, --batch-size >= 1")
        if days == 0 and task_days == 0:
            raise CommandError(
                "nothing to prune: retention is off (set FLEETWATCH_RETENTION_DAYS or --days)"
            )
        if dry_run:
            if days:
                n = expired_incidents(days).count()
                self.stdout.write(f"would delete {n} incidents older than {days} days")
            return
        if days:
            result = prune_incidents(days, batch_size)
            self.stdout.write(
                f"deleted {result.incidents} incidents older than {days} days "
                f"in {result.batches} batches"
            )
        if task_days:
            n = prune_task_results(task_days, batch_size)
            self.stdout.write(f"deleted {n} finished task results older than {task_days} days")
