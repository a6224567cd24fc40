"""``fleetwatch worker``: a background worker (django-tasks-db's ``db_worker``).

Run as many as you like, on as many machines as share the database: on PostgreSQL they
claim tasks with ``SELECT ... FOR UPDATE SKIP LOCKED``.
"""

from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand


class Command(DbWorkerCommand):
    help = "Run a background worker that executes queued tasks (see README, 'Workers')."
