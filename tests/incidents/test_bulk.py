"""Bulk acks/events/ticket_url (per-id results), upsert, and batched ingest."""

from fleetwatch.incidents.models import Event, Incident

V2 = "/api/v2/incidents/"
TS = "2026-11-21T12:00:00Z"


def test_bulk_ack_per_id_results(post_incident, api):
    a, b = post_incident()["pk"], post_incident()["pk"]
    response = api.post(
        f"{V2}acks/bulk/", {"ids": [a, b, 999999], "ack": {"timestamp": TS}}, format="json"
    )
    assert response.status_code == 201
    changes = response.json()["changes"]
    assert changes[str(a)]["status"] == 201 and changes[str(a)]["ack"]["event"]["incident"] == a
    assert changes["999999"] == {
        "ack": None,
        "status": 400,
        "errors": {"ids": "Incident with id 999999 could not be found."},
    }
    assert Incident.objects.acked().count() == 2


def test_bulk_all_failed_is_400(api):
    response = api.post(f"{V2}acks/bulk/", {"ids": [999998, 999999], "ack": {}}, format="json")
    assert response.status_code == 400


def test_bulk_events_obey_the_rules(post_incident, api, source_api):
    a, b = post_incident()["pk"], post_incident()["pk"]
    api.post(f"{V2}{b}/events/", {"type": "CLO"}, format="json")
    response = api.post(
        f"{V2}events/bulk/",
        {"ids": [a, b], "event": {"type": "CLO", "timestamp": TS}},
        format="json",
    )
    changes = response.json()["changes"]
    assert changes[str(a)]["status"] == 201
    assert changes[str(b)] == {
        "event": None,
        "status": 400,
        "errors": {"type": "The incident is already closed."},
    }
    end_user_end = api.post(
        f"{V2}events/bulk/", {"ids": [a], "event": {"type": "END", "timestamp": TS}}, format="json"
    )
    assert end_user_end.status_code == 400  # Argus lets this through; we do not


def test_bulk_ticket_url(post_incident, api):
    a, b = post_incident()["pk"], post_incident()["pk"]
    response = api.post(
        f"{V2}ticket_url/bulk/", {"ids": [a, b], "ticket_url": "https://t.example/5"}, format="json"
    )
    assert response.status_code == 201
    assert Incident.objects.filter(ticket_url="https://t.example/5").count() == 2
    assert Event.objects.filter(type="CHI").count() == 2


def test_bulk_bad_bodies(api):
    assert api.post(f"{V2}acks/bulk/", {"ids": "x", "ack": {}}, format="json").json() == {
        "ids": ["A non-empty list of incident ids is required."]
    }
    assert "extra" in api.post(f"{V2}acks/bulk/", {"ids": [1], "extra": 1}, format="json").json()


def test_upsert_creates_then_updates_then_ends(source_api, api):
    body = {"start_time": TS, "source_incident_id": "U-1", "tags": [{"tag": "a=1"}], "level": 3}
    created = source_api.post(f"{V2}upsert/", body, format="json")
    assert created.status_code == 201 and created.headers["X-Upsert-Status"] == "created"
    pk = created.json()["pk"]
    same = source_api.post(f"{V2}upsert/", body, format="json")
    assert same.status_code == 200 and same.headers["X-Upsert-Status"] == "unchanged"
    changed = source_api.post(
        f"{V2}upsert/", {**body, "level": 1, "tags": [{"tag": "b=2"}]}, format="json"
    )
    assert changed.headers["X-Upsert-Status"] == "updated"
    assert changed.json()["pk"] == pk and changed.json()["level"] == 1
    assert sorted(t["tag"] for t in changed.json()["tags"]) == ["a=1", "b=2"]
    ended = source_api.post(
        f"{V2}upsert/", {**body, "level": 1, "end_time": "2026-11-21T13:00:00Z"}, format="json"
    )
    assert ended.json()["open"] is False
    types = list(Event.objects.filter(incident_id=pk).order_by("id").values_list("type", flat=True))
    assert types == ["STA", "CHI", "END"]
    reopened = source_api.post(f"{V2}upsert/", {**body, "level": 1}, format="json")
    assert reopened.json()["open"] is True
    assert Event.objects.filter(incident_id=pk, type="RES").count() == 1
    assert Incident.objects.count() == 1


