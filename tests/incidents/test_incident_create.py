"""POST /incidents/: shapes, defaults, errors and idempotent ingest."""

from fleetwatch import fastsql
from fleetwatch.incidents.models import Event, Incident, IncidentTagRelation, Tag

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"


def test_create_v2_shape(post_incident, source):
    body = post_incident(
        details_url="/devices/1", level=2, metadata={"k": "v"}, tags=[{"tag": "host=r1"}]
    )
    assert body["end_time"] == "infinity"
    assert body["stateful"] is True and body["open"] is True and body["acked"] is False
    assert body["level"] == 2
    assert body["metadata"] == {"k": "v"}
    assert body["details_url"] == "https://nav.example.org/devices/1"
    assert body["source"] == {
        "pk": source.pk,
        "name": "nav1",
        "type": {"name": "nav"},
        "user": source.user.pk,
        "base_url": "https://nav.example.org",
    }
    assert [t["tag"] for t in body["tags"]] == ["host=r1"]
    assert body["tags"][0]["added_by"] == source.user.pk
    assert set(body) == {
        "pk",
        "start_time",
        "end_time",
        "source",
        "source_incident_id",
        "details_url",
        "description",
        "level",
        "ticket_url",
        "metadata",
        "tags",
        "stateful",
        "open",
        "acked",
    }


def test_create_makes_start_event(post_incident, source):
    body = post_incident()
    events = list(Event.objects.filter(incident_id=body["pk"]).values_list("type", "actor"))
    assert events == [("STA", source.user.pk)]


def test_stateless_incident(post_incident):
    body = post_incident(end_time=None)
    assert body["end_time"] is None
    assert body["stateful"] is False and body["open"] is False
    assert list(Event.objects.filter(incident_id=body["pk"]).values_list("type", flat=True)) == [
        "LES"
    ]


def test_closed_at_creation_has_end_event(post_incident):
    body = post_incident(end_time="2026-11-20T11:00:00Z")
    assert body["open"] is False and body["stateful"] is True
    types = sorted(Event.objects.filter(incident_id=body["pk"]).values_list("type", flat=True))
    assert types == ["END", "STA"]


