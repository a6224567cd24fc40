"""When a profile listens and when planned maintenance silences: pure functions of time.

No queries and no Django models needed: :mod:`fleetwatch.notifications.matching` loads the
snapshots, these functions only read them.

**Time slots** are weekly wall-clock ranges in the owner's time zone (``User.time_zone``,
default ``FLEETWATCH_TIME_ZONE``). A recurrence covers ``[start, end)`` on each of its days;
one whose ``end`` is not after its ``start`` runs past midnight and belongs to the day it
starts (``22:00``–``06:00`` on Monday covers Monday 22:00 to Tuesday 06:00; ``08:00``–``08:00``
covers 24 hours). ``end = 23:59:59.999999`` (Argus's "all day") reaches midnight. Around a DST
change the wall clock decides: in the repeated autumn hour a time is covered twice (both
instants), and a range that lies wholly in the skipped spring hour is not covered that night.

**Planned maintenance** is one-off (``start`` to ``end``, no end = until ended) or recurring:
an RFC 5545 RRULE anchored at ``start`` whose occurrences each open a window of ``duration``;
``end`` then bounds the series and cuts a window short, so ending a maintenance early resumes
notifications at once. Occurrences keep their wall-clock time in the hub's time zone
(``FLEETWATCH_TIME_ZONE``) across DST ("every Sunday 02:00 for 2 hours" stays 02:00); an
occurrence in the skipped spring hour starts at the same UTC offset as before the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Protocol

from dateutil.rrule import DAILY, rrule, rrulestr

#: Padding, in wall-clock time, around the search for a recurring window's occurrence: more
#: than any UTC offset change, so DST never hides an occurrence.
_PAD = timedelta(days=1)


class RecurrenceLike(Protocol):
    """A ``TimeRecurrence`` row, or a :class:`Recurrence` snapshot of one."""

    days: Iterable[int]
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Recurrence:
    days: frozenset[int]
    start: time
    end: time

    @classmethod
    def of(cls, row: RecurrenceLike) -> Recurrence:
        return cls(frozenset(row.days), row.start, row.end)


def recurrence_covers(recurrence: RecurrenceLike, local: datetime) -> bool:
    """Does ``recurrence`` cover the local wall-clock time ``local``?"""
    moment = local.time()
    today = local.isoweekday()
    days = recurrence.days
    start, end = recurrence.start, recurrence.end
    if end == time.max and start != time.max:
        return today in days and moment >= start
    if start < end:
        return today in days and start <= moment < end
    # Past midnight: from ``start`` on one of its days to ``end`` the next morning.
    yesterday = today - 1 or 7
    return (today in days and moment >= start) or (yesterday in days and moment < end)


def timeslot_contains(
    recurrences: Iterable[RecurrenceLike], when_utc: datetime, tz: tzinfo
) -> bool:
    """Does any of a time slot's recurrences cover the instant ``when_utc`` (aware), read on
    the wall clock of ``tz``? A slot without recurrences covers nothing."""
    local = when_utc.astimezone(tz)
    return any(recurrence_covers(r, local) for r in recurrences)


@dataclass(frozen=True)
class Window:
    """A planned maintenance's time: use :meth:`build`, then :meth:`covers`."""

    start: datetime
    end: datetime | None = None
    rule: rrule | None = None
    duration: timedelta | None = None
    tz: tzinfo = UTC

    @classmethod
    def build(
        cls,
        start: datetime,
        end: datetime | None = None,
        recurrence: str = "",
        duration: timedelta | None = None,
        tz: tzinfo = UTC,
    ) -> Window:
        """A window from a maintenance's fields; ``recurrence`` is an RRULE (``RRULE:``
        optional), read on the wall clock of ``tz``. ValueError if the rule cannot be read
        (the API refuses such rules before they are stored)."""
        text = (recurrence or "").strip()
        if not text:
            return cls(start, end)
        if text.upper().startswith("RRULE:"):
            text = text[len("RRULE:") :]
        rule = rrulestr(text, dtstart=start.astimezone(tz), cache=True)
        if not isinstance(rule, rrule):
            raise ValueError("Not a single RRULE.")
        check_frequency(rule)
        return cls(start, end, rule, duration, tz)

    def covers(self, when_utc: datetime) -> bool:
        """Is the instant ``when_utc`` inside the window (``[start, end)``)?"""
        if when_utc < self.start or (self.end is not None and when_utc >= self.end):
            return False
        if self.rule is None:
            return True
        if not self.duration or self.duration <= timedelta(0):
            return False
        local = when_utc.astimezone(self.tz)
        earliest = local - self.duration - _PAD
        for occurrence in self.rule.between(earliest, local + _PAD, inc=True):
            begins = occurrence.astimezone(UTC)
            if begins <= when_utc < begins + self.duration:
                return True
        return False


def check_frequency(rule: rrule) -> None:
    """ValueError for a rule that repeats more often than daily (``FREQ=HOURLY``, …).

    A rule is evaluated from its start, so a years-old hourly series walks tens of thousands
    of occurrences; planned maintenance repeats daily at most (``FREQ=DAILY;BYHOUR=2,14``
    gives two windows a day).
    """
    if rule._freq > DAILY:  # dateutil orders YEARLY=0 … DAILY=3, HOURLY=4 … SECONDLY=6
        raise ValueError("Planned maintenance may repeat daily at most (FREQ=DAILY or coarser).")


def maintenance_covers(window_specs: Iterable[Window], when_utc: datetime) -> bool:
    """Does any of the windows cover the instant ``when_utc``?"""
    return any(window.covers(when_utc) for window in window_specs)
