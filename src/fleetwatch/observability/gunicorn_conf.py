"""gunicorn's configuration under ``FLEETWATCH_LOG_FORMAT=json`` (``fleetwatch serve`` passes
``-c python:fleetwatch.observability.gunicorn_conf`` then): gunicorn's own lines (start-up,
worker boots and timeouts) become JSON objects too, so every line on the server's output is
one. Its access log is silenced when the hub logs requests itself (``FLEETWATCH_ACCESS_LOG``,
on by default with JSON), else written as JSON with the classic line as ``message``.

Read by the gunicorn master before Django is set up, so it reads the environment itself.
"""

import os
from typing import Any


def _hub_logs_requests() -> bool:
    value = os.environ.get("FLEETWATCH_ACCESS_LOG", "").strip().lower()
    return value not in {"0", "false", "no", "off"}  # default on with JSON


def gunicorn_logconfig() -> dict[str, Any]:
    handler = {"class": "logging.StreamHandler", "formatter": "json"}
    return {
        "formatters": {"json": {"()": "fleetwatch.observability.logs.JsonFormatter"}},
        "handlers": {
            "console": {**handler, "stream": "ext://sys.stdout"},
            "error_console": {**handler, "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "gunicorn.error": {
                "level": "INFO",
                "handlers": ["error_console"],
                "propagate": False,
                "qualname": "gunicorn.error",
            },
            "gunicorn.access": {
                "level": "CRITICAL" if _hub_logs_requests() else "INFO",
                "handlers": ["console"],
                "propagate": False,
                "qualname": "gunicorn.access",
            },
        },
    }


logconfig_dict = gunicorn_logconfig()