def test_v1_example_body_round_trips(source_api, source):
    """The v1 spec's POST example (with its own "source" pk and naive timestamp)."""
    body = {
        "source": source.pk,
        "start_time": "2011-11-11 11:11:11.11111",
        "end_time": None,
        "source_incident_id": "12345",
        "details_url": "https://uninett.no/api/alerts/12345/",
        "description": "Netbox 11 <12345> down.",
        "ticket_url": "https://tickettracker.com/tickets/987654/",
        "tags": [{"tag": "object=Netbox 4"}, {"tag": "problem_type=boxDown"}],
    }
    response = source_api.post(V1, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert "metadata" not in data and "level" not in data
    assert data["start_time"].startswith("2011-11-11T11:11:11.111110")
    assert data["stateful"] is False
    assert [t["tag"] for t in data["tags"]] == ["object=Netbox 4", "problem_type=boxDown"]
    assert data["details_url"] == "https://uninett.no/api/alerts/12345/"


def test_v2_requires_tags(source_api):
    response = source_api.post(V2, {"start_time": "2026-11-20T10:00:00Z"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"tags": ["This field is required."]}


def test_v1_tags_optional(source_api):
    response = source_api.post(V1, {"start_time": "2026-11-20T10:00:00Z"}, format="json")
    assert response.status_code == 201


def test_bad_fields_are_named(source_api):
    response = source_api.post(
        V2,
        {
            "start_time": "yesterday",
            "end_time": "soon",
            "level": 7,
            "tags": [{"tag": "Bad Key=x"}, {"tag": "novalue"}],
            "metadata": [1],
            "colour": "red",
            "ticket_url": "not a url",
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {
        "start_time",
        "end_time",
        "level",
        "tags",
        "metadata",
        "colour",
        "ticket_url",
    }
    assert errors["level"] == ['"7" is not a valid choice.']
    assert errors["colour"] == ["Unknown field."]
    assert "lowercase" in errors["tags"]["0"]["tag"][0]
    assert "key=value" in errors["tags"]["1"]["tag"][0]


def test_end_before_start(source_api):
    response = source_api.post(
        V2,
        {"start_time": "2026-11-20T10:00:00Z", "end_time": "2026-11-20T09:00:00Z", "tags": []},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["'end_time' cannot be before 'start_time'."]}


def test_end_user_without_source_cannot_create(api):
    response = api.post(V2, {"start_time": "2026-11-20T10:00:00Z", "tags": []}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "source": ["The requesting user must have a connected source system."]
    }


def test_superuser_may_create_for_a_source(client_for, superuser, source):
    response = client_for(superuser).post(
        V2, {"start_time": "2026-11-20T10:00:00Z", "tags": [], "source": source.pk}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["source"]["pk"] == source.pk


def test_other_source_cannot_pick_a_source(client_for, make_source, source):
    other = make_source("zino1", "zino")
    response = client_for(other.user).post(
        V2, {"start_time": "2026-11-20T10:00:00Z", "tags": [], "source": source.pk}, format="json"
    )
    assert response.status_code == 400
    assert "source" in response.json()


def test_duplicate_source_incident_id_names_existing(post_incident, source_api):
    first = post_incident(source_incident_id="X-1")
    response = source_api.post(
        V2,
        {"start_time": "2026-11-20T10:00:00Z", "tags": [], "source_incident_id": "X-1"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["existing_incident"] == first["pk"]
    assert "X-1" in body["source_incident_id"][0]
    assert "duplicate key" not in response.content.decode()
    assert Incident.objects.count() == 1


def test_same_source_incident_id_from_other_source_is_fine(post_incident, client_for, make_source):
    post_incident(source_incident_id="X-1")
    other = make_source("zino1", "zino")
    post_incident(api=client_for(other.user), source_incident_id="X-1")
    assert Incident.objects.count() == 2


def test_unauthenticated(client):
    response = client.get(V2)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_duplicate_stores_nothing_of_the_rejected_incident(post_incident, source_api):
    post_incident(source_incident_id="X-1", tags=[{"tag": "host=r1"}])
    response = source_api.post(
        V2,
        {
            "start_time": "2026-11-20T10:00:00Z",
            "tags": [{"tag": "host=r1"}, {"tag": "brand_new=tag"}],
            "source_incident_id": "X-1",
        },
        format="json",
    )
    assert response.status_code == 400
    assert Event.objects.count() == 1
    assert not Tag.objects.filter(key="brand_new").exists()
    assert IncidentTagRelation.objects.count() == 1


def test_create_is_a_constant_number_of_queries(source_api, django_assert_max_num_queries):
    """On PostgreSQL the incident, its event, tags and relations are one statement (token
    lookup, savepoint, statement, release, the inventory's tag look here); elsewhere (or with
    the fast SQL off) a handful of batched queries."""
    tags = [{"tag": f"k{n}=v{n}"} for n in range(6)]
    # + 1: the device inventory's look at the tags (incidents_tagged: do any name a device?)
    limit = 5 if fastsql.postgresql() else 10
    with django_assert_max_num_queries(limit):
        response = source_api.post(
            V2,
            {"start_time": "2026-11-20T10:00:00Z", "tags": tags, "source_incident_id": "Q"},
            format="json",
        )
    assert response.status_code == 201
    incident = Incident.objects.get(pk=response.json()["pk"])
    stored = IncidentTagRelation.objects.filter(incident=incident)
    assert sorted(f"{k}={v}" for k, v in stored.values_list("tag__key", "tag__value")) == sorted(
        t["tag"] for t in tags
    )
    assert list(incident.events.values_list("type", flat=True)) == ["STA"]
