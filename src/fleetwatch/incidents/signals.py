"""Signals the incident domain sends, so that other apps can react without incidents/ knowing
them (``incidents`` must not import ``notifications``).

``events_recorded(sender=Event, events=[...])`` is sent by every path that stores events —
the event and ack services, incident changes, create/upsert/bulk ingest (ORM, COPY and the
one-statement create), the admin — *inside* the transaction that stores them, after the
incidents' own changes are written, with every event's pk set. A receiver that writes rows
(the notification outbox) therefore commits or rolls back together with the events.

``incidents_tagged(sender=Incident, incidents=[...])`` is sent by the ingest paths (single
create, upsert, bulk — the connectors' polls included) for every incident they stored or
re-sent, and by the tag changes (``add_tag``, a PATCH of ``tags``), inside their transaction
once the incidents and their tags are written: what the tags name (a MAC, a hostname) can be
acted on by other apps (the device inventory) without incidents/ knowing them.

``incidents_untagged(sender=Incident, ids=[...])`` is sent by the tag removals (a PATCH or PUT
of ``tags`` that drops some, the tag DELETE endpoint) inside their transaction, after the
relations are gone: what a removed tag named no longer holds (the inventory unlinks an incident
its MAC or hostname tag had tied to a device).

``incidents_deleting(sender=Incident, ids=[...])`` is sent inside the transaction of a
deletion, before the incidents go: rows of other apps that summarise them can be updated.
"""

from collections.abc import Sequence

from django.dispatch import Signal

from fleetwatch.incidents.models import Event, Incident

events_recorded = Signal()
incidents_tagged = Signal()
incidents_untagged = Signal()
incidents_deleting = Signal()


def record_events(events: Sequence[Event]) -> None:
    """Announce stored ``events`` (nothing when there are none); call inside their transaction."""
    if events:
        events_recorded.send(sender=Event, events=list(events))


def announce_tagged(incidents: Sequence[Incident]) -> None:
    """Announce stored (or re-tagged) ``incidents``; call inside their transaction."""
    if incidents:
        incidents_tagged.send(sender=Incident, incidents=list(incidents))


def announce_untagged(ids: Sequence[int]) -> None:
    """Announce that tags were removed from the incidents ``ids``; call inside the transaction."""
    if ids:
        incidents_untagged.send(sender=Incident, ids=list(ids))


def announce_deleting(ids: Sequence[int]) -> None:
    """Announce that the incidents ``ids`` are about to be deleted, in the same transaction."""
    if ids:
        incidents_deleting.send(sender=Incident, ids=list(ids))
