"""Stored filters and profiles as incident queries (Argus's ``QuerySetFilter``).

A blob is parsed by ``fleetwatch.incidents.filterblob.parse_filter`` — the parser the
notification matcher uses too, so a listing and the notifications agree. A profile's filters
are a **union** (``filterblob.union``: an incident matching any of them is listed), as
Argus's listing does; a filter, or a profile, that says nothing matches nothing.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from fleetwatch.incidents.filterblob import FilterSpec, parse_filter, union
from fleetwatch.incidents.models import Incident
from fleetwatch.notifications.models import Filter, NotificationProfile


def parse_blob(blob: Any, field: str | None = None) -> FilterSpec:
    """The parsed blob; errors name the blob's key, nested under ``field`` if given."""
    try:
        return parse_filter(blob)
    except ValidationError as exc:
        if field is None:
            raise
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        raise ValidationError({field: [detail]}) from None


def filters_q(filters: list[Filter]) -> Q:
    """Incidents matching any of ``filters`` (none for no filters)."""
    return union(parse_filter(f.filter) for f in filters).q()


def usable_filters(user) -> QuerySet:
    """The filters ``user`` may use: their own and public ones."""
    return Filter.objects.filter(Q(user=user) | Q(public=True))


def matching_incidents(q: Q) -> QuerySet:
    return Incident.objects.filter(q)


def stored_filter_q(name: str, pk: int, user) -> Q:
    """``?filter_pk=`` (a filter ``user`` may use) or ``?notificationprofile_pk=`` (one of
    ``user``'s profiles) as a condition; an unknown or foreign pk is an error naming ``name``."""
    missing = ValidationError({name: [f"No object with id {int(pk)} exists."]})
    if user is None:
        raise missing
    if name == "filter_pk":
        stored = usable_filters(user).filter(pk=pk).first()
        if stored is None:
            raise missing
        return filters_q([stored])
    profile = NotificationProfile.objects.filter(user=user, pk=pk).first()
    if profile is None:
        raise missing
    return filters_q(list(profile.filters.all()))
