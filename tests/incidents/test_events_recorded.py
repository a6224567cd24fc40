"""Every path that stores events announces them (``events_recorded``) with their pks set —
the notification outbox depends on it. Each test compares what was announced with the events
the action stored."""

import pytest
from django.db import connection

from fleetwatch.incidents.models import Event, Incident
from fleetwatch.incidents.signals import events_recorded

pytestmark = pytest.mark.django_db
V2 = "/api/v2/incidents/"
TS = "2026-11-20T10:00:00+00:00"


@pytest.fixture
def announced():
    seen: list[Event] = []

    def receiver(sender, events, **kwargs):
        assert connection.in_atomic_block  # inside the events' transaction
        seen.extend(events)

    events_recorded.connect(receiver, dispatch_uid="test-announced")
    yield seen
    events_recorded.disconnect(dispatch_uid="test-announced")


def check(announced, since: int) -> list[str]:
    """Announced == stored since pk ``since``; returns the announced types in order."""
    stored = list(Event.objects.filter(pk__gt=since).order_by("pk").values_list("pk", "type"))
    got = sorted((e.pk, str(e.type)) for e in announced)
    assert all(pk is not None for pk, _ in got)
    assert got == stored, (got, stored)
    announced.clear()
    return [t for _, t in stored]


def last_event() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize("fast", [True, False])
def test_create_upsert_bulk(source_api, announced, settings, fast):
    settings.FAST_SQL = fast
    mark = last_event()
    body = {"start_time": TS, "source_incident_id": "A", "tags": [{"tag": "a=1"}]}
    assert source_api.post(V2, body, format="json").status_code == 201
    assert check(announced, mark) == ["STA"]
    mark = last_event()
    closed = {**body, "source_incident_id": "B", "end_time": "2026-11-20T11:00:00+00:00"}
    assert source_api.post(V2, closed, format="json").status_code == 201
    assert check(announced, mark) == ["STA", "END"]
    mark = last_event()
    up = {**body, "source_incident_id": "A", "level": 1}
    assert source_api.post(f"{V2}upsert/", up, format="json").status_code in (200, 201)
    assert check(announced, mark) == ["CHI"]
    mark = last_event()
    items = [{"start_time": TS, "source_incident_id": f"N-{i}", "tags": []} for i in range(12)]
    assert source_api.post(f"{V2}bulk/", {"incidents": items}, format="json").status_code == 201
    assert check(announced, mark) == ["STA"] * 12  # more than COPY's small-batch threshold


def test_events_acks_changes(source_api, api, announced):
    pk = source_api.post(V2, {"start_time": TS, "tags": []}, format="json").json()["pk"]
    other = source_api.post(V2, {"start_time": TS, "tags": []}, format="json").json()["pk"]
    announced.clear()
    mark = last_event()
    assert api.post(f"{V2}{pk}/acks/", {"description": "on it"}, format="json").status_code == 201
    assert check(announced, mark) == ["ACK"]
    mark = last_event()
    bulk_ack = {"ids": [pk, other], "ack": {"timestamp": TS}}
    assert api.post(f"{V2}acks/bulk/", bulk_ack, format="json").status_code in (200, 201)
    assert check(announced, mark) == ["ACK", "ACK"]
    mark = last_event()
    response = source_api.patch(f"{V2}{pk}/", {"description": "new words"}, format="json")
    assert response.status_code == 200, response.content
    assert check(announced, mark) == ["CHI"]
    mark = last_event()
    bulk_ticket = {"ids": [pk, other], "ticket_url": "https://t.example/2"}
    assert api.post(f"{V2}ticket_url/bulk/", bulk_ticket, format="json").status_code in (200, 201)
    assert check(announced, mark) == ["CHI", "CHI"]
    mark = last_event()
    assert api.post(f"{V2}{pk}/events/", {"type": "CLO"}, format="json").status_code == 201
    assert check(announced, mark) == ["CLO"]
    mark = last_event()
    bulk_event = {"ids": [pk, other], "event": {"type": "OTH", "description": "x"}}
    assert api.post(f"{V2}events/bulk/", bulk_event, format="json").status_code in (200, 201)
    assert check(announced, mark) == ["OTH", "OTH"]


def test_ack_expiration_change(source_api, api, announced):
    pk = source_api.post(V2, {"start_time": TS, "tags": []}, format="json").json()["pk"]
    ack = api.post(f"{V2}{pk}/acks/", {"description": "on it"}, format="json").json()
    announced.clear()
    mark = last_event()
    response = api.put(
        f"{V2}{pk}/acks/{ack['pk']}/", {"expiration": "2099-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert check(announced, mark) == ["OTH"]


def test_admin_event(client, superuser, source, announced):
    incident = Incident.objects.create(source=source, start_time="2026-11-20T10:00Z")
    client.force_login(superuser)
    mark = last_event()
    response = client.post(
        "/admin/incidents/event/add/",
        {
            "incident": incident.pk,
            "actor": superuser.pk,
            "timestamp_0": "2026-11-20",
            "timestamp_1": "10:30:00",
            "received_0": "2026-11-20",
            "received_1": "10:30:00",
            "type": "OTH",
            "description": "from the admin",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert check(announced, mark) == ["OTH"]
