"""The inventory's reactions to the incident domain's signals (connected in ``apps``): the
incidents app never imports the inventory.

- ``incidents_tagged``: other sources' new or re-tagged incidents are tied to the device their
  tags name (``linking``), in the ingest's transaction, a constant number of statements per
  batch.
- ``incidents_untagged``: an incident whose naming tag was removed is unlinked from that
  device (and linked again if its other tags name one).
- ``events_recorded``: an incident that ends, is closed, restarts or reopens changes its
  device's open-incident counters (``trouble``).
- ``incidents_deleting``: a deleted incident's device is recounted without it.
"""

from collections.abc import Sequence

from django.dispatch import receiver

from fleetwatch.incidents.models import Event, Incident
from fleetwatch.incidents.signals import (
    events_recorded,
    incidents_deleting,
    incidents_tagged,
    incidents_untagged,
)
from fleetwatch.inventory import linking, trouble
from fleetwatch.inventory.models import IncidentDevice

#: The events that open or end an incident after its creation.
STATE_CHANGES = {
    Event.Type.INCIDENT_END,
    Event.Type.CLOSE,
    Event.Type.INCIDENT_RESTART,
    Event.Type.REOPEN,
}


@receiver(incidents_tagged, dispatch_uid="inventory-link-incidents")
def link_tagged_incidents(incidents: Sequence[Incident], **_kwargs: object) -> None:
    linking.on_incidents_tagged([incident.pk for incident in incidents])


@receiver(incidents_untagged, dispatch_uid="inventory-unlink-untagged")
def unlink_untagged_incidents(ids: Sequence[int], **_kwargs: object) -> None:
    linking.on_incidents_untagged(list(ids))


@receiver(events_recorded, dispatch_uid="inventory-trouble")
def recount_on_state_change(events: Sequence[Event], **_kwargs: object) -> None:
    trouble.refresh_for_incidents(e.incident_id for e in events if e.type in STATE_CHANGES)


@receiver(incidents_deleting, dispatch_uid="inventory-incidents-deleting")
def recount_without_deleted(ids: Sequence[int], **_kwargs: object) -> None:
    links = IncidentDevice.objects.filter(incident_id__in=list(ids))
    devices = set(links.values_list("device_id", flat=True))
    if devices:
        links.delete()
        trouble.refresh(devices)
