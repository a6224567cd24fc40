"""Carry the request id into the tasks a request enqueues.

The task backend is django-tasks-db's, with one addition: a task enqueued while a request id
is set (inside a request, or inside a task that carries one) stores it beside its arguments,
in the row's ``args_kwargs`` JSON under ``request_id`` — the task's own ``args``/``kwargs``
are untouched, so no task function needs to know. When a worker starts the task, the
``task_started`` signal puts the id (and the task's id) back into the context, so everything
the task logs carries them; ``task_finished`` clears them.
"""

from typing import Any

from django.dispatch import receiver
from django.tasks import Task, TaskResult
from django.tasks.signals import task_finished, task_started
from django_tasks_db.backend import DatabaseBackend as BaseDatabaseBackend
from django_tasks_db.compat import normalize_json
from django_tasks_db.models import DBTaskResult

from fleetwatch.observability.requestid import request_id, task_id


def _fields(
    backend: BaseDatabaseBackend, task: Task[..., Any], args: Any, kwargs: Any
) -> dict[str, Any]:
    args_kwargs: dict[str, object] = {
        "args": normalize_json(args),
        "kwargs": normalize_json(kwargs),
    }
    if (rid := request_id.get()) is not None:
        args_kwargs["request_id"] = rid
    return {
        "id": backend._get_id(),
        "args_kwargs": args_kwargs,
        "priority": task.priority,
        "task_path": task.module_path,
        "queue_name": task.queue_name,
        "run_after": task.run_after,
        "backend_name": backend.alias,
    }


class DatabaseBackend(BaseDatabaseBackend):
    """django-tasks-db's backend, storing the current request id with each task."""

    def _task_to_db_task(
        self, task: Task[..., Any], args: Any, kwargs: Any
    ) -> DBTaskResult[..., Any]:
        return DBTaskResult.objects.create(**_fields(self, task, args, kwargs))

    async def _atask_to_db_task(
        self, task: Task[..., Any], args: Any, kwargs: Any
    ) -> DBTaskResult[..., Any]:
        return await DBTaskResult.objects.acreate(**_fields(self, task, args, kwargs))


def carried_request_id(task_result: TaskResult[..., Any]) -> str | None:
    """The request id stored with a task (None if it was enqueued outside a request)."""
    db_result = getattr(task_result, "db_result", None)
    if db_result is None or not isinstance(db_result.args_kwargs, dict):
        return None
    rid: str | None = db_result.args_kwargs.get("request_id")  # stored by _fields: text
    return rid


@receiver(task_started)
def _enter_task(task_result: TaskResult[..., Any], **kwargs: Any) -> None:
    request_id.set(carried_request_id(task_result))
    task_id.set(str(task_result.id))


POLL_TASK = "poll_connector"


@receiver(task_finished)
def _leave_task(task_result: TaskResult[..., Any], **kwargs: Any) -> None:
    try:
        if task_result.task.name == POLL_TASK and task_result.status == "SUCCESSFUL":
            from fleetwatch.observability.metrics import observe_poll

            observe_poll(int(task_result.args[0]), task_result.return_value)
    finally:
        request_id.set(None)
        task_id.set(None)
