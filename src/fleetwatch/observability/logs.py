"""Log formats: ``plain`` (the default, for people) and ``json`` (one object per line, for
log shippers), both with the request id of the request or task that logged.

``FLEETWATCH_LOG_FORMAT=json`` lines look like::

    {"time": "2026-12-03T14:02:11.512+00:00", "level": "INFO", "logger": "fleetwatch.request",
     "message": "POST /api/v2/incidents/ 201", "request_id": "4f0c...", "task_id": null, ...}

Extra fields passed with ``extra=`` (the request log's ``method``, ``path``, ``status``,
``duration_ms``) become keys of their own.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter


class PlainFormatter(logging.Formatter):
    """The classic line, with ``[request id]`` after the logger name when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        if rid:
            head, sep, tail = line.partition(": ")
            return f"{head} [{rid}]{sep}{tail}" if sep else f"{line} [{rid}]"
        return line


class JsonFormatter(BaseJsonFormatter):
    """python-json-logger, with an ISO 8601 UTC time and stable key names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "rename_fields", {"levelname": "level", "name": "logger", "asctime": "time"}
        )
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
            *args,
            **kwargs,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: ARG002
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` dict for settings (``log_format``: plain or json)."""
    if log_format not in ("plain", "json"):
        raise ValueError(f"FLEETWATCH_LOG_FORMAT must be plain or json, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "fleetwatch.observability.requestid.RequestIdFilter"}},
        "formatters": {
            "plain": {
                "()": "fleetwatch.observability.logs.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            },
            "json": {"()": "fleetwatch.observability.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
