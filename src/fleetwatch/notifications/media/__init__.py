"""Notification media: plug-ins named by dotted path in ``FLEETWATCH_MEDIA``."""

from fleetwatch.notifications.media.base import Medium
from fleetwatch.notifications.media.registry import all_media, get_medium

__all__ = ["Medium", "all_media", "get_medium"]
