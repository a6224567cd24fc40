"""A rate limiter that holds across every worker process and machine: it lives in the database.

Each credential has one row holding the next moment a request may go out. ``acquire``
reserves that moment under a row lock and moves it on by ``window / limit`` (plus a small
safety margin), then sleeps until the reserved moment: requests are paced evenly, however
many workers share the credential. ``block_until`` obeys a vendor's 429 / ``Retry-After``.

Pacing by send time assumes the vendor counts a request when we send it. A vendor that
counts on arrival (or on completion) after a slow answer sees two requests closer together
than we sent them — a 1 s limit with a 2 % margin earned a 429 after a slow answer. So when
an answer took longer than the margin absorbs, ``completed`` moves the next slot on to a full
interval after that answer's completion: the next request is paced from the previous one's
completion whenever the vendor has been slow.

``take_allowance`` is the refusing kind, on the same rows: an action either fits a key's
allowance now or is refused with the seconds until it would (the destinations' *send test*).
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from fleetwatch.connectors.models import RateLimitSlot

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _ensure_slot(key: str) -> None:
    """The key's row, created if missing (a concurrent creator wins quietly)."""
    RateLimitSlot.objects.bulk_create(
        [RateLimitSlot(key=key, next_at=EPOCH)], ignore_conflicts=True
    )


class SharedRateLimiter:
    def __init__(
        self,
        key: str,
        limit: int,
        window: float,
        *,
        margin: float = 0.02,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = timezone.now,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.key = key[:200]
        self.limit, self.window = limit, window
        self.interval = timedelta(seconds=window / limit * (1 + margin))
        # The latency the margin absorbs; a slower answer paces the next request from its end.
        self.slack = timedelta(seconds=window / limit * margin)
        self.sleep = sleep
        self.now = now
        self.waited = 0.0
        self.sent_at: datetime | None = None
        self._row_ready = False

    def _ensure_row(self) -> None:
        if not self._row_ready:
            _ensure_slot(self.key)
            self._row_ready = True

    def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        self._ensure_row()
        with transaction.atomic():
            slot = RateLimitSlot.objects.select_for_update().get(key=self.key)
            now = self.now()
            start = max(now, slot.next_at, slot.blocked_until or now)
            slot.next_at = start + self.interval
            slot.save(update_fields=["next_at"])
        wait = (start - now).total_seconds()
        if wait > 0:
            self.sleep(wait)
            self.waited += wait
        return max(wait, 0.0)

    def sent(self) -> None:
        """The request that took the last slot is leaving now."""
        self.sent_at = self.now()

    def completed(self) -> bool:
        """Its answer has arrived. If it took longer than the margin absorbs, no request for
        this credential (from any worker) before a full interval after now; returns whether
        the pace was pushed back."""
        if self.sent_at is None:
            return False
        now, sent_at, self.sent_at = self.now(), self.sent_at, None
        if now - sent_at <= self.slack:
            return False
        self._ensure_row()
        # One conditional UPDATE: it only ever moves the slot later.
        later = now + self.interval
        RateLimitSlot.objects.filter(key=self.key, next_at__lt=later).update(next_at=later)
        return True

    def block_until(self, until: datetime) -> None:
        """No request for this credential before ``until`` (the vendor said so)."""
        self._ensure_row()
        with transaction.atomic():
            slot = RateLimitSlot.objects.select_for_update().get(key=self.key)
            if slot.blocked_until is None or slot.blocked_until < until:
                slot.blocked_until = until
                slot.save(update_fields=["blocked_until"])


def take_allowance(
    key: str, limit: int, window: float, *, now: Callable[[], datetime] = timezone.now
) -> float:
    """Count one action under ``key`` if it fits ``limit`` per ``window`` seconds, across every
    worker process; returns 0.0 when it did, else the seconds until one would (nothing counted).

    GCRA on the key's row (``next_at`` is the theoretical arrival time): a burst of ``limit``
    at once, then one every ``window / limit``. A per-process cache would give each of N
    workers its own allowance, N times the limit."""
    if limit < 1 or window <= 0:
        raise ValueError("an allowance needs limit >= 1 and window > 0")
    key = key[:200]
    interval = timedelta(seconds=window / limit)
    burst = timedelta(seconds=window) - interval
    _ensure_slot(key)
    with transaction.atomic():
        slot = RateLimitSlot.objects.select_for_update().get(key=key)
        moment = now()
        due = max(slot.next_at, moment)
        if due - moment > burst:
            return (due - moment - burst).total_seconds()
        slot.next_at = due + interval
        slot.save(update_fields=["next_at"])
    return 0.0
