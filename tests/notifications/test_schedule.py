"""Time slots and maintenance windows: wall-clock semantics, past midnight, DST, RRULEs."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwatch.notifications.schedule import (
    Recurrence,
    Window,
    maintenance_covers,
    timeslot_contains,
)
from hypothesis_budget import examples

OSLO = ZoneInfo("Europe/Oslo")
MON, TUE, WED, SUN = 1, 2, 3, 7


def at(text: str, tz=OSLO) -> datetime:
    """A local wall-clock time in ``tz`` as an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC)


def rec(days, start: str, end: str) -> Recurrence:
    return Recurrence(frozenset(days), time.fromisoformat(start), time.fromisoformat(end))


# 2026-11-30 is a Monday.
@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-30T07:59:59", False),
        ("2026-11-30T08:00:00", True),
        ("2026-11-30T15:59:59", True),
        ("2026-11-30T16:00:00", False),
        ("2026-12-01T10:00:00", False),  # Tuesday
    ],
)
def test_a_daytime_slot_is_start_inclusive_end_exclusive(local, expected):
    assert timeslot_contains([rec([MON], "08:00", "16:00")], at(local), OSLO) is expected


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-30T21:59", False),
        ("2026-11-30T22:00", True),  # Monday evening
        ("2026-11-30T23:59", True),
        ("2026-12-01T00:00", True),  # Tuesday morning belongs to Monday's night
        ("2026-12-01T05:59", True),
        ("2026-12-01T06:00", False),
        ("2026-12-01T22:30", False),  # Tuesday evening: Tuesday is not a day of the slot
        ("2026-11-30T03:00", False),  # Monday morning: Sunday's night, not in the slot
        ("2026-12-06T23:00", False),  # Sunday
        ("2026-12-07T01:00", False),  # Monday morning after Sunday night
    ],
)
def test_a_night_slot_runs_past_midnight_and_belongs_to_its_start_day(local, expected):
    assert timeslot_contains([rec([MON], "22:00", "06:00")], at(local), OSLO) is expected


def test_sunday_night_runs_into_monday():
    assert timeslot_contains([rec([SUN], "22:00", "06:00")], at("2026-12-07T01:00"), OSLO)


def test_equal_start_and_end_is_24_hours_and_argus_all_day_reaches_midnight():
    assert timeslot_contains([rec([MON], "08:00", "08:00")], at("2026-12-01T07:59"), OSLO)
    assert not timeslot_contains([rec([MON], "08:00", "08:00")], at("2026-12-01T08:00"), OSLO)
    all_day = rec([MON], "00:00", "23:59:59.999999")
    assert timeslot_contains([all_day], at("2026-11-30T23:59:59.999999"), OSLO)
    assert not timeslot_contains([all_day], at("2026-12-01T00:00"), OSLO)


def test_slots_are_read_in_the_owners_time_zone():
    slot = [rec([MON], "08:00", "16:00")]
    instant = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)  # 08:30 in Oslo, 02:30 in New York
    assert timeslot_contains(slot, instant, OSLO)
    assert not timeslot_contains(slot, instant, ZoneInfo("America/New_York"))
    assert not timeslot_contains(slot, instant, UTC)
    assert not timeslot_contains([], instant, OSLO)


def test_dst_wall_clock_semantics():
    # 2026-10-25 (Sunday): Oslo's clocks go from 03:00 CEST back to 02:00 CET.
    slot = [rec([SUN], "02:00", "02:30")]
    first = datetime(2026, 10, 25, 0, 15, tzinfo=UTC)  # 02:15 CEST
    second = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 CET, an hour later
    assert timeslot_contains(slot, first, OSLO) and timeslot_contains(slot, second, OSLO)
    # 2026-03-29 (Sunday): 02:00 CET jumps to 03:00 CEST; 02:00-02:30 never happens.
    day = datetime(2026, 3, 29, tzinfo=UTC)
    assert not any(
        timeslot_contains(slot, day + timedelta(minutes=m), OSLO) for m in range(0, 24 * 60, 5)
    )
    # A night slot across the change still ends at 06:00 local.
    night = [rec([6], "22:00", "06:00")]  # Saturday night
    assert timeslot_contains(night, at("2026-03-29T05:59"), OSLO)
    assert not timeslot_contains(night, at("2026-03-29T06:00"), OSLO)


