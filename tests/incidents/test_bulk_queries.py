"""Bulk acks, events and ticket URLs cost a constant number of queries, whatever the ids.

Up to ``FLEETWATCH_BULK_INGEST_MAX`` ids per request: one query per id would be 10,000.
The limits below are the counts for 5 ids; 200 ids must not need more.
"""

import pytest

from fleetwatch.incidents.models import Acknowledgement, Event, Incident

V2 = "/api/v2/incidents/"
TS = "2026-11-21T12:00:00Z"
# The token lookup and a savepoint pair, then acks: incidents, events, acks; events: lock the
# incidents, insert, one UPDATE per state change; ticket_url: incidents, update, insert.
# events: + the device inventory's lookup of the closed incidents' devices (one; one more, the
# recount, when some are tied to a device), whatever the number of ids.
LIMITS = {"acks": 6, "events": 8, "ticket_url": 6}


@pytest.fixture
def incidents(source_api):
    def make(count: int) -> list[int]:
        items = [
            {"start_time": TS, "source_incident_id": f"Q-{count}-{n}", "tags": []}
            for n in range(count)
        ]
        body = source_api.post(f"{V2}bulk/", {"incidents": items}, format="json").json()
        return [result["pk"] for result in body["results"]]

    return make


@pytest.mark.parametrize("count", [5, 200])
def test_bulk_acks_are_batched(api, incidents, count, django_assert_max_num_queries):
    ids = incidents(count)
    with django_assert_max_num_queries(LIMITS["acks"]):
        response = api.post(f"{V2}acks/bulk/", {"ids": ids, "ack": {}}, format="json")
    assert response.status_code == 201
    assert Acknowledgement.objects.count() == count
    assert Incident.objects.acked().count() == count
    ack = response.json()["changes"][str(ids[-1])]["ack"]
    assert ack["event"]["incident"] == ids[-1] and ack["pk"] == ack["event"]["pk"]


@pytest.mark.parametrize("count", [5, 200])
def test_bulk_events_are_batched(api, source_api, incidents, count, django_assert_max_num_queries):
    ids = incidents(count)
    with django_assert_max_num_queries(LIMITS["events"]):
        response = api.post(
            f"{V2}events/bulk/", {"ids": ids, "event": {"type": "CLO"}}, format="json"
        )
    assert response.status_code == 201
    assert not Incident.objects.open().exists()
    assert Event.objects.filter(type="CLO").count() == count
    # a source's END after a person closed: recorded, no state change, still batched
    with django_assert_max_num_queries(LIMITS["events"]):
        again = source_api.post(
            f"{V2}events/bulk/",
            {"ids": ids, "event": {"type": "END", "timestamp": TS}},
            format="json",
        )
    assert again.status_code == 201
    assert Event.objects.filter(type="END").count() == count


@pytest.mark.parametrize("count", [5, 200])
def test_bulk_ticket_url_is_batched(api, incidents, count, django_assert_max_num_queries):
    ids = incidents(count)
    with django_assert_max_num_queries(LIMITS["ticket_url"]):
        response = api.post(
            f"{V2}ticket_url/bulk/",
            {"ids": ids, "ticket_url": "https://t.example/1"},
            format="json",
        )
    assert response.status_code == 201
    assert Incident.objects.filter(ticket_url="https://t.example/1").count() == count
    assert Event.objects.filter(type="CHI").count() == count


def test_an_ack_post_reads_only_what_the_rules_need(api, incidents, django_assert_max_num_queries):
    """Token, the incident's source, and the inserts: no render queryset (state annotations,
    tag prefetch) for a response that shows none of it. PostgreSQL stores the event and the
    ack in one statement."""
    from django.db import connection

    (pk,) = incidents(1)
    limit = 3 if connection.vendor == "postgresql" else 6
    with django_assert_max_num_queries(limit):
        response = api.post(f"{V2}{pk}/acks/", {"description": "on it"}, format="json")
    assert response.status_code == 201
    ack = Acknowledgement.objects.select_related("event").get()
    assert response.json()["pk"] == ack.pk == ack.event.pk
    assert (ack.event.incident_id, ack.event.type, ack.event.description) == (pk, "ACK", "on it")
    assert response.json()["event"]["received"] is not None
