"""Signals the incident domain sends, so that other apps can react without incidents/ knowing
them (``incidents`` must not import ``notifications``).

``events_recorded(sender=Event, events=[...])`` is sent by every path that stores events —
the event and ack services, incident changes, create/upsert/bulk ingest (ORM, COPY and the
one-statement create), the admin — *inside* the transaction that stores them, after the
incidents' own changes are written, with every event's pk set. A receiver that writes rows
(the notification outbox) therefore commits or rolls back together with the events.
"""

from collections.abc import Sequence

from django.dispatch import Signal

from fleetwatch.incidents.models import Event

events_recorded = Signal()


def record_events(events: Sequence[Event]) -> None:
    """Announce stored ``events`` (nothing when there are none); call inside their transaction."""
    if events:
        events_recorded.send(sender=Event, events=list(events))