def test_one_off_maintenance():
    start, end = at("2026-12-01T10:00"), at("2026-12-01T12:00")
    window = Window.build(start, end)
    assert not window.covers(start - timedelta(microseconds=1))
    assert window.covers(start) and window.covers(end - timedelta(microseconds=1))
    assert not window.covers(end)
    endless = Window.build(start, None)
    assert endless.covers(start + timedelta(days=3650))
    assert maintenance_covers([window, endless], end)
    assert not maintenance_covers([], end)


def test_recurring_maintenance_keeps_its_wall_clock_time_across_dst():
    # Every Sunday 02:00 Oslo time for two hours, from October to December 2026.
    start = at("2026-10-04T02:00")
    window = Window.build(start, None, "FREQ=WEEKLY;BYDAY=SU", timedelta(hours=2), tz=OSLO)
    assert window.covers(at("2026-10-18T02:00"))  # CEST
    assert window.covers(at("2026-11-08T03:59"))  # CET: still 02:00-04:00 local
    assert not window.covers(at("2026-11-08T04:00"))
    assert not window.covers(at("2026-11-08T01:59"))
    assert not window.covers(at("2026-11-09T03:00"))  # Monday
    assert not window.covers(start - timedelta(minutes=1))


def test_a_window_running_past_midnight_and_rrule_limits():
    start = at("2026-11-30T23:00")
    window = Window.build(start, None, "RRULE:FREQ=DAILY;COUNT=2", timedelta(hours=3), tz=OSLO)
    assert window.covers(at("2026-12-01T01:30"))
    assert window.covers(at("2026-12-02T01:59"))
    assert not window.covers(at("2026-12-02T02:00"))
    assert not window.covers(at("2026-12-03T00:00"))  # COUNT=2: no third night


def test_ending_a_recurring_maintenance_early_cuts_the_current_window():
    start = at("2026-11-01T08:00")
    fields = dict(recurrence="FREQ=DAILY", duration=timedelta(hours=8), tz=OSLO)
    assert Window.build(start, None, **fields).covers(at("2026-12-01T12:00"))
    ended = Window.build(start, at("2026-12-01T11:00"), **fields)
    assert ended.covers(at("2026-12-01T10:59"))
    assert not ended.covers(at("2026-12-01T11:00"))
    assert not ended.covers(at("2026-12-02T09:00"))


def test_several_windows_a_day():
    window = Window.build(
        at("2020-01-01T00:00"), None, "FREQ=DAILY;BYHOUR=2,14", timedelta(minutes=10), tz=OSLO
    )
    assert window.covers(at("2026-12-01T14:05"))
    assert not window.covers(at("2026-12-01T14:15"))


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY;INTERVAL=5;BYMINUTE=0",
        "FREQ=MINUTELY;INTERVAL=30",
        "FREQ=WEEKLY;BYDAY=SU;BYHOUR=3;BYMINUTE=0",
        "FREQ=DAILY;INTERVAL=3;BYHOUR=23",
    ],
)
def test_old_frequent_series_are_searched_near_the_instant(rule):
    """A series started years ago is searched from a start moved near the instant; it finds
    what walking every occurrence from the true start finds (around the 2026 DST change)."""
    from dateutil.rrule import rrulestr

    start, duration = at("2023-01-01T00:17"), timedelta(minutes=20)
    window = Window.build(start, None, rule, duration, tz=OSLO)
    first = datetime(2026, 10, 24, 20, tzinfo=UTC)
    instants = [first + timedelta(minutes=7 * n) for n in range(200)]
    walked = [
        o.astimezone(UTC)
        for o in rrulestr(rule, dtstart=start.astimezone(OSLO)).between(
            start.astimezone(OSLO), instants[-1].astimezone(OSLO) + timedelta(days=1)
        )
    ]
    expected = [any(o <= t < o + duration for o in walked) for t in instants]
    assert [window.covers(t) for t in instants] == expected
    assert any(expected)


