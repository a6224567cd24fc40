"""Fixtures for the notification API tests."""

import pytest
from notif_helpers import P2


@pytest.fixture
def other(make_user):
    return make_user("bob", email="bob@example.org")


@pytest.fixture
def other_api(client_for, other):
    return client_for(other)


@pytest.fixture
def post_incident(source_api):
    """POST an incident as the source; returns its pk."""
    counter = iter(range(1, 100_000))

    def post(tags=("host=r1",), **fields):
        body = {
            "start_time": "2026-11-20T10:00:00+00:00",
            "description": "router down",
            "tags": [{"tag": t} for t in tags],
            "source_incident_id": f"SID-{next(counter)}",
            **fields,
        }
        response = source_api.post("/api/v2/incidents/", body, format="json")
        assert response.status_code == 201, response.content
        return response.json()["pk"]

    return post


@pytest.fixture
def make_filter(api):
    def make(blob, name="f", client=None):
        response = (client or api).post(
            f"{P2}filters/", {"name": name, "filter": blob}, format="json"
        )
        assert response.status_code == 201, response.content
        return response.json()["pk"]

    return make


@pytest.fixture
def timeslot_pk(api):
    """The requesting user's default "All the time" time slot."""
    slots = api.get(f"{P2}timeslots/").json()
    return next(s["pk"] for s in slots if s["name"] == "All the time")
