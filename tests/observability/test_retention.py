"""Retention: closed (and stateless) incidents past FLEETWATCH_RETENTION_DAYS go, in batches,
with their events, acks and tags; open incidents never do. Old task results go too."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fleetwatch.incidents.events import acknowledge
from fleetwatch.incidents.ingest import IncidentDraft, create_incident
from fleetwatch.incidents.models import (
    INFINITY,
    Acknowledgement,
    Event,
    Incident,
    IncidentTagRelation,
)
from fleetwatch.incidents.retention import prune_incidents, prune_task_results
from fleetwatch.observability.housekeeping import Housekeeper, run_retention

DAY = timedelta(days=1)


@pytest.fixture
def history(source):
    """Incidents of every kind, old and recent; returns {name: pk}."""
    now = timezone.now()

    def make(name, start, end):
        incident = create_incident(
            source,
            source.user,
            IncidentDraft(
                start_time=start, end_time=end, source_incident_id=name, tags=[("host", name)]
            ),
        )
        acknowledge(incident, source.user, start + timedelta(minutes=1), "seen")
        return incident.pk

    return {
        "old_open": make("old_open", now - 400 * DAY, INFINITY),
        "old_closed_1": make("old_closed_1", now - 400 * DAY, now - 300 * DAY),
        "old_closed_2": make("old_closed_2", now - 200 * DAY, now - 100 * DAY),
        "old_closed_3": make("old_closed_3", now - 50 * DAY, now - 31 * DAY),
        "recently_closed": make("recently_closed", now - 400 * DAY, now - 5 * DAY),
        "old_stateless": make("old_stateless", now - 90 * DAY, None),
        "new_stateless": make("new_stateless", now - 2 * DAY, None),
        "new_open": make("new_open", now - DAY, INFINITY),
    }


def test_only_old_closed_and_stateless_incidents_go_in_batches(db, history):
    result = prune_incidents(days=30, batch_size=2)
    assert result.incidents == 4 and result.batches == 2
    kept = set(Incident.objects.values_list("source_incident_id", flat=True))
    assert kept == {"old_open", "recently_closed", "new_stateless", "new_open"}
    gone = [history[n] for n in ("old_closed_1", "old_closed_2", "old_closed_3", "old_stateless")]
    assert not Event.objects.filter(incident_id__in=gone).exists()
    assert not Acknowledgement.objects.filter(event__incident_id__in=gone).exists()
    assert not IncidentTagRelation.objects.filter(incident_id__in=gone).exists()
    # What stays keeps its history.
    assert Event.objects.filter(incident_id=history["old_open"]).count() == 2  # STA + ACK
    assert prune_incidents(days=30, batch_size=2).incidents == 0


def test_a_pass_can_stop_after_some_batches(db, history):
    assert prune_incidents(days=30, batch_size=1, max_batches=3).incidents == 3
    assert prune_incidents(days=30, batch_size=1).incidents == 1


def test_each_batch_takes_a_bounded_number_of_queries(db, history, django_assert_max_num_queries):
    # Two batches (the second is short, so no empty look), whatever the number of events;
    # one DELETE per model referring to events (acknowledgements, notification deliveries).
    # + the deliveries of the events, the device links, the inventory's pending incident keys
    with django_assert_max_num_queries(2 * 13):
        prune_incidents(days=30, batch_size=3)


def test_retention_is_off_by_default(db, history, settings):
    assert settings.RETENTION_DAYS == 0
    assert run_retention() == {"incidents": 0, "task_results": 0}
    assert Incident.objects.count() == 8
    assert [job.name for job in Housekeeper().jobs] == ["heartbeats"]


def test_the_worker_prunes_on_its_schedule(db, history, settings):
    settings.RETENTION_DAYS = 30
    settings.TASK_RETENTION_DAYS = 30
    settings.RETENTION_INTERVAL = 3600
    now = [0.0]
    keeper = Housekeeper(clock=lambda: now[0])
    assert keeper.tick() == ["heartbeats", "retention"]
    assert Incident.objects.count() == 4
    now[0] += 60
    assert keeper.tick() == ["heartbeats"]


def test_old_finished_task_results_go(db):
    from observability.task_helpers import note

    for text in ("old-done", "old-failed", "new-done", "waiting"):
        note.enqueue(text)
    now = timezone.now()
    rows = DBTaskResult.objects
    rows.filter(args_kwargs__args=["old-done"]).update(
        status="SUCCESSFUL", finished_at=now - 40 * DAY
    )
    rows.filter(args_kwargs__args=["old-failed"]).update(
        status="FAILED", finished_at=now - 40 * DAY
    )
    rows.filter(args_kwargs__args=["new-done"]).update(status="SUCCESSFUL", finished_at=now)
    assert prune_task_results(days=30, batch_size=1) == 2
    left = {r.args_kwargs["args"][0] for r in rows.all()}
    assert left == {"new-done", "waiting"}


def test_prune_command(db, history, capsys):
    with pytest.raises(CommandError, match="retention is off"):
        call_command("prune")
    call_command("prune", days=30, dry_run=True)
    assert "would delete 4 incidents" in capsys.readouterr().out
    assert Incident.objects.count() == 8
    call_command("prune", days=30, batch_size=3)
    assert "deleted 4 incidents older than 30 days in 2 batches" in capsys.readouterr().out
    assert Incident.objects.count() == 4
