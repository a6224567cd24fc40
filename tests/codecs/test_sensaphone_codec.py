"""The Sensaphone timestamp codec: the vendor's formula, round trips, ordering, DST edges."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fleetwatch.codecs.sensaphone import (
    MAX_TIMESTAMP,
    decode,
    encode,
    from_sensaphone,
    is_valid,
    to_sensaphone,
)
from hypothesis_budget import examples

ZONES = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kolkata",
]

wall_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(microsecond=0))
instants = st.datetimes(
    min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


def fields(d: datetime) -> tuple[int, int, int, int, int, int]:
    return d.year, d.month, d.day, d.hour, d.minute, d.second


# --- worked examples, computed by hand from the spec's formula ------------------------------
# ts = sec + min*60 + hour*3600 + (day-1)*86400 + (month-1)*2678400 + (year-2000)*32140800
@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ((2000, 1, 1, 0, 0, 0), 0),
        ((2000, 1, 1, 0, 0, 59), 59),
        ((2000, 1, 1, 0, 1, 0), 60),
        ((2000, 1, 2, 0, 0, 0), 86_400),
        ((2000, 2, 1, 0, 0, 0), 2_678_400),  # 31 days after 1 January, whatever the month
        ((2001, 1, 1, 0, 0, 0), 32_140_800),  # 12 x 31 days after 2000-01-01
        # 24*32140800 + 10*2678400 + 15*86400 + 21*3600 + 34*60 + 25
        ((2024, 11, 16, 21, 34, 25), 799_536_865),
        # 99*32140800 + 11*2678400 + 30*86400 + 23*3600 + 59*60 + 59: the largest value
        ((2099, 12, 31, 23, 59, 59), 3_214_079_999),
    ],
)
def test_worked_examples(when, expected):
    assert encode(*when) == expected
    assert decode(expected) == when


def test_max_timestamp_is_the_last_second_of_2099():
    assert MAX_TIMESTAMP == 100 * 32_140_800 - 1
    assert decode(MAX_TIMESTAMP) == (2099, 12, 31, 23, 59, 59)


def test_month_and_day_are_zero_indexed_inside_the_encoding():
    # 1 March 2024 = month index 2, day index 0; 29 Feb 2024 = month index 1, day index 28.
    assert encode(2024, 3, 1, 0, 0, 0) - encode(2024, 1, 1, 0, 0, 0) == 2 * 2_678_400
    assert encode(2024, 2, 29, 0, 0, 0) - encode(2024, 2, 1, 0, 0, 0) == 28 * 86_400


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((1999, 12, 31, 0, 0, 0), "year"),
        ((2100, 1, 1, 0, 0, 0), "year"),
        ((2024, 0, 1, 0, 0, 0), "month"),
        ((2024, 13, 1, 0, 0, 0), "month"),
        ((2024, 1, 0, 0, 0, 0), "day"),
        ((2024, 1, 32, 0, 0, 0), "day"),
        ((2023, 2, 29, 0, 0, 0), "day 29"),
        ((2024, 4, 31, 0, 0, 0), "day 31"),
        ((2024, 1, 1, 24, 0, 0), "hour"),
        ((2024, 1, 1, 0, 60, 0), "minute"),
        ((2024, 1, 1, 0, 0, 60), "second"),
        ((2024, 1, 1, 0, 0, -1), "second"),
        ((2024, 1, 1, 0, 0, 1.5), "second"),
        ((2024, True, 1, 0, 0, 0), "month"),
    ],
)
def test_encode_rejects_out_of_range_fields_by_name(args, field):
    with pytest.raises(ValueError, match=field):
        encode(*args)


@pytest.mark.parametrize("ts", [-1, MAX_TIMESTAMP + 1, "123", 1.0, None])
def test_decode_rejects_values_outside_the_encoding(ts):
    with pytest.raises(ValueError, match="Sensaphone timestamp"):
        decode(ts)
    assert not is_valid(ts)


def test_decode_rejects_the_holes_of_the_encoding():
    hole = encode(2024, 2, 1, 0, 0, 0) + 29 * 86_400  # "30 February 2024"
    with pytest.raises(ValueError, match="2024-02-30"):
        decode(hole)
    assert not is_valid(hole)
    assert is_valid(hole - 86_400)  # 29 February 2024 exists


def test_to_sensaphone_rejects_naive_and_out_of_range_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        to_sensaphone(datetime(2024, 1, 1), "UTC")
    with pytest.raises(ValueError, match="outside the Sensaphone range"):
        to_sensaphone(datetime(2100, 1, 1, 12, tzinfo=UTC), "UTC")
    # 2000-01-01 03:00 UTC is still 1999 in New York.
    with pytest.raises(ValueError, match="outside"):
        to_sensaphone(datetime(2000, 1, 1, 3, tzinfo=UTC), "America/New_York")
    with pytest.raises(ValueError, match="unknown time zone"):
        to_sensaphone(datetime(2024, 1, 1, tzinfo=UTC), "Mars/Olympus_Mons")


def test_to_sensaphone_uses_the_wall_clock_of_the_zone():
    instant = datetime(2024, 11, 17, 2, 34, 25, tzinfo=UTC)  # 21:34:25 EST on the 16th
    assert to_sensaphone(instant, "America/New_York") == 799_536_865
    assert to_sensaphone(instant, ZoneInfo("America/New_York")) == 799_536_865
    assert to_sensaphone(instant, "UTC") == encode(2024, 11, 17, 2, 34, 25)
    assert to_sensaphone(instant.replace(microsecond=999_999), "America/New_York") == 799_536_865


def test_from_sensaphone_returns_an_aware_utc_datetime():
    dt = from_sensaphone(799_536_865, "America/New_York")
    assert dt == datetime(2024, 11, 17, 2, 34, 25, tzinfo=UTC)
    assert dt.tzinfo is UTC
    assert dt.astimezone(ZoneInfo("America/New_York")).hour == 21
    assert from_sensaphone(0, timezone(timedelta(hours=2))) == datetime(
        1999, 12, 31, 22, tzinfo=UTC
    )


def test_fold_picks_the_earlier_instant_by_default():
    ts = encode(2026, 11, 1, 1, 30, 0)  # 01:30 happens twice in New York that night
    first = from_sensaphone(ts, "America/New_York")
    second = from_sensaphone(ts, "America/New_York", fold=1)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # EDT, UTC-4
    assert second == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # EST, UTC-5
    assert first.tzinfo is UTC and second.tzinfo is UTC  # no PEP 495 comparison trap
    assert to_sensaphone(first, "America/New_York") == to_sensaphone(second, "America/New_York")
    with pytest.raises(ValueError, match="fold"):
        from_sensaphone(ts, "UTC", fold=2)


@pytest.mark.parametrize("fold", [0, 1])
def test_gap_times_move_forward_by_the_gap(fold):
    ts = encode(2026, 3, 8, 2, 30, 0)  # 02:30 never happens in New York that night
    dt = from_sensaphone(ts, "America/New_York", fold=fold)
    assert dt == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    local = dt.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute, local.utcoffset()) == (3, 30, timedelta(hours=-4))
    assert to_sensaphone(dt, "America/New_York") == encode(2026, 3, 8, 3, 30, 0)


# --- properties ------------------------------------------------------------------------------
@settings(max_examples=examples(400))
@given(wall_times)
def test_decode_inverts_encode_for_every_valid_second(wall):
    ts = encode(*fields(wall))
    assert 0 <= ts <= MAX_TIMESTAMP
    assert decode(ts) == fields(wall)


@settings(max_examples=examples(300))
@given(wall_times, wall_times)
def test_encoding_is_strictly_monotonic_in_wall_time(a, b):
    ea, eb = encode(*fields(a)), encode(*fields(b))
    assert (a < b) == (ea < eb)
    assert (a == b) == (ea == eb)


@settings(max_examples=examples(300))
@given(instants, st.sampled_from(ZONES))
def test_from_inverts_to_for_unambiguous_instants(instant, tz):
    local = instant.astimezone(ZoneInfo(tz))
    other_fold = local.replace(fold=1 - local.fold)
    assume(other_fold.utcoffset() == local.utcoffset())  # skip wall times that happen twice
    ts = to_sensaphone(instant, tz)
    assert from_sensaphone(ts, tz) == instant


@settings(max_examples=examples(300))
@given(instants, st.sampled_from(ZONES))
def test_the_fold_argument_recovers_ambiguous_instants_too(instant, tz):
    local = instant.astimezone(ZoneInfo(tz))
    ts = to_sensaphone(instant, tz)
    assert from_sensaphone(ts, tz, fold=local.fold) == instant


@settings(max_examples=examples(200))
@given(instants, st.integers(min_value=0, max_value=40 * 86_400), st.sampled_from(ZONES))
def test_order_is_preserved_in_a_zone_for_instants_outside_folds(instant, delta, tz):
    later = instant + timedelta(seconds=delta)
    for dt in (instant, later):
        local = dt.astimezone(ZoneInfo(tz))
        assume(local.replace(fold=1 - local.fold).utcoffset() == local.utcoffset())
    assume(later.year < 2099)
    # Across a fall-back night wall time can step back; away from folds it never does.
    local_a = instant.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    local_b = later.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    assume(local_a <= local_b)
    assert to_sensaphone(instant, tz) <= to_sensaphone(later, tz)


@settings(max_examples=examples(200))
@given(instants, st.integers(min_value=0, max_value=40 * 86_400))
def test_order_is_preserved_exactly_in_utc(instant, delta):
    later = instant + timedelta(seconds=delta)
    assume(later.year < 2100)
    assert to_sensaphone(instant, "UTC") <= to_sensaphone(later, "UTC")
    assert (to_sensaphone(instant, "UTC") == to_sensaphone(later, "UTC")) == (delta == 0)