def test_upsert_does_not_reopen_what_a_person_closed(source_api, api):
    body = {"start_time": TS, "source_incident_id": "U-2", "tags": []}
    pk = source_api.post(f"{V2}upsert/", body, format="json").json()["pk"]
    api.post(f"{V2}{pk}/events/", {"type": "CLO"}, format="json")
    again = source_api.post(f"{V2}upsert/", body, format="json")
    assert again.json()["open"] is False


def test_upsert_needs_an_id(source_api):
    response = source_api.post(f"{V2}upsert/", {"start_time": TS, "tags": []}, format="json")
    assert response.status_code == 400 and "source_incident_id" in response.json()


def test_bulk_ingest_mixed(source_api):
    items = [
        {"start_time": TS, "source_incident_id": f"B-{i}", "tags": [{"tag": f"n={i}"}]}
        for i in range(5)
    ]
    items.append({"start_time": "bad", "tags": []})
    items.append({"start_time": TS, "source_incident_id": "B-0", "tags": [], "level": 2})
    response = source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["error"]) == (5, 1, 1)
    assert body["results"][5]["status"] == "error" and "start_time" in body["results"][5]["errors"]
    assert body["results"][6]["pk"] == body["results"][0]["pk"]
    assert Incident.objects.count() == 5
    assert Incident.objects.get(source_incident_id="B-0").level == 2
    assert Event.objects.filter(type="STA").count() == 5
    again = source_api.post(f"{V2}bulk/", {"incidents": items[:5]}, format="json").json()
    assert (again["unchanged"], again["updated"]) == (4, 1)  # B-0 goes back to level 5
    assert Incident.objects.count() == 5


def test_bulk_ingest_all_bad(source_api):
    response = source_api.post(f"{V2}bulk/", {"incidents": [{"tags": []}]}, format="json")
    assert response.status_code == 400
    assert response.json()["results"][0]["errors"] == {"start_time": ["This field is required."]}
    assert source_api.post(f"{V2}bulk/", {"incidents": []}, format="json").status_code == 400


def test_api_metadata_health_and_schema(client, api):
    meta = client.get("/api/")
    assert meta.status_code == 200
    assert meta.json()["api-version"]["stable"] == "v2"
    assert client.get("/.still-alive/").status_code == 204
    schema = api.get("/api/v2/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v2/incidents/" in schema.json()["paths"]


def test_upsert_never_erases_what_it_does_not_give(source_api, api):
    body = {"start_time": TS, "source_incident_id": "U-3", "tags": [], "description": "down"}
    pk = source_api.post(f"{V2}upsert/", body, format="json").json()["pk"]
    api.put(f"{V2}{pk}/ticket_url/", {"ticket_url": "https://t.example/7"}, format="json")
    again = source_api.post(f"{V2}upsert/", {**body, "description": ""}, format="json")
    assert again.headers["X-Upsert-Status"] == "unchanged"
    assert again.json()["ticket_url"] == "https://t.example/7"
    assert again.json()["description"] == "down"


def test_a_large_batch_stores_every_item_and_keeps_the_planner_informed(
    source_api, django_capture_on_commit_callbacks
):
    """On PostgreSQL a big batch into a table the planner has never analysed triggers one
    ANALYZE (else the next batch's id lookup scans the table); on SQLite nothing extra runs."""
    from django.db import connection

    items = [
        {"start_time": TS, "source_incident_id": f"L-{i}", "tags": [{"tag": f"n={i % 7}"}]}
        for i in range(600)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 600
    assert Incident.objects.count() == 600
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE oid = 'incidents_incident'::regclass"
            )
            assert cursor.fetchone()[0] >= 600
