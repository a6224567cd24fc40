"""Load the media named in ``settings.FLEETWATCH_MEDIA`` (dotted paths to ``Medium`` classes)."""

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from fleetwatch.notifications.media.base import Medium

DEFAULT_MEDIA = [
    "fleetwatch.notifications.media.email.EmailMedium",
    "fleetwatch.notifications.media.sms.SMSMedium",
    "fleetwatch.notifications.media.webhook.WebhookMedium",
]


@cache
def _load(paths: tuple[str, ...]) -> dict[str, Medium]:
    media: dict[str, Medium] = {}
    for path in paths:
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"FLEETWATCH_MEDIA: cannot import {path!r}: {exc}") from exc
        medium = cls()
        if medium.slug in media:
            raise ImproperlyConfigured(f"FLEETWATCH_MEDIA: two media with slug {medium.slug!r}")
        media[medium.slug] = medium
    return media


def _media() -> dict[str, Medium]:
    return _load(tuple(getattr(settings, "FLEETWATCH_MEDIA", DEFAULT_MEDIA)))


def all_media() -> list[Medium]:
    """Every installed medium, in the order of the setting."""
    return list(_media().values())


def get_medium(slug: str) -> Medium | None:
    """The installed medium with ``slug``, or None."""
    return _media().get(slug)
