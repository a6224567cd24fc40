"""Sensaphone.net encoded timestamps (history API ``start``/``end``/``timestamp``).

The vendor's formula (sensaphone-history-api.txt, "Timestamps")::

    ts = sec%60 + (min*60)%3600 + (hour*3600)%86400 + (day*86400)%2678400
         + (month*2678400)%32140800 + (year%100)*32140800

with month and day **0-indexed** inside the encoding and the year 2000-based (100 years).
Every month is given 31 days and every year 12 such months, so the encoding has holes
(e.g. 30 February) but is strictly increasing in *wall-clock* time: comparing two encoded
values compares the two wall-clock times. The encoding carries no zone: it is read "in the
time zone of the device", hence :func:`to_sensaphone` / :func:`from_sensaphone` take one.

Public API: :func:`encode`, :func:`decode` (calendar fields, month 1-12, day 1-31) and
:func:`to_sensaphone`, :func:`from_sensaphone` (aware datetimes). Out-of-range input raises
:class:`ValueError` with a message naming the offending field.

Time-zone edge cases (chosen here, not documented by the vendor):

* **Fold** (a wall-clock time that happens twice when clocks go back):
  ``from_sensaphone(..., fold=0)`` (the default) returns the *earlier* instant, ``fold=1``
  the later one, as in PEP 495.
* **Gap** (a wall-clock time that never happens when clocks go forward): the time is read
  with the offset in force *before* the transition, i.e. moved forward by the gap length
  (02:30 on a spring-forward night in New York becomes 03:30 EDT), whatever ``fold`` says.
* **Result zone**: :func:`from_sensaphone` returns the instant **in UTC**. A datetime kept
  in the device zone would be a PEP 495 trap: an instant in a fold compares unequal to every
  datetime in another zone, even to itself converted. ``.astimezone(zone(tz))`` gives the
  local view when one is wanted.
"""

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECONDS_PER_DAY = 86_400
SECONDS_PER_MONTH = 31 * SECONDS_PER_DAY  # 2_678_400: every month is 31 days long
SECONDS_PER_YEAR = 12 * SECONDS_PER_MONTH  # 32_140_800
BASE_YEAR = 2000
YEARS = 100
MIN_TIMESTAMP = 0  # 2000-01-01 00:00:00
MAX_TIMESTAMP = YEARS * SECONDS_PER_YEAR - 1  # 3_214_079_999 = 2099-12-31 23:59:59

__all__ = [
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "decode",
    "encode",
    "from_sensaphone",
    "is_valid",
    "to_sensaphone",
    "zone",
]


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")
    return value


def encode(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """Encode calendar fields (month 1-12, day 1-31, as people write them) into a timestamp.

    The date must exist (no 30 February) and lie in 2000-2099, the range the encoding holds.
    """
    _check_int("year", year, BASE_YEAR, BASE_YEAR + YEARS - 1)
    _check_int("month", month, 1, 12)
    _check_int("day", day, 1, 31)
    _check_int("hour", hour, 0, 23)
    _check_int("minute", minute, 0, 59)
    _check_int("second", second, 0, 59)
    try:
        datetime(year, month, day)
    except ValueError:
        raise ValueError(f"day {day} does not exist in {year}-{month:02d}") from None
    # The vendor's formula, with month and day made 0-indexed.
    return (
        (second % 60)
        + ((minute * 60) % 3600)
        + ((hour * 3600) % SECONDS_PER_DAY)
        + (((day - 1) * SECONDS_PER_DAY) % SECONDS_PER_MONTH)
        + (((month - 1) * SECONDS_PER_MONTH) % SECONDS_PER_YEAR)
        + ((year % YEARS) * SECONDS_PER_YEAR)
    )


def decode(ts: int) -> tuple[int, int, int, int, int, int]:
    """Decode a timestamp into ``(year, month 1-12, day 1-31, hour, minute, second)``.

    Raises ValueError for a negative or too-large value and for one that lands in a hole of
    the encoding (a day the month does not have), so callers never see an impossible date.
    """
    _check_int("Sensaphone timestamp", ts, MIN_TIMESTAMP, MAX_TIMESTAMP)
    year = BASE_YEAR + ts // SECONDS_PER_YEAR
    month = (ts % SECONDS_PER_YEAR) // SECONDS_PER_MONTH + 1
    day = (ts % SECONDS_PER_MONTH) // SECONDS_PER_DAY + 1
    hour = (ts % SECONDS_PER_DAY) // 3600
    minute = (ts % 3600) // 60
    second = ts % 60
    try:
        datetime(year, month, day)
    except ValueError:
        raise ValueError(
            f"Sensaphone timestamp {ts} decodes to {year}-{month:02d}-{day:02d}, "
            "a day that does not exist"
        ) from None
    return year, month, day, hour, minute, second


def is_valid(ts: object) -> bool:
    """True if ``ts`` is an integer that :func:`decode` accepts."""
    try:
        decode(ts)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def zone(tz: str | tzinfo) -> tzinfo:
    """A tzinfo from an IANA name (or a tzinfo, returned as is); ValueError if unknown."""
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not tz:
        raise ValueError(f"time zone must be an IANA name or a tzinfo, not {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


def to_sensaphone(dt: datetime, tz: str | tzinfo) -> int:
    """Encode the wall-clock time that the instant ``dt`` shows in zone ``tz``.

    ``dt`` must be timezone-aware (a naive datetime names no instant); sub-second parts are
    dropped, as the encoding counts whole seconds.
    """
    if not isinstance(dt, datetime):
        raise ValueError(f"expected a datetime, not {dt!r}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    local = dt.astimezone(zone(tz))
    if not BASE_YEAR <= local.year < BASE_YEAR + YEARS:
        raise ValueError(
            f"{local.isoformat()} is outside the Sensaphone range 2000-01-01..2099-12-31"
        )
    return encode(local.year, local.month, local.day, local.hour, local.minute, local.second)


def from_sensaphone(ts: int, tz: str | tzinfo, *, fold: int = 0) -> datetime:
    """The instant whose wall-clock time in ``tz`` is ``ts``, as an aware UTC datetime.

    ``fold`` picks the occurrence of an ambiguous wall-clock time (0 = earlier, 1 = later);
    a time in a DST gap is moved forward by the gap (see the module docstring).
    """
    if fold not in (0, 1):
        raise ValueError(f"fold must be 0 or 1, not {fold!r}")
    tzi = zone(tz)
    wall = datetime(*decode(ts))
    candidate = wall.replace(tzinfo=tzi, fold=fold)
    instant = candidate.astimezone(UTC)
    if instant.astimezone(tzi).replace(tzinfo=None) != wall:
        # A gap: PEP 495 gives fold=0 the pre-transition offset, i.e. "moved forward".
        instant = wall.replace(tzinfo=tzi, fold=0).astimezone(UTC)
    return instant
