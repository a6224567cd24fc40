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
from typing import Protocol, cast

from dateutil.rrule import DAILY, HOURLY, MINUTELY, SECONDLY, WEEKLY, rrule, rrulestr

#: Padding, in wall-clock time, around the search for a recurring window's occurrence: more
#: than any change of a zone's UTC offset (DST: one hour, at most two), so such a change never
#: hides an occurrence.
_PAD = timedelta(hours=3)


class RecurrenceLike(Protocol):
    """A ``TimeRecurrence`` row, or a :class:`Recurrence` snapshot of one (read only, so a
    frozen snapshot fits)."""

    @property
    def days(self) -> Iterable[int]: ...

    @property
    def start(self) -> time: ...

    @property
    def end(self) -> time: ...


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
        return cls(start, end, rule, duration, tz)

    def covers(self, when_utc: datetime) -> bool:
        """Is the instant ``when_utc`` inside the window (``[start, end)``)?

        All occurrences last ``duration``, so the instant is covered exactly when the latest
        occurrence at or before it began less than ``duration`` ago. That occurrence is looked
        for backwards in doubling spans, each walked from a start moved close to it
        (:func:`_anchored`), so the cost does not grow with the age of the series.
        """
        if when_utc < self.start or (self.end is not None and when_utc >= self.end):
            return False
        if self.rule is None:
            return True
        if not self.duration or self.duration <= timedelta(0):
            return False
        local = when_utc.astimezone(self.tz)
        span = _PAD
        while True:
            rule = _anchored(self.rule, local - span)
            begun = [
                begins
                for occurrence in rule.between(local - span, local + _PAD, inc=True)
                if (begins := occurrence.astimezone(UTC)) <= when_utc
            ]
            if begun:
                return when_utc < max(begun) + self.duration
            if span > self.duration + _PAD:
                return False
            span *= 2


#: How far a rule's start may be moved in one step, per frequency; none: never moved
#: (yearly and monthly series have few occurrences, and month lengths vary).
_STEPS = {
    WEEKLY: timedelta(weeks=1),
    DAILY: timedelta(days=1),
    HOURLY: timedelta(hours=1),
    MINUTELY: timedelta(minutes=1),
    SECONDLY: timedelta(seconds=1),
}


class _RuleParts(Protocol):
    """The parts of an ``rrule`` dateutil keeps only in private attributes (no public
    accessor, so its stubs leave them out)."""

    _freq: int
    _count: int | None
    _interval: int
    _dtstart: datetime


def _anchored(rule: rrule, before: datetime) -> rrule:
    """``rule`` with its start moved forward by whole periods to just before ``before``.

    dateutil walks every occurrence from the start, which for a years-old hourly series is
    tens of thousands. Moving the start by whole multiples of ``INTERVAL`` periods (on the
    wall clock, as dateutil counts) keeps every later occurrence — the defaults dateutil takes
    from the start (minute, second; hour and weekday for coarser rules) are unchanged — and
    the occurrences lost are those in the period before the new start, which lies a period
    before ``before``. A ``COUNT`` counts from the true start, so such a rule is not moved.
    """
    parts = cast(_RuleParts, rule)
    step = _STEPS.get(parts._freq)
    if step is None or parts._count is not None:
        return rule
    step *= parts._interval
    start = parts._dtstart
    elapsed = before.replace(tzinfo=None) - start.replace(tzinfo=None)
    periods = elapsed // step - 1
    if periods <= 0:
        return rule
    moved = (start.replace(tzinfo=None) + periods * step).replace(tzinfo=start.tzinfo)
    return rule.replace(dtstart=moved, cache=False)


def maintenance_covers(window_specs: Iterable[Window], when_utc: datetime) -> bool:
    """Does any of the windows cover the instant ``when_utc``?"""
    return any(window.covers(when_utc) for window in window_specs)
