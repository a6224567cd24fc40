"""``/api/v2/notificationprofiles/deliveries/``: the owner's delivery log, filterable."""

import pytest
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Event, Incident
from fleetwatch.notifications.models import Delivery, Destination
from fleetwatch.notifications.render import incident_snapshot, render_message

pytestmark = pytest.mark.django_db
URL = "/api/v2/notificationprofiles/deliveries/"


@pytest.fixture
def log(source, enduser, make_user):
    """Two incidents; alice has an e-mail and a webhook destination, bob one of his own."""
    bob = make_user("bob")
    rows = {}
    incidents = []
    for n in range(2):
        incident = Incident.objects.create(
            source=source, start_time=timezone.now(), end_time=INFINITY, description=f"i{n}"
        )
        event = Event.objects.create(
            incident=incident,
            actor=source.user,
            type=Event.Type.INCIDENT_START,
            timestamp=timezone.now(),
        )
        incident.event = event
        incidents.append(incident)
    mail = Destination.objects.create(user=enduser, media="email", label="mail")
    hook = Destination.objects.create(
        user=enduser, media="webhook", label="hook", settings={"url": "https://h", "secret": "x"}
    )
    bobs = Destination.objects.create(user=bob, media="email", label="bob")
    for incident in incidents:
        message = render_message(incident.event, incident_snapshot(incident, [], False), "s")
        for destination, status in ((mail, "sent"), (hook, "failed"), (bobs, "sent")):
            rows[(incident.pk, destination.label)] = Delivery.objects.create(
                event=incident.event,
                destination=destination,
                media=destination.media,
                status=status,
                message=message,
            )
    return {"incidents": incidents, "mail": mail, "hook": hook, "bobs": bobs, "rows": rows}


def pks(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["pk"] for row in response.json()["results"]}


def test_only_the_owners_deliveries(api, log):
    mine = {row.pk for (_, label), row in log["rows"].items() if label != "bob"}
    assert pks(api.get(URL)) == mine
    row = api.get(URL).json()["results"][0]
    assert set(row) >= {"pk", "event", "incident", "destination", "status", "attempts", "media"}
    assert "secret" not in str(row) and "settings" not in row


def test_filters(api, log):
    first = log["incidents"][0].pk
    rows = log["rows"]
    assert pks(api.get(URL, {"incident": first})) == {
        rows[(first, "mail")].pk,
        rows[(first, "hook")].pk,
    }
    assert pks(api.get(URL, {"destination": log["hook"].pk})) == {
        row.pk for (_, label), row in rows.items() if label == "hook"
    }
    assert pks(api.get(URL, {"status": "failed"})) == {
        row.pk for (_, label), row in rows.items() if label == "hook"
    }
    assert pks(api.get(URL, {"destination": log["bobs"].pk})) == set()


def test_paged(api, log):
    body = api.get(URL, {"page_size": 1}).json()
    assert len(body["results"]) == 1 and body["next"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"incident": "x"}, "incident"),
        ({"destination": "0"}, "destination"),
        ({"status": "lost"}, "status"),
        ({"page_size": "0"}, "page_size"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_are_400_naming_them(api, log, params, field):
    response = api.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_needs_login(client, log):
    assert client.get(URL).status_code in (401, 403)
