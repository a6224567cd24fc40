"""Health incidents for failing notification destinations, on the hub's own source.

A destination whose message failed ``DELIVERY_FAILING_AFTER`` attempts in a row gets an open
incident ("Notifications to destination … are failing"); the next successful delivery to it
ends it. Each failing spell is its own incident: ``source_incident_id``
``fleetwatch:destination-failing:<destination pk>:<spell number>``, the number being how many
such incidents the destination had before — the same in every worker, so concurrent workers
open one incident (the upsert makes the second an update).
"""

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from fleetwatch.incidents.events import post_event
from fleetwatch.incidents.heartbeats import hub_source
from fleetwatch.incidents.ingest import IncidentDraft, upsert_incidents
from fleetwatch.incidents.models import Event, Incident

if TYPE_CHECKING:
    from fleetwatch.notifications.models import Delivery

log = logging.getLogger("fleetwatch.notifications.delivery")

SID_PREFIX = "fleetwatch:destination-failing:"
LEVEL = 3
RECOVERED = "Deliveries to this destination succeed again"


def _destination_pk(sid: str) -> int | None:
    try:
        return int(sid.removeprefix(SID_PREFIX).split(":", 1)[0])
    except ValueError:
        return None


def update(failing: "dict[int, Delivery]", healthy: set[int]) -> None:
    """Open incidents for ``failing`` (destination pk -> its failing Delivery, with
    ``last_error``) that have none, end those of ``healthy`` destination pks. One query when
    nothing changes."""
    if not failing and not healthy:
        return
    hub = hub_source()
    open_for: dict[int | None, Incident] = {
        _destination_pk(incident.source_incident_id): incident
        for incident in Incident.objects.open().filter(
            source=hub, source_incident_id__startswith=SID_PREFIX
        )
    }
    now = timezone.now()
    for pk in sorted(healthy):
        incident = open_for.get(pk)
        if incident is None:
            continue
        with transaction.atomic():
            if Incident.objects.select_for_update().filter(pk=incident.pk).open().exists():
                post_event(incident, hub.user, Event.Type.INCIDENT_END, now, RECOVERED)
                log.info("destination %s delivers again", pk)
    drafts = []
    for pk, row in sorted(failing.items()):
        if pk in open_for:
            continue
        spell = Incident.objects.filter(
            source=hub, source_incident_id__startswith=f"{SID_PREFIX}{pk}:"
        ).count()
        destination = row.destination
        name = destination.label or f"#{destination.pk}"
        drafts.append(
            IncidentDraft(
                start_time=now,
                source_incident_id=f"{SID_PREFIX}{pk}:{spell + 1}",
                description=(
                    f'Notifications to {destination.media} destination "{name}" of user '
                    f"#{destination.user_id} are failing: {row.last_error[:200]}"
                ),
                level=LEVEL,
                tags=[
                    ("problem_type", "notification_destination_failing"),
                    ("destination_id", str(pk)),
                ],
            )
        )
    if drafts:
        upsert_incidents(hub, hub.user, drafts)
        for draft in drafts:
            log.warning("%s", draft.description)
