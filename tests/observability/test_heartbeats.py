"""Missing-heartbeat incidents: opened on the hub's own source when a watched source falls
silent, ended when it is heard again (as Argus 2.10's sync_heartbeat_incidents)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleetwatch.incidents.heartbeats import HUB_SOURCE_NAME, check_heartbeats, hub_source
from fleetwatch.incidents.models import Event, Incident, SourceSystem
from fleetwatch.observability.housekeeping import Housekeeper


@pytest.fixture
def watched(make_source):
    source = make_source("glue", "nav")
    source.heartbeat_frequency = 60
    source.last_seen = timezone.now() - timedelta(seconds=300)
    source.save()
    return source


def heartbeat_incidents():
    return Incident.objects.filter(source__name=HUB_SOURCE_NAME)


def test_a_silent_source_gets_one_incident_and_it_ends_when_heard_again(
    db, watched, client_for, api
):
    result = check_heartbeats()
    assert result.opened == [watched.pk]
    incident = heartbeat_incidents().get()
    assert incident.open and incident.level == 4
    assert incident.description == "Missing heartbeat from source glue (nav), dead?"
    assert incident.start_time == watched.last_seen + timedelta(seconds=60)
    # Seen through the API as Argus clients look for it.
    listed = api.get("/api/v2/incidents/?open=true&tags=problem_type=missing_heartbeat").json()
    (row,) = listed["results"]
    assert {t["tag"] for t in row["tags"]} == {
        "problem_type=missing_heartbeat",
        f"source_system_id={watched.pk}",
    }
    assert row["source"]["name"] == "fleetwatch" and row["source"]["type"] == {"name": "fleetwatch"}

    # Every worker may check at once: still one incident.
    assert check_heartbeats().opened == []
    assert heartbeat_incidents().count() == 1

    # The source sends its heartbeat: the next check ends the incident.
    assert client_for(watched.user).post("/api/v2/incidents/sources/heartbeat/").status_code == 204
    result = check_heartbeats()
    assert result.ended == [watched.pk]
    incident.refresh_from_db()
    assert not incident.open
    end = incident.events.get(type=Event.Type.INCIDENT_END)
    assert end.description == 'Source "glue (nav)" is again alive and well'
    assert check_heartbeats().ended == []  # no second END

    # Silent again later: a new incident, the old one stays closed.
    SourceSystem.objects.filter(pk=watched.pk).update(
        last_seen=timezone.now() - timedelta(seconds=120)
    )
    assert check_heartbeats().opened == [watched.pk]
    assert heartbeat_incidents().count() == 2
    assert heartbeat_incidents().open().count() == 1


def test_sources_on_time_unwatched_or_never_seen_are_left_alone(db, watched, make_source):
    SourceSystem.objects.filter(pk=watched.pk).update(
        last_seen=timezone.now() - timedelta(seconds=65)  # within frequency + 10 s grace
    )
    never = make_source("new", "nav")
    never.heartbeat_frequency = 60
    never.save()  # never heard from: not judged yet
    make_source("quiet", "nav")  # no frequency, never seen
    assert check_heartbeats().opened == []
    assert not heartbeat_incidents().exists()


def test_the_incident_ends_when_the_source_stops_being_watched(db, watched):
    check_heartbeats()
    SourceSystem.objects.filter(pk=watched.pk).update(heartbeat_frequency=None)
    assert check_heartbeats().ended == [watched.pk]
    end = heartbeat_incidents().get().events.get(type=Event.Type.INCIDENT_END)
    assert "no longer watched" in end.description


def test_api_requests_of_a_watched_source_count_as_heard(
    db, watched, client_for, django_assert_num_queries
):
    api = client_for(watched.user)
    assert api.get("/api/v2/incidents/").status_code == 200
    watched.refresh_from_db()
    assert timezone.now() - watched.last_seen < timedelta(seconds=5)
    first_seen = watched.last_seen
    assert api.get("/api/v2/incidents/").status_code == 200  # within 30 s: no second write
    watched.refresh_from_db()
    assert watched.last_seen == first_seen


def test_unwatched_sources_cost_no_write_per_request(db, source, source_api):
    assert source_api.get("/api/v2/incidents/").status_code == 200
    source.refresh_from_db()
    assert source.last_seen is None  # as before: only heartbeats and polls set it


def test_the_hub_source_is_created_once(db):
    first = hub_source()
    assert hub_source().pk == first.pk
    assert first.user.has_usable_password() is False
    assert (first.name, first.type_id) == ("fleetwatch", "fleetwatch")


def test_heartbeat_frequency_is_validated_like_argus(db, watched):
    from django.core.exceptions import ValidationError

    for bad in (59, 86401):
        watched.heartbeat_frequency = bad
        with pytest.raises(ValidationError) as caught:
            watched.full_clean()
        assert "heartbeat_frequency" in caught.value.message_dict


def test_the_worker_housekeeper_checks_heartbeats_on_its_schedule(db, watched, settings):
    settings.HEARTBEAT_CHECK_INTERVAL = 30
    now = [1000.0]
    keeper = Housekeeper(clock=lambda: now[0])
    assert keeper.tick() == ["heartbeats"]
    assert heartbeat_incidents().count() == 1
    now[0] += 10
    assert keeper.tick() == []
    now[0] += 25
    assert keeper.tick() == ["heartbeats"]


def test_create_source_takes_a_heartbeat_frequency(db, capsys):
    from django.core.management import CommandError, call_command

    call_command("create_source", "glue2", type="nav", heartbeat_frequency=120)
    assert SourceSystem.objects.get(name="glue2").heartbeat_frequency == 120
    with pytest.raises(CommandError, match="between 60 and 86400"):
        call_command("create_source", "glue3", type="nav", heartbeat_frequency=30)
    assert not SourceSystem.objects.filter(name="glue3").exists()
