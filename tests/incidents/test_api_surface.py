"""Routes and methods beyond the basic incident CRUD: schema UI, v1 leftovers, method rules."""

import pytest

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"
TS = "2026-11-21T12:00:00Z"


def test_swagger_ui_and_schema(client):
    page = client.get("/api/v2/schema/swagger-ui/")
    assert page.status_code == 200
    assert b"swagger" in page.content.lower()
    schema = client.get("/api/v2/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v2/incidents/" in schema.json()["paths"]


def test_v1_mine_lists_the_sources_own(post_incident, source_api, api):
    pk = post_incident()["pk"]
    assert [i["pk"] for i in source_api.get(f"{V1}mine/").json()["results"]] == [pk]
    assert api.get(f"{V1}mine/").json()["results"] == []


def test_v1_ack_list_and_v2_ack_put(post_incident, api):
    pk = post_incident()["pk"]
    created = api.post(f"{V2}{pk}/acks/", {"timestamp": TS}, format="json")
    assert created.status_code == 201, created.content
    ack_pk = created.json()["pk"]
    listed = api.get(f"{V1}{pk}/acks/")
    assert listed.status_code == 200
    assert [a["pk"] for a in listed.json()] == [ack_pk]
    assert "event" in listed.json()[0]  # v1 nests the event
    expiration = "2030-01-01T00:00:00Z"
    put = api.put(f"{V2}{pk}/acks/{ack_pk}/", {"expiration": expiration}, format="json")
    assert put.status_code == 200, put.content
    assert put.json()["expiration"].startswith("2030-01-01")


@pytest.mark.parametrize("type", ["OTH", "CHI", "LES"])
def test_source_posts_its_informational_types(post_incident, source_api, type):
    pk = post_incident()["pk"]
    body = {"type": type, "timestamp": TS, "description": f"{type} from the source"}
    response = source_api.post(f"{V2}{pk}/events/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["type"]["value"] == type
    assert source_api.get(f"{V2}{pk}/").json()["open"] is True


def test_methods_v1_does_not_have_are_405(post_incident, api, superuser, client_for):
    pk = post_incident()["pk"]
    put = api.put(f"{V1}{pk}/", {"ticket_url": "https://t.example/1"}, format="json")
    assert put.status_code == 405
    assert "PATCH" in put.json()["detail"]
    ack_pk = api.post(f"{V2}{pk}/acks/", {"timestamp": TS}, format="json").json()["pk"]
    patch = api.patch(f"{V1}{pk}/acks/{ack_pk}/", {"expiration": None}, format="json")
    assert patch.status_code == 405
    root = client_for(superuser)
    post = root.post(f"{V1}sources/", {"name": "x", "type": "nav"}, format="json")
    assert post.status_code == 405
