"""Who may act on which incident or acknowledgement: the one place these rules live.

Every face (the API's single and bulk endpoints, upsert and bulk ingest, the admin, a future
web console) asks here, so a rule cannot be forgotten on one path. Reading stays open to every
authenticated user, as in Argus; these rules are about changes.

- A *source system* user acts only on the incidents of its own source: one leaked source token
  must not be able to end, restart, edit or re-ticket the whole hub.
- *End users* (people) and superusers keep the rights Argus gives them: any incident.
- An acknowledgement is changed only by its author or a superuser.

Refusals raise ``NotAllowed``, a Django ``PermissionDenied`` (which the API renders as 403
``{"detail": ...}`` without knowing this module).
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from fleetwatch.incidents.models import Acknowledgement, Incident, SourceSystem

if TYPE_CHECKING:
    from fleetwatch.accounts.models import User


class NotAllowed(PermissionDenied):
    """The user may not do this; ``str(exc)`` says why, in words a client can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def source_of(user: "User") -> SourceSystem | None:
    """The user's source system, or None for a person (no query when the auth layer has
    already fetched it, as the token authentication does)."""
    return getattr(user, "source_system", None)


def incident_refusal(user: "User", incident: Incident) -> str | None:
    """Why ``user`` may not change ``incident`` (None: it may). Needs only ``source_id``."""
    if user.is_superuser:
        return None
    source = source_of(user)
    if source is None or incident.source_id == source.pk:
        return None
    return (
        f"Incident {incident.pk} belongs to another source; "
        f"source {source.name!r} may only change its own incidents."
    )


def can_change_incident(user: "User", incident: Incident) -> bool:
    return incident_refusal(user, incident) is None


def require_change_incident(user: "User", incident: Incident) -> None:
    """Raise NotAllowed unless ``user`` may change ``incident``."""
    if (reason := incident_refusal(user, incident)) is not None:
        raise NotAllowed(reason)


def refusals(user: "User", incidents: Iterable[Incident]) -> dict[int, str]:
    """For a bulk request: the pk and reason of each incident ``user`` may not change."""
    return {
        incident.pk: reason
        for incident in incidents
        if (reason := incident_refusal(user, incident)) is not None
    }


def require_delete_incident(user: "User", incident: Incident) -> None:
    """Deleting (when incidents are not indelible): a superuser or the owning source only."""
    source = source_of(user)
    if not (user.is_superuser or (source is not None and incident.source_id == source.pk)):
        raise NotAllowed("Only a superuser or the incident's source may delete it.")


def require_set_source(user: "User", source: SourceSystem) -> None:
    """Creating or upserting incidents *for* ``source``: its own user, or a superuser."""
    own = source_of(user)
    if user.is_superuser or (own is not None and own.pk == source.pk):
        return
    raise NotAllowed(f"Only a superuser or source {source.name!r} may write its incidents.")


def require_change_ack(user: "User", ack: Acknowledgement) -> None:
    """Changing an acknowledgement (its expiration): its author or a superuser."""
    if user.is_superuser or ack.event.actor_id == user.pk:
        return
    raise NotAllowed(
        f"Acknowledgement {ack.pk} belongs to another user; only its author or a superuser "
        "may change it."
    )
