"""Bulk acks/events/ticket_url (per-id results), upsert, and batched ingest."""

import pytest

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
    # Not giving a level leaves it alone: B-0 keeps level 2.
    assert (again["unchanged"], again["updated"]) == (5, 0)
    assert Incident.objects.get(source_incident_id="B-0").level == 2
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


def _state(pk: int) -> dict:
    """What an incident's API view and event log show, minus the ids and clocks."""
    incident = Incident.objects.get(pk=pk)
    return {
        "fields": {
            name: getattr(incident, name)
            for name in ("description", "level", "details_url", "ticket_url", "metadata")
        },
        "open": incident.open,
        "events": list(
            Event.objects.filter(incident_id=pk)
            .order_by("id")
            .values_list("type", "description", "timestamp")
        ),
    }


SEQUENCES = {
    "empty erases nothing": [
        {"description": "down", "level": 2, "details_url": "/d/1", "metadata": {"a": 1}},
        {"description": "", "details_url": "", "metadata": {}},
    ],
    "later values win": [
        {"description": "down", "level": 2},
        {"description": "still down", "level": 1, "ticket_url": "https://t.example/1"},
        {"level": 3},
    ],
    "ended then restarted": [
        {"description": "down"},
        {"end_time": "2026-11-21T13:00:00Z"},
        {"description": "down again"},
    ],
    "born closed, then open": [
        {"end_time": "2026-11-21T13:00:00Z", "level": 4},
        {},
    ],
}


@pytest.mark.parametrize("name", SEQUENCES)
def test_duplicates_in_one_batch_equal_separate_batches(source_api, name):
    """Several items for one id in one bulk request give what they give sent one request at
    a time, in order: per-item statuses, fields, open state and the event log."""

    def items(sid):
        return [
            {"start_time": TS, "source_incident_id": sid, "tags": [{"tag": f"n={n}"}], **fields}
            for n, fields in enumerate(SEQUENCES[name])
        ]

    separate = []
    for item in items("apart"):
        body = source_api.post(f"{V2}bulk/", {"incidents": [item]}, format="json").json()
        separate.append(body["results"][0])
    together = source_api.post(f"{V2}bulk/", {"incidents": items("batch")}, format="json").json()
    assert [r["status"] for r in together["results"]] == [r["status"] for r in separate]
    assert len({r["pk"] for r in together["results"]}) == 1
    apart, batch = _state(separate[0]["pk"]), _state(together["results"][0]["pk"])
    # Timestamps of CHI/RES events are the request's "now": compare their types and texts.
    assert batch["fields"] == apart["fields"] and batch["open"] == apart["open"]
    assert [e[:2] for e in batch["events"]] == [e[:2] for e in apart["events"]]
    tags = {
        r.tag.value
        for r in Incident.objects.get(pk=together["results"][0]["pk"]).tag_relations.all()
    }
    assert tags == {str(n) for n in range(len(SEQUENCES[name]))}


def test_in_batch_empty_description_erases_nothing(source_api):
    items = [
        {"start_time": TS, "source_incident_id": "E-1", "tags": [], "description": "down"},
        {"start_time": TS, "source_incident_id": "E-1", "tags": [], "description": ""},
    ]
    body = source_api.post(f"{V2}bulk/", {"incidents": items}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["created", "unchanged"]
    assert Incident.objects.get(source_incident_id="E-1").description == "down"


@pytest.mark.parametrize("route", ["upsert", "bulk"])
def test_an_upsert_without_level_keeps_the_level_a_person_set(source_api, api, route):
    def send(body):
        if route == "upsert":
            response = source_api.post(f"{V2}upsert/", body, format="json")
            return response.json()["pk"], response.headers["X-Upsert-Status"]
        result = source_api.post(f"{V2}bulk/", {"incidents": [body]}, format="json").json()
        return result["results"][0]["pk"], result["results"][0]["status"]

    body = {"start_time": TS, "source_incident_id": "LV-1", "tags": [], "description": "down"}
    pk, status = send(body)
    assert status == "created"
    assert Incident.objects.get(pk=pk).level == 5  # not given on create: the default
    assert api.patch(f"{V2}{pk}/", {"level": 2}, format="json").status_code == 200
    assert send(body) == (pk, "unchanged")
    assert Incident.objects.get(pk=pk).level == 2
    assert send({**body, "level": 4}) == (pk, "updated")
    assert Incident.objects.get(pk=pk).level == 4


def test_a_null_level_is_refused_not_taken_as_5(source_api, api, post_incident):
    body = {"start_time": TS, "source_incident_id": "LV-2", "tags": [], "level": None}
    response = source_api.post(f"{V2}upsert/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"level": ["This field may not be null."]}
    pk = post_incident(level=3)["pk"]
    response = api.patch(f"{V2}{pk}/", {"level": None}, format="json")
    assert response.status_code == 400 and "level" in response.json()
    assert Incident.objects.get(pk=pk).level == 3
