"""Input that once reached the database or Python's limits: always a 4xx naming the field.

Out-of-range datetimes, integers wider than a 64-bit column, non-finite numbers, NUL
characters, bodies that are not objects and query parameters nobody reads. Each is refused
with a JSON body, and nothing already stored changes.
"""

import base64
import json

import pytest
from route_helpers import objects

from fleetwatch.incidents.models import Incident

__all__ = ["objects"]  # the fixture, used by name

V2 = "/api/v2/incidents/"

HUGE = 99999999999999999999
EARLY_AWARE = "0001-01-01T00:00:00+05:00"
LATE_AWARE = "9999-12-31T23:59:59-05:00"


def body(**fields) -> dict:
    data = {
        "start_time": "2026-11-20T10:00:00+00:00",
        "description": "router down",
        "tags": [{"tag": "host=r1"}],
    }
    data.update(fields)
    return data


def raw_post(api, url: str, text: str):
    return api.generic("POST", url, text, content_type="application/json")


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("url", [V2, f"{V2}upsert/", f"{V2}bulk/"])
@pytest.mark.parametrize("payload", ["[]", '"x"', "1", "null"])
def test_a_body_that_is_not_an_object(source_api, url, payload):
    response = raw_post(source_api, url, payload)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()


@pytest.mark.parametrize(
    "field, value",
    [("start_time", EARLY_AWARE), ("end_time", LATE_AWARE), ("start_time", "10000-01-01T00:00Z")],
)
def test_out_of_range_datetimes_in_a_body(source_api, field, value):
    for url in (V2, f"{V2}upsert/"):
        response = source_api.post(url, body(source_incident_id="x", **{field: value}), "json")
        assert response.status_code == 400, response.content
        assert field in response.json()
    assert not Incident.objects.exists()
    # In a batch, the bad item is reported by index and the good one is stored.
    items = [body(source_incident_id="ok"), body(**{field: value})]
    response = source_api.post(f"{V2}bulk/", {"incidents": items}, "json")
    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert results[0]["status"] == "created"
    assert results[1]["status"] == "error" and field in results[1]["errors"]
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    "query, field",
    [
        (f"start_time__gte={EARLY_AWARE}", "start_time__gte"),
        (f"start_time__lte={LATE_AWARE}", "start_time__lte"),
        (f"end_time__gte={EARLY_AWARE}", "end_time__gte"),
        (f"end_time__lte={LATE_AWARE}", "end_time__lte"),
        ("duration__gte=99999999999", "duration__gte"),
        ("duration__gte=1e12", "duration__gte"),
        (f"id__in={HUGE}", "id__in"),
        (f"id__in=1,{HUGE}", "id__in"),
        ("id__in=1.5", "id__in"),
        (f"source__id__in={HUGE}", "source__id__in"),
        ("level__lte=1.5", "level__lte"),
        ("filter_pk=1.5", "filter_pk"),
        (f"notificationprofile_pk={HUGE}", "notificationprofile_pk"),
        ("tags=host%3Da%00b", "tags"),
        ("count=maybe", "count"),
        ("search=a%00b", "search"),
        ("source__name__in=a%00", "source__name__in"),
        ("source_incident_id=%00", "source_incident_id"),
        (f"cursor={cursor('p=0001-01-01T00:00:00%2B05:00&i=1')}", "cursor"),
        (f"cursor={cursor(f'p=2026-01-01T00:00:00%2B00:00&i={HUGE}')}", "cursor"),
        (f"cursor={cursor('p=2026-01-01T00:00:00&i=1')}", "cursor"),
    ],
)
def test_hostile_list_parameters(api, query, field):
    response = api.get(f"{V2}?{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_count_with_a_value_that_means_yes(api, post_incident):
    post_incident()
    assert api.get(f"{V2}?count=true").json()["count"] == 1


def test_a_crafted_cursor_on_the_event_list(api):
    response = api.get(f"{V2}events/?cursor={cursor('p=0001-01-01T00:00:00%2B05:00&i=1')}")
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_huge_ids_in_a_bulk_body(api):
    response = api.post(f"{V2}acks/bulk/", {"ids": [HUGE], "ack": {}}, format="json")
    assert response.status_code == 400
    assert "ids" in response.json()


def test_non_finite_metadata_is_refused(source_api, post_incident):
    text = json.dumps(body(source_incident_id="nf")).replace(
        '"tags"', '"metadata": {"x": [1, {"y": 1e400}]}, "tags"'
    )
    response = raw_post(source_api, V2, text)
    assert response.status_code == 400, response.content
    assert "metadata" in response.json()
    pk = post_incident(metadata={"x": 1})["pk"]
    response = source_api.generic(
        "PATCH", f"{V2}{pk}/", '{"metadata": {"x": -1e999}}', content_type="application/json"
    )
    assert response.status_code == 400
    assert "metadata" in response.json()
    assert Incident.objects.get(pk=pk).metadata == {"x": 1}


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"description": "a\x00b"}, "description"),
        ({"source_incident_id": "a\x00b"}, "source_incident_id"),
        ({"details_url": "/x\x00"}, "details_url"),
        ({"tags": [{"tag": "host=a\x00b"}]}, "tags"),
        ({"metadata": {"k": "a\x00b"}}, "metadata"),
        ({"metadata": {"k\x00": 1}}, "metadata"),
    ],
)
def test_nul_characters_are_refused(source_api, fields, field):
    for url in (V2, f"{V2}upsert/"):
        response = source_api.post(url, body(**{"source_incident_id": "n", **fields}), "json")
        assert response.status_code == 400, response.content
        assert field in response.json()
    assert not Incident.objects.exists()