def test_a_bad_rule_is_a_value_error():
    with pytest.raises(ValueError):
        Window.build(at("2026-11-01T08:00"), None, "FREQ=SOMETIMES", timedelta(hours=1))


def reference_contains(recurrences, when_utc, tz) -> bool:
    """The definition spelt out: each recurrence is a list of wall-clock intervals, one per
    day of the slot, ending the next day when the end is not after the start."""
    local = when_utc.astimezone(tz).replace(tzinfo=None, fold=0)
    for r in recurrences:
        for day in (local.date() - timedelta(days=1), local.date()):
            if day.isoweekday() not in r.days:
                continue
            begins = datetime.combine(day, r.start)
            if r.end == time.max and r.start != time.max:
                ends = datetime.combine(day + timedelta(days=1), time.min)
            elif r.start < r.end:
                ends = datetime.combine(day, r.end)
            else:
                ends = datetime.combine(day + timedelta(days=1), r.end)
            if begins <= local < ends:
                return True
    return False


minutes = st.integers(0, 24 * 60 - 1).map(lambda m: time(m // 60, m % 60))
recurrences = st.builds(
    Recurrence,
    st.frozensets(st.integers(1, 7), min_size=1),
    minutes,
    minutes | st.just(time.max),
)
# Instants around the 2026 DST changes of Europe and North America, and anywhere else.
DST_CHANGES = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Europe, spring
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Europe, autumn
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # North America, spring
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # North America, autumn
]
instants = st.one_of(
    st.sampled_from(DST_CHANGES).flatmap(
        lambda t: st.integers(-180, 180).map(lambda m: t + timedelta(minutes=m))
    ),
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
)
zones = st.sampled_from([OSLO, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"), UTC])


@settings(max_examples=examples(500), deadline=None)
@given(slot=st.lists(recurrences, max_size=3), when=instants, tz=zones)
def test_time_slots_follow_the_definition(slot, when, tz):
    assert timeslot_contains(slot, when, tz) is reference_contains(slot, when, tz)


def reference_covers(start, end, rule_text, duration, tz, when) -> bool:
    """Every occurrence walked from the start, each window ``[occurrence, + duration)``."""
    from dateutil.rrule import rrulestr

    if when < start or (end is not None and when >= end):
        return False
    for occurrence in rrulestr(rule_text, dtstart=start.astimezone(tz)):
        begins = occurrence.astimezone(UTC)
        if begins > when:
            return False
        if when < begins + duration:
            return True
    return False


rules = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=30",
        "FREQ=WEEKLY;BYDAY=SU",
        "FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=23",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=WEEKLY;COUNT=5",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;BYHOUR=2;BYMINUTE=30",
        "FREQ=HOURLY;INTERVAL=7",
        "FREQ=HOURLY;BYHOUR=2,3;BYMINUTE=15,45",
        "FREQ=MINUTELY;INTERVAL=97",
        "FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU;BYHOUR=2",
    ]
)


@settings(max_examples=examples(300), deadline=None)
@given(
    rule=rules,
    start=instants,
    duration=st.integers(1, 4 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    offset=st.integers(-60, 90 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    ends_after=st.none() | st.integers(1, 60 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    tz=zones,
)
def test_recurring_windows_follow_the_definition(rule, start, duration, offset, ends_after, tz):
    start = start.replace(second=0, microsecond=0) - timedelta(days=40)
    end = start + ends_after if ends_after is not None else None
    when = start + timedelta(days=40) + offset
    window = Window.build(start, end, rule, duration, tz)
    assert window.covers(when) is reference_covers(start, end, rule, duration, tz, when)
