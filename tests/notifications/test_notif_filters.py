"""Stored filters (v1 ``filter_string``, v2 ``filter``), previews, a profile's incidents, and
``?filter_pk=`` / ``?notificationprofile_pk=`` on the incident lists."""

import json

import pytest
from notif_helpers import P1, P2

from fleetwatch.notifications.models import Filter

V2_INCIDENTS = "/api/v2/incidents/"


def pks(response) -> set[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row["pk"] for row in rows}


def test_v2_filter_crud(api):
    blob = {"tags": ["host=r1"], "open": True}
    response = api.post(f"{P2}filters/", {"name": "r1", "filter": blob}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {"pk": body["pk"], "name": "r1", "filter": blob, "public": False}
    url = f"{P2}filters/{body['pk']}/"
    response = api.patch(url, {"filter": {"maxlevel": 2}}, format="json")
    assert response.status_code == 200
    assert response.json()["filter"] == {"maxlevel": 2}
    assert [f["pk"] for f in api.get(f"{P2}filters/").json()] == [body["pk"]]
    assert api.delete(url).status_code == 204


@pytest.mark.parametrize(
    ("blob", "key"),
    [
        ({"maxlevel": 9}, "maxlevel"),
        ({"tags": ["nokey"]}, "tags"),
        ({"colour": "red"}, "colour"),
        ({"open": "perhaps"}, "open"),
    ],
)
def test_a_bad_blob_is_a_400_naming_the_key(api, blob, key):
    response = api.post(f"{P2}filters/", {"name": "x", "filter": blob}, format="json")
    assert response.status_code == 400, response.content
    assert key in json.dumps(response.json()["filter"])
    response = api.post(f"{P2}preview/", blob, format="json")
    assert response.status_code == 400
    assert key in response.json()


def test_v1_filter_string(api, source):
    text = json.dumps({"sourceSystemIds": [source.pk], "tags": ["host=r1"]})
    response = api.post(f"{P1}filters/", {"name": "r1", "filter_string": text}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert json.loads(body["filter_string"]) == json.loads(text)
    assert body["filter"] == {"sourceSystemIds": [source.pk], "tags": ["host=r1"]}
    # The same filter through v2
    assert api.get(f"{P2}filters/{body['pk']}/").json()["filter"] == body["filter"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "Not valid JSON."),
        ("[1]", "Must be a JSON object."),
        ('{"tags": []}', "Filterstring is missing fieldname(s): sourceSystemIds"),
        (
            '{"tags": [], "sourceSystemIds": [], "open": true}',
            "Unknown fieldname(s) in filterstring: open",
        ),
    ],
)
def test_v1_filter_string_validation(api, text, message):
    response = api.post(f"{P1}filters/", {"name": "x", "filter_string": text}, format="json")
    assert response.status_code == 400
    assert response.json() == {"filter_string": [message]}


def test_filter_names_unique_and_owner_scoped(api, other_api, make_filter):
    make_filter({"open": True}, name="mine")
    response = api.post(f"{P2}filters/", {"name": "mine", "filter": {}}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    theirs = make_filter({"open": True}, name="theirs", client=other_api)
    for prefix in (P1, P2):
        assert api.get(f"{prefix}filters/{theirs}/").status_code == 404
        assert api.delete(f"{prefix}filters/{theirs}/").status_code == 404
    assert Filter.objects.filter(pk=theirs).exists()


def test_a_filter_in_use_cannot_be_deleted(api, make_filter, timeslot_pk):
    pk = make_filter({"open": True})
    response = api.post(P2, {"name": "p", "timeslot": timeslot_pk, "filters": [pk]}, format="json")
    assert response.status_code == 201, response.content
    response = api.delete(f"{P2}filters/{pk}/")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert Filter.objects.filter(pk=pk).exists()


def test_previews(api, post_incident, source):
    r1 = post_incident(tags=["host=r1"])
    r2 = post_incident(tags=["host=r2"])
    assert pks(api.post(f"{P2}preview/", {"tags": ["host=r1"]}, format="json")) == {r1}
    assert pks(api.post(f"{P2}filterpreview/", {"tags": ["host=r2"]}, format="json")) == {r2}
    v1 = api.post(
        f"{P1}filterpreview/", {"sourceSystemIds": [source.pk], "tags": []}, format="json"
    )
    assert pks(v1) == {r1, r2}
    # An empty filter selects nothing (Argus's rule).
    assert pks(api.post(f"{P2}preview/", {}, format="json")) == set()
    # v1 takes only its two keys.
    response = api.post(f"{P1}filterpreview/", {"open": True}, format="json")
    assert response.status_code == 400
    assert "open" in response.json()
    assert api.post(f"{P1}preview/", {}, format="json").status_code == 404


def test_profile_incidents_and_list_parameters(
    api, other_api, post_incident, make_filter, timeslot_pk
):
    r1 = post_incident(tags=["host=r1"])
    r2 = post_incident(tags=["host=r2"])
    post_incident(tags=["host=r3"])
    f1 = make_filter({"tags": ["host=r1"]}, name="r1")
    f2 = make_filter({"tags": ["host=r2"]}, name="r2")
    response = api.post(
        P2, {"name": "p", "timeslot": timeslot_pk, "filters": [f1, f2]}, format="json"
    )
    assert response.status_code == 201, response.content
    profile = response.json()["pk"]
    # A profile's filters are a union.
    for prefix in (P1, P2):
        assert pks(api.get(f"{prefix}{profile}/incidents/")) == {r1, r2}
    assert pks(api.get(f"{V2_INCIDENTS}?notificationprofile_pk={profile}")) == {r1, r2}
    assert pks(api.get(f"{V2_INCIDENTS}?filter_pk={f1}")) == {r1}
    assert pks(api.get(f"/api/v1/incidents/?filter_pk={f2}")) == {r2}
    # Another user's profile and private filter do not exist for them.
    response = other_api.get(f"{V2_INCIDENTS}?notificationprofile_pk={profile}")
    assert response.status_code == 400
    assert response.json() == {"notificationprofile_pk": [f"No object with id {profile} exists."]}
    assert other_api.get(f"{V2_INCIDENTS}?filter_pk={f1}").status_code == 400
    assert other_api.get(f"{P2}{profile}/incidents/").status_code == 404
    # A public filter may be used by everyone.
    api.patch(f"{P2}filters/{f1}/", {"public": True}, format="json")
    assert pks(other_api.get(f"{V2_INCIDENTS}?filter_pk={f1}")) == {r1}


def test_a_profile_without_filters_lists_nothing(api, post_incident, timeslot_pk):
    post_incident()
    response = api.post(P2, {"name": "p", "timeslot": timeslot_pk, "filters": []}, format="json")
    assert response.status_code == 201, response.content
    pk = response.json()["pk"]
    assert pks(api.get(f"{P2}{pk}/incidents/")) == set()
    assert pks(api.get(f"{V2_INCIDENTS}?notificationprofile_pk={pk}")) == set()


def test_a_blob_that_is_not_an_object(api):
    response = api.post(f"{P2}filters/", {"name": "x", "filter": "open"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"filter": ["Must be a JSON object."]}
    response = api.post(f"{P2}preview/", [1], format="json")
    assert response.status_code == 400
