"""A task for the request-id tests: it logs, so the test can see the id the worker logs with."""

import logging

from django.tasks import task

log = logging.getLogger("fleetwatch.tests.tasks")


@task()
def note(text: str) -> str:
    log.info("task says %s", text)
    return text
