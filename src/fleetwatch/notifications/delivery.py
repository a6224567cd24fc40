"""Sending the outbox: workers claim due Delivery rows, send them, and record the outcome.

Claiming is one short transaction — ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
workers never take the same rows, then one UPDATE marking them ``sending`` until
``DELIVERY_CLAIM_SECONDS`` from now — and the sends happen outside any transaction (an SMTP
server taking its time must not hold locks; on SQLite it would block every writer). A worker
killed after its claim leaves rows that become due again when the claim runs out, so nothing
is lost; the outcome UPDATE is conditional on the claim (status and attempt number), so a
worker that comes back late cannot overwrite a newer attempt.

Retries: attempt n failing makes the next one due after ``DELIVERY_RETRY_BASE * 2**(n-1)``
seconds (15 s, 30 s, 1 min, … by default), up to ``DELIVERY_MAX_ATTEMPTS`` (8: about 32
minutes), then ``failed``. A destination whose message failed ``DELIVERY_FAILING_AFTER``
attempts in a row gets a health incident on the hub's own source, ended by its next
successful delivery.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from fleetwatch.incidents.models import Incident
from fleetwatch.notifications.media import get_medium
from fleetwatch.notifications.models import Delivery
from fleetwatch.notifications.senders import mail_session

log = logging.getLogger("fleetwatch.notifications.delivery")
S = Delivery.Status
ERROR_LENGTH = 1000


@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.sent) + len(self.retried) + len(self.failed) + len(self.dropped)


def retry_delay(attempts: int) -> timedelta:
    """How long after failed attempt number ``attempts`` (1-based) the next one is due."""
    return timedelta(seconds=settings.DELIVERY_RETRY_BASE * 2 ** max(attempts - 1, 0))


def claim(limit: int, now: datetime | None = None) -> list[Delivery]:
    """Take up to ``limit`` due deliveries for this worker (their ``attempts`` already counts
    the attempt about to be made)."""
    now = now or timezone.now()
    until = now + timedelta(seconds=settings.DELIVERY_CLAIM_SECONDS)
    with transaction.atomic():
        due = Delivery.objects.filter(
            status__in=[S.PENDING, S.SENDING], next_attempt_at__lte=now
        ).order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        rows = list(due.select_related("destination", "event")[:limit])
        if not rows:
            return []
        Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=S.SENDING, attempts=F("attempts") + 1, next_attempt_at=until
        )
    for row in rows:
        row.status, row.attempts, row.next_attempt_at = S.SENDING, row.attempts + 1, until
    return rows


def _resolved(rows: list[Delivery]) -> set[int]:
    """Of the deliveries that wait on a profile's delay, those whose incident ended or was
    acknowledged meanwhile (one query)."""
    waiting = {row.event.incident_id for row in rows if row.drop_if_resolved}
    if not waiting:
        return set()
    # django-stubs can't see the fields with_state() annotates (is_open, is_acked).
    states = (
        Incident.objects.filter(pk__in=waiting)  # type: ignore[misc]
        .with_state()
        .values_list("pk", "is_open", "is_acked")
        .order_by()
    )
    return {pk for pk, is_open, is_acked in states if not is_open or is_acked}


def _finish(row: Delivery, **values: Any) -> bool:
    """Record an outcome, if the claim is still ours."""
    return bool(
        Delivery.objects.filter(pk=row.pk, status=S.SENDING, attempts=row.attempts).update(**values)
    )


def send_one(row: Delivery) -> str:
    """Send one claimed delivery; returns the provider's message id or raises."""
    medium = get_medium(row.media)
    if medium is None:
        raise LookupError(f"medium {row.media!r} is not installed (FLEETWATCH_MEDIA)")
    message = {**row.message, "delivery_id": row.pk}
    return medium.send(message, row.destination.settings) or ""


def process(rows: list[Delivery]) -> Outcome:
    """Send claimed deliveries one by one and record each outcome."""
    from fleetwatch.notifications import health

    outcome = Outcome()
    if not rows:
        return outcome
    resolved = _resolved(rows)
    failing: dict[int, Delivery] = {}
    healthy: set[int] = set()
    with mail_session():
        _send_all(rows, resolved, outcome, failing, healthy)
    try:
        health.update(failing, healthy - set(failing))
    except Exception:
        log.exception("could not update the health incidents of failing destinations")
    return outcome


def _send_all(
    rows: list[Delivery],
    resolved: set[int],
    outcome: Outcome,
    failing: dict[int, Delivery],
    healthy: set[int],
) -> None:
    for row in rows:
        if row.drop_if_resolved and row.event.incident_id in resolved:
            _finish(row, status=S.DROPPED, last_error="The incident ended or was acknowledged.")
            outcome.dropped.append(row.pk)
            _count(row, "dropped")
            continue
        try:
            provider_id = send_one(row)
        except Exception as exc:  # every failure is the destination's, recorded and retried
            error = f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
            now = timezone.now()
            if row.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
                _finish(row, status=S.FAILED, last_error=error, next_attempt_at=now)
                outcome.failed.append(row.pk)
                _count(row, "failed")
                log.warning("delivery %s to %s failed for good: %s", row.pk, row.media, error)
            else:
                _finish(
                    row,
                    status=S.PENDING,
                    last_error=error,
                    next_attempt_at=now + retry_delay(row.attempts),
                )
                outcome.retried.append(row.pk)
                _count(row, "retried")
                log.info("delivery %s to %s failed, retrying: %s", row.pk, row.media, error)
            if row.attempts >= settings.DELIVERY_FAILING_AFTER:
                row.last_error = error
                failing[row.destination_id] = row
            continue
        _finish(
            row,
            status=S.SENT,
            sent_at=timezone.now(),
            provider_message_id=provider_id,
            last_error="",
        )
        outcome.sent.append(row.pk)
        _count(row, "sent")
        healthy.add(row.destination_id)


def _count(row: Delivery, status: str) -> None:
    try:
        from fleetwatch.observability.metrics import count_delivery
    except ImportError:  # pragma: no cover
        return
    count_delivery(row.media, status)


def run_once(limit: int | None = None) -> Outcome:
    """Claim and send one batch of due deliveries (tests and the worker loop)."""
    return process(claim(limit or settings.DELIVERY_BATCH))


class DeliveryWorker(threading.Thread):
    """The sending loop of a ``fleetwatch worker``: a batch whenever rows are due, otherwise a
    look every ``DELIVERY_POLL_INTERVAL`` seconds."""

    def __init__(self) -> None:
        super().__init__(name="fleetwatch-delivery", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            close_old_connections()
            busy = False
            try:
                busy = run_once().total >= settings.DELIVERY_BATCH
            except Exception:
                log.exception("delivery pass failed; trying again shortly")
                time.sleep(1)
            finally:
                close_old_connections()
            if not busy:
                self.stopped.wait(settings.DELIVERY_POLL_INTERVAL)
        connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)
