"""Request ids: returned in X-Request-ID, in every log line, carried into enqueued tasks."""

import io
import json
import logging

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django_tasks_db.models import DBTaskResult

from fleetwatch.observability.logs import JsonFormatter, PlainFormatter, logging_config
from fleetwatch.observability.requestid import RequestIdFilter, RequestIdMiddleware


@pytest.fixture
def captured():
    """Log lines as FLEETWATCH_LOG_FORMAT=json writes them (same formatter and filter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_every_response_carries_a_fresh_request_id(db):
    client = Client()
    first = client.get("/.still-alive/")["X-Request-ID"]
    second = client.get("/.still-alive/")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_well_formed_incoming_id_is_kept_and_a_bad_one_replaced(db):
    client = Client()
    kept = client.get("/.still-alive/", HTTP_X_REQUEST_ID="proxy-7f3a.1")
    assert kept["X-Request-ID"] == "proxy-7f3a.1"
    for bad in ("x" * 129, "two words", "inject\nline", ""):
        answer = client.get("/.still-alive/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert answer != bad and len(answer) == 32


def test_json_access_log_line_has_the_request_id_of_the_header(db, settings, captured, api):
    settings.ACCESS_LOG = True
    api.handler.load_middleware()  # the middleware reads the setting when it is built
    response = api.get("/api/v2/incidents/?open=true", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 200
    lines = [line for line in captured() if line["logger"] == "fleetwatch.request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response["X-Request-ID"] == "req-123"
    assert line["message"] == "GET /api/v2/incidents/ 200"
    assert line["method"] == "GET" and line["status"] == 200 and line["level"] == "INFO"
    assert line["path"] == "/api/v2/incidents/" and isinstance(line["duration_ms"], float)
    assert line["time"].endswith("+00:00") and line["task_id"] is None


def test_logs_inside_a_request_carry_its_id(db, captured):
    def view(request):
        logging.getLogger("fleetwatch.somewhere").warning("deep inside")
        return HttpResponse("ok")

    response = RequestIdMiddleware(view)(RequestFactory().get("/x"))
    (line,) = [line for line in captured() if line["logger"] == "fleetwatch.somewhere"]
    assert line["request_id"] == response["X-Request-ID"]
    assert line["message"] == "deep inside" and line["level"] == "WARNING"


def run_queued_tasks() -> None:
    """What ``fleetwatch worker --batch`` does for each task (without closing the test's
    database connection, as the command does)."""
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test",
        excluded_queue_names=[],
    )
    for row in DBTaskResult.objects.ready():
        row.claim("test")
        worker.run_task(row)


def test_request_id_is_carried_into_an_enqueued_task_and_its_worker_logs(db, captured):
    from observability.task_helpers import note

    def view(request):
        note.enqueue("hello")
        return HttpResponse("queued")

    request = RequestFactory().post("/x", HTTP_X_REQUEST_ID="req-from-client")
    response = RequestIdMiddleware(view)(request)
    assert response["X-Request-ID"] == "req-from-client"
    row = DBTaskResult.objects.get()
    assert row.args_kwargs == {
        "args": ["hello"],
        "kwargs": {},
        "request_id": "req-from-client",
    }
    # The task's own arguments are untouched: it runs with ("hello",) only.
    run_queued_tasks()
    row.refresh_from_db()
    assert row.status == "SUCCESSFUL" and row.return_value == "hello"
    (line,) = [line for line in captured() if line["logger"] == "fleetwatch.tests.tasks"]
    assert line["request_id"] == "req-from-client"
    assert line["task_id"] == str(row.id)


def test_tasks_enqueued_outside_a_request_carry_no_id(db):
    from observability.task_helpers import note

    note.enqueue("cron")
    assert DBTaskResult.objects.get().args_kwargs == {"args": ["cron"], "kwargs": {}}


def test_plain_format_shows_the_id_after_the_logger_name():
    record = logging.LogRecord("fleetwatch.x", logging.INFO, __file__, 1, "hi", None, None)
    record.request_id = "abc"
    formatter = PlainFormatter("%(levelname)s %(name)s: %(message)s")
    assert formatter.format(record) == "INFO fleetwatch.x [abc]: hi"
    record.request_id = None
    assert formatter.format(record) == "INFO fleetwatch.x: hi"


def test_log_format_setting_is_checked():
    assert logging_config("json", "INFO")["handlers"]["console"]["formatter"] == "json"
    with pytest.raises(ValueError, match="FLEETWATCH_LOG_FORMAT"):
        logging_config("xml", "INFO")


def test_gunicorn_logs_json_too(monkeypatch):
    """Under FLEETWATCH_LOG_FORMAT=json, gunicorn's own lines go through the same formatter;
    its access log is silenced while the hub logs requests itself."""
    import logging.config

    from fleetwatch.observability.gunicorn_conf import gunicorn_logconfig

    for access_log, level in (("", "CRITICAL"), ("false", "INFO")):
        monkeypatch.setenv("FLEETWATCH_ACCESS_LOG", access_log)
        config = gunicorn_logconfig()
        assert config["loggers"]["gunicorn.access"]["level"] == level
    stream = io.StringIO()
    config["handlers"]["error_console"]["stream"] = stream
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, **config})
    logging.getLogger("gunicorn.error").info("Booting worker with pid: %s", 42)
    line = json.loads(stream.getvalue())
    assert line["message"] == "Booting worker with pid: 42" and line["logger"] == "gunicorn.error"
