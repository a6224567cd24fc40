"""Checks shared by the API, the admin and the services (DRF-free): each raises Django's
``ValidationError`` with a dict naming the field."""

from datetime import datetime, timedelta
from typing import Any

from dateutil.rrule import rrule, rrulestr
from django.core.exceptions import ValidationError

from fleetwatch.notifications.media import get_medium

MAX_DELAY_MINUTES = 7 * 24 * 60
#: The longest window of a recurring maintenance.
MAX_DURATION = timedelta(days=366)
#: Days in each month at most (February: a leap year).
MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def clean_days(days: Any) -> list[int]:
    """A non-empty list of weekdays 1 (Monday) … 7 (Sunday), returned sorted and unique."""
    if not isinstance(days, list | tuple) or not days:
        raise ValidationError({"days": ["A non-empty list of weekdays 1 (Monday) to 7 (Sunday)."]})
    for day in days:
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
            raise ValidationError({"days": [f"{day!r} is not a weekday 1 (Monday) to 7 (Sunday)."]})
    return sorted(set(days))


def clean_destination_settings(media: str, settings: Any) -> dict[str, Any]:
    """``settings`` validated and normalized by ``media``'s plug-in."""
    medium = get_medium(media)
    if medium is None:
        raise ValidationError({"media": [f'Invalid pk "{media}" - object does not exist.']})
    return medium.clean_settings(settings)


def parse_recurrence(text: str, start_time: datetime) -> rrule | None:
    """``text`` (an RFC 5545 RRULE, ``RRULE:`` prefix optional) anchored at ``start_time``.

    Only a single RRULE is accepted: the start comes from ``start_time``, so a ``DTSTART``
    (or any other property line) is refused rather than silently overriding it.
    """
    text = (text or "").strip()
    if not text:
        return None
    body = text[len("RRULE:") :] if text.upper().startswith("RRULE:") else text
    if "\n" in body or ":" in body or "DTSTART" in body.upper():
        raise ValidationError({"recurrence": ["Give one RRULE (e.g. FREQ=WEEKLY;BYDAY=SU)."]})
    try:
        rule = rrulestr(body, dtstart=start_time)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValidationError({"recurrence": [f"Not a valid RRULE: {exc}"]}) from None
    if not isinstance(rule, rrule):
        raise ValidationError({"recurrence": ["Give one RRULE (e.g. FREQ=WEEKLY;BYDAY=SU)."]})
    if not _can_occur(body):
        raise ValidationError({"recurrence": ["This RRULE never occurs."]})
    return rule


def _can_occur(body: str) -> bool:
    """False for a month/day combination no calendar has (``BYMONTH=2;BYMONTHDAY=31``).

    dateutil looks for the first occurrence of such a rule until the year 9999, which takes
    tens of seconds for a daily rule, so it is refused here, where it is cheap.
    """
    parts = dict(part.split("=", 1) for part in body.upper().split(";") if "=" in part)
    if "BYMONTHDAY" not in parts:
        return True
    months = [int(m) for m in parts["BYMONTH"].split(",")] if "BYMONTH" in parts else range(1, 13)
    days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
    return any(abs(day) <= MONTH_DAYS[month] for month in months for day in days)


def clean_maintenance(
    start_time: datetime,
    end_time: datetime | None,
    recurrence: str,
    duration: timedelta | None,
) -> None:
    """A planned maintenance window that makes sense: end after start, and a recurring window
    (RRULE) with a positive duration; a one-off window has no duration."""
    if end_time is not None and start_time is not None and end_time <= start_time:
        raise ValidationError({"end_time": ["Must be after start_time."]})
    if recurrence:
        parse_recurrence(recurrence, start_time)
        if duration is None:
            raise ValidationError({"duration": ["A recurring maintenance needs a duration."]})
    elif duration is not None:
        raise ValidationError(
            {"duration": ["Only a recurring maintenance (with a recurrence) has a duration."]}
        )
    if duration is not None and duration <= timedelta(0):
        raise ValidationError({"duration": ["Must be positive."]})
    if duration is not None and duration > MAX_DURATION:
        raise ValidationError({"duration": ["At most 366 days."]})
