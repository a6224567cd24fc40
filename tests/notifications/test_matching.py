"""Matching events to profiles and planned maintenance: in memory, from snapshots loaded in a
constant number of queries."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleetwatch.incidents.filterblob import IncidentFacts, facts_for, parse_filter
from fleetwatch.incidents.models import INFINITY, Incident, Tag
from fleetwatch.notifications.matching import (
    MaintenanceSpec,
    Match,
    ProfileSpec,
    load_maintenances,
    load_profiles,
    match_event,
)
from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)
from fleetwatch.notifications.schedule import Recurrence, Window

ALWAYS = (Recurrence(frozenset(range(1, 8)), time.min, time.max),)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
FACTS = IncidentFacts(
    pk=1,
    source_id=1,
    source_type="nav",
    tags=frozenset({("host", "a")}),
    open=True,
    acked=False,
    stateful=True,
    level=2,
)
HOST_A = parse_filter({"tags": ["host=a"]})
HOST_B = parse_filter({"tags": ["host=b"]})


def profile(pk, destinations, filters=(HOST_A,), delay=None, recurrences=ALWAYS, user=1, tz=UTC):
    return ProfileSpec(
        profile_id=pk,
        user_id=user,
        tz=tz,
        recurrences=recurrences,
        filters=tuple(filters),
        destination_ids=tuple(destinations),
        delay=timedelta(minutes=delay) if delay else None,
    )


def maintenance(filters=(HOST_A,), start=NOW - timedelta(hours=1), end=None, **window):
    return MaintenanceSpec(1, tuple(filters), (Window.build(start, end, **window),))


def test_a_profile_matches_on_filters_and_time_slot():
    office = (Recurrence(frozenset({1}), time(8), time(16)),)
    profiles = [
        profile(1, [10]),
        profile(2, [20], filters=[HOST_B]),
        profile(3, [30], recurrences=office, tz=ZoneInfo("America/New_York")),  # 07:00 there
        profile(4, [40], filters=[]),
        profile(5, [50], filters=[HOST_B, HOST_A]),  # a union
    ]
    assert match_event("STA", NOW, FACTS, profiles) == [Match(1, 10), Match(5, 50)]


def test_one_message_per_destination_the_soonest_wins():
    profiles = [profile(3, [7, 8], delay=10), profile(2, [7]), profile(1, [8], delay=5)]
    assert match_event("STA", NOW, FACTS, profiles) == [
        Match(2, 7, None),
        Match(1, 8, NOW + timedelta(minutes=5)),
    ]
    same = [profile(9, [7]), profile(4, [7])]
    assert match_event("STA", NOW, FACTS, same) == [Match(4, 7)]


def test_the_delay_holds_back_only_the_start():
    profiles = [profile(1, [10], delay=15)]
    assert match_event("STA", NOW, FACTS, profiles) == [Match(1, 10, NOW + timedelta(minutes=15))]
    assert match_event("END", NOW, FACTS, profiles) == [Match(1, 10, None)]
    assert match_event("ACK", NOW, FACTS, profiles) == [Match(1, 10, None)]


def test_event_types_match_the_events_own_type():
    only_ends = parse_filter({"event_types": ["END", "CLO"]})
    profiles = [profile(1, [10], filters=[only_ends])]
    assert match_event("STA", NOW, FACTS, profiles) == []
    assert match_event("END", NOW, FACTS, profiles) == [Match(1, 10)]


def test_maintenance_silences_covered_incidents_while_it_lasts():
    profiles = [profile(1, [10])]
    assert match_event("STA", NOW, FACTS, profiles, [maintenance()]) == []
    # Not covered: other filters, over, not yet begun, ended early, no filters at all.
    for spec in (
        maintenance(filters=[HOST_B]),
        maintenance(start=NOW - timedelta(hours=2), end=NOW - timedelta(hours=1)),
        maintenance(start=NOW + timedelta(minutes=1)),
        maintenance(end=NOW),
        maintenance(filters=[]),
    ):
        assert match_event("STA", NOW, FACTS, profiles, [spec]) == [Match(1, 10)]


def test_maintenance_filters_must_all_match():
    critical = parse_filter({"maxlevel": 1})
    profiles = [profile(1, [10])]
    assert match_event("STA", NOW, FACTS, profiles, [maintenance([HOST_A, critical])]) == [
        Match(1, 10)
    ]
    high = parse_filter({"maxlevel": 2})
    assert match_event("STA", NOW, FACTS, profiles, [maintenance([HOST_A, high])]) == []


def test_recurring_maintenance():
    nightly = maintenance(
        start=datetime(2026, 11, 1, 23, tzinfo=UTC),
        recurrence="FREQ=DAILY",
        duration=timedelta(hours=2),
    )
    profiles = [profile(1, [10])]
    night = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    assert match_event("STA", night, FACTS, profiles, [nightly]) == []
    assert match_event("STA", NOW, FACTS, profiles, [nightly]) == [Match(1, 10)]


# -- loading from the database ---------------------------------------------------------------


@pytest.fixture
def make_profile(make_user):
    """A user with a profile: filters, destinations and a time slot of its own."""
    counter = iter(range(1, 10_000))

    def make(blobs=({"tags": ["host=a"]},), *, active=True, delay=None, time_zone="", days=None):
        n = next(counter)
        user = make_user(f"watcher{n}", time_zone=time_zone)
        timeslot = Timeslot.objects.create(user=user, name=f"slot{n}")
        TimeRecurrence.objects.create(
            timeslot=timeslot, days=days or [1, 2, 3, 4, 5, 6, 7], start=time(0), end=time(0)
        )
        prof = NotificationProfile.objects.create(
            user=user, name=f"p{n}", timeslot=timeslot, active=active, delay_minutes=delay
        )
        for m, blob in enumerate(blobs):
            prof.filters.add(Filter.objects.create(user=user, name=f"f{m}", filter=blob))
        prof.destinations.add(
            Destination.objects.create(user=user, media="webhook", label=f"hook{n}")
        )
        return prof

    return make


def test_profiles_load_in_four_queries_whatever_their_number(
    make_profile, django_assert_num_queries
):
    make_profile()
    with django_assert_num_queries(4):
        assert len(load_profiles()) == 1
    for _ in range(15):
        make_profile(blobs=[{"tags": ["host=a"]}, {"maxlevel": 1}])
    make_profile(active=False)
    gone = make_profile()
    gone.user.is_active = False
    gone.user.save()
    with django_assert_num_queries(4):
        specs = load_profiles()
    assert len(specs) == 16
    assert all(len(spec.destination_ids) == 1 for spec in specs)
    assert {len(spec.filters) for spec in specs} == {1, 2}


def test_loaded_profiles_carry_time_zone_delay_and_slots(make_profile, settings):
    settings.TIME_ZONE = "Europe/Oslo"
    oslo_default = make_profile(delay=5, days=[1])
    tokyo = make_profile(time_zone="Asia/Tokyo")
    specs = {spec.profile_id: spec for spec in load_profiles()}
    assert specs[oslo_default.pk].tz == ZoneInfo("Europe/Oslo")
    assert specs[oslo_default.pk].delay == timedelta(minutes=5)
    assert specs[oslo_default.pk].recurrences == (Recurrence(frozenset({1}), time(0), time(0)),)
    assert specs[tokyo.pk].tz == ZoneInfo("Asia/Tokyo")
    assert specs[tokyo.pk].user_id == tokyo.user_id


def test_a_stored_filter_that_no_longer_parses_matches_nothing(make_profile):
    prof = make_profile(blobs=[{"tags": ["host=a"]}])
    Filter.objects.filter(notification_profiles=prof).update(filter={"colour": "red"})
    (spec,) = load_profiles()
    assert not any(f.matches(FACTS) for f in spec.filters)


def test_maintenance_loads_in_two_queries_and_skips_long_ended(
    superuser, django_assert_num_queries
):
    now = datetime.now(UTC)
    blob = Filter.objects.create(user=superuser, name="a", filter={"tags": ["host=a"]})
    current = PlannedMaintenance.objects.create(created_by=superuser, start_time=now)
    current.filters.add(blob)
    weekly = PlannedMaintenance.objects.create(
        created_by=superuser,
        start_time=now - timedelta(days=30),
        recurrence="FREQ=WEEKLY",
        duration=timedelta(hours=1),
    )
    weekly.filters.add(blob)
    PlannedMaintenance.objects.create(
        created_by=superuser, start_time=now - timedelta(days=9), end_time=now - timedelta(days=8)
    )
    with django_assert_num_queries(2):
        specs = load_maintenances()
    assert {spec.maintenance_id for spec in specs} == {current.pk, weekly.pk}
    assert all(len(spec.filters) == 1 for spec in specs)


def test_an_event_end_to_end(make_profile, source, superuser, django_assert_num_queries):
    """Facts from the database, snapshots from the database, one match per destination."""
    ours = make_profile()
    make_profile(blobs=[{"tags": ["host=b"]}])
    incident = Incident.objects.create(start_time=NOW, end_time=INFINITY, source=source, level=3)
    tag = Tag.objects.create(key="host", value="a")
    incident.tag_relations.create(tag=tag, added_by=source.user)
    profiles, maintenances = load_profiles(), load_maintenances()
    facts = facts_for([incident])[incident.pk]
    with django_assert_num_queries(0):
        matches = match_event("STA", NOW, facts, profiles, maintenances)
    assert [m.profile_id for m in matches] == [ours.pk]
    pm = PlannedMaintenance.objects.create(created_by=superuser, start_time=NOW)
    pm.filters.add(Filter.objects.create(user=superuser, name="pm", filter={"maxlevel": 3}))
    assert match_event("STA", NOW, facts, profiles, load_maintenances()) == []
    pm.end_time = NOW + timedelta(minutes=1)
    pm.save()
    later = NOW + timedelta(minutes=1)
    assert match_event("STA", later, facts, profiles, load_maintenances()) == matches
