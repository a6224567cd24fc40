"""Helpers for the incident API tests."""

import pytest

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"


@pytest.fixture
def post_incident(source_api):
    """POST an incident as the source (v2 by default); returns the response body."""
    counter = iter(range(1, 100_000))

    def post(api=None, version="v2", expect=201, **fields):
        body = {
            "start_time": "2026-11-20T10:00:00+00:00",
            "description": "router down",
            "tags": [{"tag": "host=r1"}],
            "source_incident_id": f"SID-{next(counter)}",
        }
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not ...}
        response = (api or source_api).post(f"/api/{version}/incidents/", body, format="json")
        assert response.status_code == expect, response.content
        return response.json()

    return post
