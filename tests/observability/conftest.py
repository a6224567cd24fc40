"""Posting incidents as a source (as in the incident API tests)."""

import pytest


@pytest.fixture
def post_incident(source_api):
    """POST an incident as the source; returns the response body."""
    counter = iter(range(1, 100_000))

    def post(expect=201, **fields):
        body = {
            "start_time": "2026-11-20T10:00:00+00:00",
            "description": "router down",
            "tags": [{"tag": "host=r1"}],
            "source_incident_id": f"SID-{next(counter)}",
        }
        body.update(fields)
        response = source_api.post("/api/v2/incidents/", body, format="json")
        assert response.status_code == expect, response.content
        return response.json()

    return post
