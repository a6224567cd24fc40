"""Events: the per-role allow-lists, per-state rules, and what each type does."""

import pytest

from fleetwatch.incidents.models import Event

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"
TS = "2026-11-21T12:00:00Z"


def post_event(api, pk, type, version="v2", **extra):
    body = {"type": type, "timestamp": TS, **extra}
    return api.post(f"/api/{version}/incidents/{pk}/events/", body, format="json")


def state(api, pk):
    body = api.get(f"{V2}{pk}/").json()
    return body["open"], body["end_time"]


@pytest.mark.parametrize("type", ["CLO", "REO", "ACK"])
def test_source_cannot_post_end_user_types(post_incident, source_api, type):
    pk = post_incident()["pk"]
    response = post_event(source_api, pk, type)
    assert response.status_code == 400
    if type == "ACK":
        assert "acks/" in response.json()["type"]
    else:
        assert response.json() == {"type": f"A source system cannot post events of type '{type}'."}


@pytest.mark.parametrize("type", ["STA", "END", "RES", "CHI", "LES"])
def test_end_user_cannot_post_source_types(post_incident, api, type):
    pk = post_incident()["pk"]
    response = post_event(api, pk, type)
    assert response.status_code == 400
    assert response.json() == {"type": f"An end user cannot post events of type '{type}'."}


def test_end_user_cannot_post_ack_event(post_incident, api):
    pk = post_incident()["pk"]
    response = post_event(api, pk, "ACK")
    assert response.status_code == 400
    assert response.json()["type"].endswith(f"/api/v2/incidents/{pk}/acks/.")


def test_source_end_closes_then_restart_reopens(post_incident, source_api, api):
    pk = post_incident()["pk"]
    response = post_event(source_api, pk, "END", description="recovered")
    assert response.status_code == 201
    body = response.json()
    assert body["type"] == {"value": "END", "display": "Incident end"}
    assert body["actor"]["username"] == "nav1-nav"
    assert body["description"] == "recovered"
    assert state(api, pk) == (False, "2026-11-21T12:00:00Z")
    assert post_event(source_api, pk, "RES").status_code == 201
    assert state(api, pk) == (True, "infinity")
    assert post_event(source_api, pk, "END").status_code == 201
    assert state(api, pk)[0] is False
    assert Event.objects.filter(incident_id=pk, type="END").count() == 2


def test_invalid_transition_from_source_is_recorded_without_change(post_incident, source_api, api):
    pk = post_incident()["pk"]
    assert post_event(api, pk, "CLO").status_code == 201  # a person closes it first
    closed = state(api, pk)
    response = post_event(source_api, pk, "END")  # the source's END arrives late
    assert response.status_code == 201
    assert state(api, pk) == closed
    assert post_event(source_api, pk, "STA").status_code == 201  # second STA: recorded only
    assert state(api, pk) == closed
    assert Event.objects.filter(incident_id=pk, type="STA").count() == 2


def test_end_user_close_and_reopen(post_incident, api):
    pk = post_incident()["pk"]
    response = api.post(f"{V2}{pk}/events/", {"type": "CLO"}, format="json")  # no timestamp
    assert response.status_code == 201
    assert state(api, pk)[0] is False
    again = post_event(api, pk, "CLO")
    assert again.status_code == 400
    assert again.json() == {"type": "The incident is already closed."}
    assert post_event(api, pk, "REO").status_code == 201
    assert state(api, pk) == (True, "infinity")
    again = post_event(api, pk, "REO")
    assert again.json() == {"type": "The incident is already open."}


def test_stateless_rules(post_incident, api, source_api):
    pk = post_incident(end_time=None)["pk"]
    response = post_event(api, pk, "CLO")
    assert response.status_code == 400
    assert response.json() == {"type": "Cannot change the state of a stateless incident."}
    # a source's invalid event is recorded, the incident stays stateless
    assert post_event(source_api, pk, "END").status_code == 201
    assert state(api, pk) == (False, None)
    assert post_event(api, pk, "OTH", description="looked at it").status_code == 201


def test_source_must_send_timestamp(post_incident, source_api):
    pk = post_incident()["pk"]
    response = source_api.post(f"{V2}{pk}/events/", {"type": "OTH"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"timestamp": ["This field is required."]}


def test_bad_event_bodies(post_incident, api):
    pk = post_incident()["pk"]
    bad_type = api.post(f"{V2}{pk}/events/", {"type": "XXX"}, format="json")
    assert bad_type.status_code == 400 and "type" in bad_type.json()
    unknown = api.post(f"{V2}{pk}/events/", {"type": "OTH", "mood": "sad"}, format="json")
    assert unknown.status_code == 400 and unknown.json() == {"mood": ["Unknown field."]}
    bad_time = api.post(f"{V2}{pk}/events/", {"type": "OTH", "timestamp": "x"}, format="json")
    assert bad_time.status_code == 400 and "timestamp" in bad_time.json()


def test_event_list_and_detail_v1(post_incident, source_api, api):
    pk = post_incident()["pk"]
    post_event(source_api, pk, "END", version="v1")
    events = api.get(f"{V1}{pk}/events/").json()
    assert [e["type"]["value"] for e in events] == ["STA", "END"]
    assert set(events[0]) == {
        "pk",
        "incident",
        "actor",
        "timestamp",
        "received",
        "type",
        "description",
    }
    detail = api.get(f"{V1}{pk}/events/{events[1]['pk']}/")
    assert detail.status_code == 200 and detail.json() == events[1]
    assert api.get(f"{V1}{pk}/events/999999/").status_code == 404


def test_missing_incident_is_json_404(api):
    response = api.get(f"{V2}999999/events/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_all_events_paged_newest_first(post_incident, source_api, api):
    for _ in range(3):
        pk = post_incident()["pk"]
        post_event(source_api, pk, "END")
    first = api.get(f"{V2}events/?page_size=4").json()
    assert len(first["results"]) == 4 and first["next"]
    rest = api.get(first["next"]).json()
    assert len(rest["results"]) == 2 and rest["next"] is None
    stamps = [e["timestamp"] for e in first["results"] + rest["results"]]
    assert stamps == sorted(stamps, reverse=True)
