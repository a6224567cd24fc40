"""The v2 OpenAPI schema describes what the notification endpoints answer.

Inputs name related objects by pk but answers nest them; the schema documented the input
shape for both (``"destinations": [1]``, ``"media": "sms"``), a JSON object for the preview's
array of incidents, and RFC 3339 ``format: time`` (which needs an offset) for local times.
Every answer is checked against the schema by tests/incidents/test_openapi_schema.py; these
pin the shapes themselves.
"""

import re

import pytest
from notif_helpers import P2


@pytest.fixture
def schema(api):
    response = api.get("/api/v2/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def answer(schema: dict, path: str, method: str, code: str) -> dict:
    return schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]


def component(schema: dict, ref: dict) -> dict:
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_a_profile_answer_nests_its_objects(schema):
    listed = answer(schema, P2, "get", "200")
    assert listed["type"] == "array"
    profile = component(schema, listed["items"])
    assert profile == component(schema, answer(schema, P2, "post", "201"))
    assert profile == component(schema, answer(schema, f"{P2}{{id}}/", "patch", "200"))
    fields = profile["properties"]
    assert fields["timeslot"]["$ref"].endswith("/Timeslot")
    destination = component(schema, fields["destinations"]["items"])
    assert destination["properties"]["media"]["$ref"].endswith("/Media")
    assert "suggested_label" in destination["properties"]


def test_a_destination_answer_nests_its_medium_and_put_is_not_offered(schema):
    detail = answer(schema, f"{P2}destinations/{{id}}/", "get", "200")
    assert component(schema, detail)["properties"]["media"]["$ref"].endswith("/Media")
    assert "put" not in schema["paths"][f"{P2}destinations/{{id}}/"]  # a 405, as Argus
    duplicate = answer(schema, f"{P2}destinations/{{id}}/duplicate/", "get", "200")
    assert component(schema, duplicate)["properties"]["is_duplicate"]["type"] == "boolean"


@pytest.mark.parametrize("path", ["preview/", "filterpreview/", "{id}/incidents/"])
def test_incident_lists_are_arrays_of_incidents(schema, path):
    method = "get" if path.endswith("incidents/") else "post"
    listed = answer(schema, f"{P2}{path}", method, "200")
    assert listed["type"] == "array"
    assert listed["items"]["$ref"].endswith("/Incident")


def test_local_times_are_a_pattern_not_rfc3339_time(schema, api):
    recurrence = schema["components"]["schemas"]["TimeRecurrence"]["properties"]
    assert "format" not in recurrence["start"]
    slot = api.get(f"{P2}timeslots/").json()[0]["time_recurrences"][0]
    assert re.fullmatch(recurrence["start"]["pattern"], slot["start"])
    assert re.fullmatch(recurrence["end"]["pattern"], slot["end"])


def test_error_answers_are_documented(schema):
    for path in (P2, f"{P2}{{id}}/", f"{P2}timeslots/{{id}}/", "/api/v2/plannedmaintenance/"):
        for method, operation in schema["paths"][path].items():
            assert {"400", "401", "403"} <= set(operation["responses"]), (path, method)
