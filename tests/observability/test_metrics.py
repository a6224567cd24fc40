"""/metrics: request counts and latency by route, incidents by source, connectors, the queue."""

from types import SimpleNamespace

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from fleetwatch.observability import tasks as task_signals
from fleetwatch.observability.metrics import remove_dead_process_files


def scrape(client=None, **headers) -> dict:
    """``{(sample name, frozenset(labels)): value}`` of one scrape."""
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


COUNT = "fleetwatch_http_request_duration_seconds_count"


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_method_and_status_with_latency(db, post_incident):
    route = "/api/v2/incidents/"
    before = scrape()
    post_incident()
    post_incident()
    post_incident(expect=400, start_time="nonsense")
    after = scrape()
    created = dict(name=COUNT, route=route, method="POST")
    assert value(after, **created, status="201") - value(before, **created, status="201") == 2
    assert value(after, **created, status="400") - value(before, **created, status="400") == 1
    bucket = "fleetwatch_http_request_duration_seconds_bucket"
    inf = dict(route=route, method="POST", status="201", le="+Inf")
    assert value(after, bucket, **inf) - value(before, bucket, **inf) == 2
    total = "fleetwatch_http_request_duration_seconds_sum"
    sums = dict(route=route, method="POST", status="201")
    assert value(after, total, **sums) > value(before, total, **sums)


def test_routes_are_patterns_not_paths(db, source_api, post_incident):
    pk = post_incident()["pk"]
    before = scrape()
    assert source_api.get(f"/api/v2/incidents/{pk}/").status_code == 200
    assert Client().get("/no/such/page/").status_code == 404
    after = scrape()
    detail = dict(
        name=COUNT,
        route="/api/v2/incidents/<id:pk>/",
        method="GET",
        status="200",
    )
    assert value(after, **detail) - value(before, **detail) == 1
    unmatched = dict(name=COUNT, route="<unmatched>", method="GET", status="404")
    assert value(after, **unmatched) - value(before, **unmatched) == 1


def test_incidents_by_source_and_state_come_from_the_database(db, post_incident, source_api):
    post_incident()
    post_incident(end_time=None)  # stateless
    closed = post_incident()["pk"]
    source_api.post(
        f"/api/v2/incidents/{closed}/events/",
        {"type": "END", "timestamp": "2026-11-20T11:00:00+00:00"},
        format="json",
    )
    samples = scrape()
    labels = dict(source="nav1", source_type="nav")
    assert value(samples, "fleetwatch_incidents", **labels, state="open") == 1
    assert value(samples, "fleetwatch_incidents", **labels, state="closed") == 1
    assert value(samples, "fleetwatch_incidents", **labels, state="stateless") == 1
    assert value(samples, "fleetwatch_incidents_opened_total", **labels) == 3
    assert value(samples, "fleetwatch_incidents_ended_total", **labels) == 1


def test_connector_health_and_queue_depth(db, make_source):
    from django_tasks_db.models import DBTaskResult

    from fleetwatch.connectors.models import Connector, ConnectorState
    from observability.task_helpers import note

    source = make_source("ma-campus", "metaaccess")
    connector = Connector.objects.create(
        name="ma-campus", vendor="metaaccess", base_url="http://127.0.0.1:1", source=source
    )
    ConnectorState.objects.create(
        connector=connector,
        requests_total=42,
        consecutive_failures=2,
        last_poll_seconds=1.5,
        last_poll_summary={"waited_seconds": 12.5, "rate_limited": 1},
    )
    note.enqueue("a")
    note.enqueue("b")
    DBTaskResult.objects.filter(args_kwargs__args=["b"]).update(status="RUNNING")
    samples = scrape()
    labels = dict(connector="ma-campus", vendor="metaaccess")
    assert value(samples, "fleetwatch_connector_requests_total", **labels) == 42
    assert value(samples, "fleetwatch_connector_consecutive_failures", **labels) == 2
    assert value(samples, "fleetwatch_connector_enabled", **labels) == 1
    assert value(samples, "fleetwatch_connector_last_poll_seconds", **labels) == 1.5
    assert (
        value(samples, "fleetwatch_connector_last_poll_rate_limit_wait_seconds", **labels) == 12.5
    )
    assert value(samples, "fleetwatch_task_queue_depth", queue="default", status="ready") == 1
    assert value(samples, "fleetwatch_task_queue_depth", queue="default", status="running") == 1


def test_connector_polls_counted_from_finished_poll_tasks(db, make_source):
    """The worker counts each finished poll task by outcome, with its 429s and waits."""
    from fleetwatch.connectors.models import Connector

    source = make_source("ss-hq", "7signal")
    connector = Connector.objects.create(
        name="ss-hq", vendor="7signal", base_url="http://127.0.0.1:1", source=source
    )

    def finished(outcome):
        task_signals._leave_task(
            sender=None,
            task_result=SimpleNamespace(
                task=SimpleNamespace(name="poll_connector"),
                status="SUCCESSFUL",
                args=[connector.pk],
                return_value=outcome,
            ),
        )

    before = scrape()
    finished({"status": "ok", "requests": 3, "rate_limited": 2, "waited_seconds": 4.5})
    finished({"status": "failed", "requests": 1, "rate_limited": 0, "waited_seconds": 0.0})
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    polls = "fleetwatch_connector_polls_total"
    assert delta(polls, connector="ss-hq", status="ok") == 1
    assert delta(polls, connector="ss-hq", status="failed") == 1
    assert delta("fleetwatch_connector_rate_limited_total", connector="ss-hq") == 2
    assert delta("fleetwatch_connector_rate_limit_wait_seconds_total", connector="ss-hq") == 4.5


def test_a_scrape_takes_a_constant_number_of_queries(
    db, post_incident, make_source, django_assert_max_num_queries
):
    from django.utils import timezone

    from fleetwatch.incidents.ingest import IncidentDraft, create_incident

    for n in range(5):
        other = make_source(f"src{n}", "nav")
        create_incident(other, other.user, IncidentDraft(start_time=timezone.now()))
    with django_assert_max_num_queries(4):
        scrape()


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong", 401), ("Token s3cret-token", 401), ("Bearer s3cret-token", 200)],
)
def test_a_metrics_token_protects_the_route(db, settings, header, status):
    settings.METRICS_TOKEN = "s3cret-token"
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"s3cret" not in response.content


def test_metrics_is_read_only(db):
    assert Client().post("/metrics").status_code == 405


def test_files_of_dead_processes_are_removed_at_start(tmp_path):
    import os

    (tmp_path / f"counter_{os.getpid()}.db").write_bytes(b"")
    (tmp_path / "counter_999999999.db").write_bytes(b"")
    (tmp_path / "histogram_999999999.db").write_bytes(b"")
    assert remove_dead_process_files(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == [f"counter_{os.getpid()}.db"]


def test_a_database_failure_still_serves_the_process_counters(db, monkeypatch):
    from django.db import OperationalError

    from fleetwatch.observability.metrics import DatabaseCollector

    assert value(scrape(), "fleetwatch_metrics_database_up") == 1
    Client().get("/.still-alive/")

    def broken(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(DatabaseCollector, "task_queue", broken)
    samples = scrape()
    assert value(samples, "fleetwatch_metrics_database_up") == 0
    assert not any(name == "fleetwatch_incidents" for name, _ in samples)
    count = dict(name=COUNT, route="/.still-alive/", method="GET", status="204")
    assert value(samples, **count) >= 1