def test_unknown_keys_inside_a_tag_object(source_api):
    response = source_api.post(V2, body(tags=[{"tag": "a=b", "extra": 1}]), "json")
    assert response.status_code == 400
    assert response.json() == {"tags": {"0": {"extra": ["Unknown field."]}}}


@pytest.mark.parametrize(
    "path",
    [
        "{pk}/",
        "{pk}/events/",
        "{pk}/acks/",
        "{pk}/tags/",
        "sources/",
        "source-types/",
        "/api/v2/auth/user/",
        "/api/v1/auth/phone-number/",
        "/api/v1/incidents/open/",
        "/api/v1/incidents/open+unacked/",
        "/api/",
    ],
)
def test_unknown_query_parameters_everywhere(api, post_incident, path):
    pk = post_incident()["pk"]
    url = path.format(pk=pk) if path.startswith("/") else V2 + path.format(pk=pk)
    assert api.get(url).status_code == 200
    response = api.get(f"{url}?colour=red")
    assert response.status_code == 400, response.content
    assert response.json() == {"colour": ["Unknown query parameter."]}


def test_unknown_query_parameter_on_a_post(source_api):
    response = source_api.post(f"{V2}?colour=red", body(), format="json")
    assert response.status_code == 400
    assert "colour" in response.json()
    assert not Incident.objects.exists()


