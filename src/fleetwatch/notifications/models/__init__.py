"""Every notifications model, importable from ``fleetwatch.notifications.models``."""

from fleetwatch.notifications.models.deliveries import Delivery
from fleetwatch.notifications.models.profiles import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)

__all__ = [
    "Delivery",
    "Destination",
    "Filter",
    "NotificationProfile",
    "PlannedMaintenance",
    "TimeRecurrence",
    "Timeslot",
]
