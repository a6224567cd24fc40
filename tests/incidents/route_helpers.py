"""Every route of the URL conf, its path parameters filled with stored objects.

For the tests that send something to every route (OPTIONS, hostile bodies): a route added
later is covered without editing them.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from fleetwatch.accounts.models import PhoneNumber
from fleetwatch.connectors.services import create_connector
from fleetwatch.incidents.events import acknowledge
from fleetwatch.incidents.models import Event

PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def routes(patterns=None, prefix: str = ""):
    """Every URL pattern under ``/api/`` as ``(route text, pattern)``."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            route = (prefix + str(pattern.pattern)).replace("^", "").replace("$", "")
            if route.startswith("api/"):
                yield route, pattern


def fill(route: str, objects: dict) -> str:
    """The route with each path parameter replaced by the pk (or name) of a stored object."""

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name == "pk":
            for marker, key in (
                ("notificationprofiles/timeslots/", "timeslot"),
                ("notificationprofiles/filters/", "filter"),
                ("notificationprofiles/destinations/", "destination"),
                ("notificationprofiles/", "profile"),
                ("plannedmaintenance/", "maintenance"),
                ("connectors/", "connector"),
                ("sources/", "source"),
                ("auth/users/", "user"),
                ("phone-number/", "phone"),
            ):
                if marker in route:
                    return str(objects[key])
            return str(objects["incident"])
        return str(objects[name])

    return "/" + PARAM.sub(value, route)


@pytest.fixture
def objects(post_incident, source, superuser):
    incident = post_incident()
    ack = acknowledge_incident(incident["pk"], superuser)
    connector = create_connector(
        name="opts",
        vendor="sensaphone",
        base_url="http://127.0.0.1:9",
        credentials={"user_name": "u", "password": "p"},
        enabled=False,
    )
    phone = PhoneNumber.objects.create(user=superuser, phone_number="+4790909090")
    return {
        **notification_objects(superuser),
        "incident": incident["pk"],
        "event_pk": Event.objects.filter(incident_id=incident["pk"]).first().pk,
        "ack_pk": ack.pk,
        "tag": "host=r1",
        "name": source.type_id,
        "source": source.pk,
        "user": superuser.pk,
        "phone": phone.pk,
        "connector": connector.pk,
    }


def notification_objects(user) -> dict:
    """A time slot, filter, destination, profile and planned maintenance of ``user``, and the
    slug of an installed medium: the path parameters of the notification routes."""
    from fleetwatch.notifications.media import all_media
    from fleetwatch.notifications.models import (
        Destination,
        Filter,
        NotificationProfile,
        PlannedMaintenance,
        Timeslot,
    )

    timeslot = Timeslot.objects.create(user=user, name="opts")
    stored_filter = Filter.objects.create(user=user, name="opts", filter={"open": True})
    destination = Destination.objects.create(
        user=user, media="webhook", label="opts", settings={"url": "https://example.org/hook"}
    )
    profile = NotificationProfile.objects.create(user=user, name="opts", timeslot=timeslot)
    profile.filters.add(stored_filter)
    profile.destinations.add(destination)
    maintenance = PlannedMaintenance.objects.create(
        created_by=user, start_time=timezone.now(), description="opts"
    )
    maintenance.filters.add(stored_filter)
    return {
        "timeslot": timeslot.pk,
        "filter": stored_filter.pk,
        "destination": destination.pk,
        "profile": profile.pk,
        "maintenance": maintenance.pk,
        "slug": next(iter(all_media())).slug,
    }


def acknowledge_incident(pk: int, user):
    from fleetwatch.incidents.models import Incident

    return acknowledge(Incident.objects.get(pk=pk), user, timezone.now(), "seen", None)
