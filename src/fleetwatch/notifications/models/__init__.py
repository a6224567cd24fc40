"""Every notifications model, importable from ``fleetwatch.notifications.models``."""

from fleetwatch.notifications.models.profiles import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)

__all__ = [
    "Destination",
    "Filter",
    "NotificationProfile",
    "PlannedMaintenance",
    "TimeRecurrence",
    "Timeslot",
]
