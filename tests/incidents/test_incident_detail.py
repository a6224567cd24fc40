"""Incident detail: PATCH/PUT rules, tags, ticket_url, delete, tags and source endpoints."""

from django.test import override_settings

from fleetwatch.incidents.models import Event, Tag

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"


def test_v1_patch_spec_example(post_incident, source_api):
    pk = post_incident()["pk"]
    body = {
        "ticket_url": "https://tickettracker.com/tickets/987654/",
        "tags": [{"tag": "object=Netbox 4"}, {"tag": "problem_type=boxDown"}],
    }
    response = source_api.patch(f"{V1}{pk}/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["ticket_url"] == body["ticket_url"]
    assert sorted(t["tag"] for t in data["tags"]) == ["object=Netbox 4", "problem_type=boxDown"]
    change = Event.objects.get(incident_id=pk, type="CHI")
    assert '"ticket_url"' in change.description and '"tags"' in change.description


def test_v1_patch_refuses_v2_fields(post_incident, source_api):
    pk = post_incident()["pk"]
    response = source_api.patch(
        f"{V1}{pk}/", {"level": 1, "start_time": "x", "foo": 1}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "level": "The field is not allowed to be changed.",
        "start_time": "The field is not allowed to be changed.",
        "foo": "The field does not exist.",
    }


def test_v2_patch_level_metadata_description(post_incident, api):
    pk = post_incident(level=3)["pk"]
    response = api.patch(
        f"{V2}{pk}/", {"level": 1, "metadata": {"a": 1}, "description": "worse"}, format="json"
    )
    assert response.status_code == 200
    data = response.json()
    assert (data["level"], data["metadata"], data["description"]) == (1, {"a": 1}, "worse")
    change = Event.objects.get(incident_id=pk, type="CHI")
    assert 'Change: "level": 3 → 1' in change.description
    assert 'Change: "metadata": 0 item(s) → 1 item(s)' in change.description


def test_patch_validates_values(post_incident, api):
    pk = post_incident()["pk"]
    response = api.patch(f"{V2}{pk}/", {"level": 9, "metadata": "x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"level", "metadata"}


def test_patch_without_change_makes_no_event(post_incident, api):
    pk = post_incident(level=3)["pk"]
    assert api.patch(f"{V2}{pk}/", {"level": 3}, format="json").status_code == 200
    assert not Event.objects.filter(incident_id=pk, type="CHI").exists()


def test_cannot_remove_someone_elses_tag(post_incident, api, client_for, superuser):
    pk = post_incident(tags=[{"tag": "host=r1"}])["pk"]
    response = api.patch(f"{V2}{pk}/", {"tags": [{"tag": "color=red"}]}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "host=r1": "Cannot remove this tag when you're not the one who added it."
    }
    ok = client_for(superuser).patch(f"{V2}{pk}/", {"tags": [{"tag": "color=red"}]}, format="json")
    assert ok.status_code == 200
    assert [t["tag"] for t in ok.json()["tags"]] == ["color=red"]


def test_v2_put_behaves_like_patch(post_incident, api):
    pk = post_incident()["pk"]
    response = api.put(f"{V2}{pk}/", {"ticket_url": "https://t.example/9"}, format="json")
    assert response.status_code == 200 and response.json()["ticket_url"] == "https://t.example/9"


def test_ticket_url_put(post_incident, api):
    pk = post_incident()["pk"]
    response = api.put(
        f"{V1}{pk}/ticket_url/",
        {"ticket_url": "https://tickettracker.com/tickets/987654/"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"ticket_url": "https://tickettracker.com/tickets/987654/"}
    bad = api.put(f"{V2}{pk}/ticket_url/", {"ticket_url": "nope"}, format="json")
    assert bad.status_code == 400 and "ticket_url" in bad.json()


def test_delete_is_405_while_indelible(post_incident, api):
    pk = post_incident()["pk"]
    response = api.delete(f"{V2}{pk}/")
    assert response.status_code == 405
    assert api.get(f"{V2}{pk}/").status_code == 200


@override_settings(INDELIBLE_INCIDENTS=False)
def test_delete_by_owning_source(post_incident, api, source_api):
    pk = post_incident()["pk"]
    assert api.delete(f"{V2}{pk}/").status_code == 403
    assert source_api.delete(f"{V2}{pk}/").status_code == 204
    assert api.get(f"{V2}{pk}/").status_code == 404


def test_detail_404s(api):
    response = api.get(f"{V2}999999/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Incident matches the given query."}
    assert api.get(f"{V2}abc/").status_code == 404
    assert api.get(f"{V2}abc/").headers["Content-Type"].startswith("application/json")


def test_tags_endpoints(post_incident, source_api, api):
    pk = post_incident(tags=[{"tag": "host=r1"}])["pk"]
    assert api.get(f"{V2}{pk}/tags/").json() == [{"tag": "host=r1"}]
    created = api.post(f"{V2}{pk}/tags/", {"tag": "color=red"}, format="json")
    assert created.status_code == 201 and created.json() == {"tag": "color=red"}
    assert api.get(f"{V2}{pk}/tags/color=red/").json() == {"tag": "color=red"}
    bad = api.post(f"{V2}{pk}/tags/", {"tag": "Color"}, format="json")
    assert bad.status_code == 400 and "tag" in bad.json()
    refused = api.delete(f"{V2}{pk}/tags/host=r1/")
    assert refused.status_code == 400
    assert api.delete(f"{V2}{pk}/tags/color=red/").status_code == 204
    assert not Tag.objects.filter(key="color").exists()  # unused tag rows go too
    assert source_api.delete(f"{V2}{pk}/tags/host=r1/").status_code == 204
    assert api.get(f"{V2}{pk}/tags/").json() == []


def test_sources_and_types(api, client_for, superuser, source):
    assert api.get(f"{V1}sources/").json() == [
        {
            "pk": source.pk,
            "name": "nav1",
            "type": {"name": "nav"},
            "user": source.user.pk,
            "base_url": "https://nav.example.org",
        }
    ]
    assert api.get(f"{V1}metadata/").json() == {"sourceSystems": api.get(f"{V1}sources/").json()}
    assert api.get(f"{V2}source-types/").json() == [{"name": "nav"}]
    upper = api.post(f"{V2}source-types/", {"name": "Zino"}, format="json")
    assert upper.status_code == 400 and upper.json() == {"name": ["The name must be lower case."]}
    created = api.post(f"{V2}source-types/", {"name": "zino"}, format="json")
    assert created.status_code == 201 and created.json() == {"name": "zino"}
    assert api.post(f"{V2}source-types/", {"name": "zino"}, format="json").status_code == 400
    assert api.get(f"{V2}source-types/zino/").status_code == 200
    denied = api.post(f"{V2}sources/", {"name": "z1", "type": "zino"}, format="json")
    assert denied.status_code == 403
    admin = client_for(superuser)
    created = admin.post(
        f"{V2}sources/", {"name": "z1", "type": "zino", "username": "nav1-nav"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["type"] == {"name": "zino"}
    missing_type = admin.post(f"{V2}sources/", {"name": "z2", "type": "nope"}, format="json")
    assert missing_type.status_code == 400 and "type" in missing_type.json()
    patched = admin.patch(
        f"{V2}sources/{source.pk}/", {"base_url": "https://nav2.example.org"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["base_url"] == "https://nav2.example.org"


def test_heartbeat(source_api, api, source):
    assert source_api.post(f"{V2}sources/heartbeat/").status_code == 204
    source.refresh_from_db()
    assert source.last_seen is not None
    assert api.post(f"{V2}sources/heartbeat/").status_code == 403
    assert source_api.get(f"{V2}sources/heartbeat/").status_code == 405