def test_login_with_a_body_that_is_not_an_object(api):
    response = api.post("/api/v2/auth/token/login/", [], format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Expected a JSON object."]}


def test_an_unexpected_error_under_api_is_json(rf):
    from fleetwatch.urls import internal_error

    response = internal_error(rf.get("/api/v2/incidents/"))
    assert response.status_code == 500
    assert json.loads(response.content) == {"detail": "Internal server error; see the server log."}
    assert internal_error(rf.get("/admin/")).status_code == 500


# --- lone surrogates, deep nesting, oversized bodies -------------------------------------------

SURROGATE = "\\ud800"  # as it travels in JSON text: the escape, not the character


def raw(api, method: str, url: str, text: str):
    return api.generic(method, url, text, content_type="application/json")


def test_a_lone_surrogate_is_a_400_naming_the_field_on_every_path(source_api, post_incident):
    """No database can store one: it was a 500 (and in a metadata key a 503)."""
    pk = post_incident(tags=[{"tag": "host=r1"}])["pk"]
    item = '{"start_time": "2026-11-20T10:00:00Z", "tags": [], %s}'
    cases = [
        ("POST", V2, item % f'"description": "a{SURROGATE}"', {"description"}),
        ("POST", V2, item % f'"metadata": {{"{SURROGATE}": 1}}', {"metadata"}),
        ("POST", V2, item % f'"metadata": {{"k": ["x{SURROGATE}"]}}', {"metadata"}),
        (
            "POST",
            V2,
            '{"start_time": "2026-11-20T10:00Z", "tags": [{"tag": "a=' + SURROGATE + '"}]}',
            {"tags"},
        ),
        (
            "POST",
            f"{V2}upsert/",
            item % f'"source_incident_id": "{SURROGATE}"',
            {"source_incident_id"},
        ),
        (
            "POST",
            f"{V2}bulk/",
            '{"incidents": [%s]}' % (item % f'"description": "{SURROGATE}"'),
            {"incidents"},
        ),
        ("PATCH", f"{V2}{pk}/", f'{{"description": "{SURROGATE}"}}', {"description"}),
        ("PUT", f"{V2}{pk}/", f'{{"ticket_url": "https://x/{SURROGATE}"}}', {"ticket_url"}),
        ("POST", f"{V2}{pk}/tags/", f'{{"tag": "k={SURROGATE}"}}', {"tag"}),
        (
            "POST",
            f"{V2}{pk}/events/",
            f'{{"type": "OTH", "description": "{SURROGATE}"}}',
            {"description"},
        ),
        ("POST", f"{V2}{pk}/acks/", f'{{"description": "{SURROGATE}"}}', {"description"}),
    ]
    before = Incident.objects.count()
    for method, url, text, fields in cases:
        response = raw(source_api, method, url, text)
        assert response.status_code == 400, (url, text, response.content)
        assert set(response.json()) == fields, (url, response.json())
    assert Incident.objects.count() == before
    # The whole path is named inside a bulk body.
    good, bad = item % '"description": "ok"', item % f'"level": "{SURROGATE}"'
    text = f'{{"incidents": [{good}, {bad}]}}'
    response = raw(source_api, "POST", f"{V2}bulk/", text)
    assert response.json() == {
        "incidents": {
            "1": {"level": ["Lone surrogate characters (\\ud800-\\udfff) are not allowed."]}
        }
    }


def test_a_surrogate_pair_is_stored(source_api):
    text = '{"start_time": "2026-11-20T10:00Z", "tags": [], "description": "\\ud83d\\ude00"}'
    response = raw(source_api, "POST", V2, text)
    assert response.status_code == 201, response.content
    assert response.json()["description"] == "\U0001f600"


@pytest.mark.parametrize("depth", [1025, 5000, 50_000])
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(depth, objects, client_for, superuser):
    """Python's json recursed into a RecursionError (a 500) on every endpoint taking JSON."""
    from route_helpers import fill, routes

    api = client_for(superuser)
    api.raise_request_exception = False
    bodies = ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth)
    failures, refused = [], set()
    for route, _ in routes():
        if route.endswith(("/sync/", "/test/")):
            continue  # connector actions take no body (and /test/ would call the vendor)
        url = fill(route, objects)
        for method in ("POST", "PUT", "PATCH"):
            for text in bodies:
                response = raw(api, method, url, text)
                if response.status_code >= 500:
                    failures.append((method, url, response.status_code, response.content[:120]))
                elif response.status_code == 400 and "nested deeper" in str(response.json()):
                    refused.add((method, route))
    assert not failures
    # Every view that reads a body refused it before parsing; those that read none ignore it.
    assert {
        ("POST", "api/v2/incidents/"),
        ("PATCH", "api/v2/incidents/<id:pk>/"),
        ("POST", "api/v2/incidents/bulk/"),
        ("POST", "api/v1/auth/phone-number/"),
        ("POST", "api/v2/connectors/"),
        ("POST", "api/v2/auth/token/login/"),
        ("PUT", "api/v2/incidents/<id:pk>/ticket_url/"),
    } <= refused


def test_a_body_over_the_limit_is_a_json_413_naming_it(source_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = source_api.post(V2, body(description="x" * 2000), "json")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["max_body_bytes"] == 1000
    assert "1000 bytes" in response.json()["detail"]
    assert not Incident.objects.exists()


@pytest.mark.slow  # stores 10,000 incidents end to end (~30 s): `make test` only
def test_the_default_body_limit_carries_a_full_bulk_request(source_api, settings):
    """10,000 realistic incidents (3.1 MB) were over Django's 2.5 MB default."""
    from django.conf import settings as live

    assert live.DATA_UPLOAD_MAX_MEMORY_SIZE >= 10 * 1024 * 1024
    items = [
        {
            "start_time": "2026-11-20T10:00:00+00:00",
            "end_time": "infinity",
            "source_incident_id": f"device:{i:06d}:zone:3:2026-11-20T10:00:00",
            "description": f"Temperature high on sensor-{i} zone 3 (31.2 °C > 30 °C)",
            "level": 3,
            "details_url": f"/devices/{i}/zones/3",
            "tags": [{"tag": f"device=sensor-{i}"}, {"tag": "zone=3"}, {"tag": "site=oslo"}],
            "metadata": {"reading": 31.2, "threshold": 30, "unit": "C"},
        }
        for i in range(live.BULK_INGEST_MAX)
    ]
    text = json.dumps({"incidents": items})
    assert len(text) > 2_621_440  # Django's default limit
    response = raw(source_api, "POST", f"{V2}bulk/", text)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == live.BULK_INGEST_MAX
