"""Who may change what: a source only its own incidents, on every path; acks by their author.

Each refusal is a 403 (single) or a per-id 403 (bulk), and nothing is changed: no field, no
event, no ack, no tag.
"""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from fleetwatch.incidents.models import Acknowledgement, Event, Incident, IncidentTagRelation

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"
TS = "2026-11-21T12:00:00Z"
FOREIGN = "belongs to another source"


@pytest.fixture
def other_source(make_source):
    return make_source("zino1", "zino")


@pytest.fixture
def other_api(client_for, other_source):
    """A second source's client: the one whose token has leaked, say."""
    return client_for(other_source.user)


@pytest.fixture
def victim(post_incident):
    """An open incident of the first source, level 3, with one tag and a ticket."""
    return post_incident(level=3, ticket_url="https://t.example/1")["pk"]


def snapshot(pk: int) -> tuple:
    incident = Incident.objects.get(pk=pk)
    return (
        incident.end_time,
        incident.level,
        incident.ticket_url,
        incident.description,
        incident.metadata,
        sorted(Event.objects.filter(incident_id=pk).values_list("id", flat=True)),
        sorted(IncidentTagRelation.objects.filter(incident_id=pk).values_list("id", flat=True)),
        Acknowledgement.objects.filter(event__incident_id=pk).count(),
    )


def assert_forbidden(response, pk: int) -> None:
    assert response.status_code == 403, response.content
    assert FOREIGN in response.json()["detail"] and str(pk) in response.json()["detail"]


@pytest.mark.parametrize(
    "method, version, body",
    [
        ("patch", V2, {"level": 1}),
        ("put", V2, {"description": "mine now", "metadata": {"a": 1}}),
        ("patch", V1, {"ticket_url": "https://evil.example/"}),
        ("patch", V2, {"tags": [{"tag": "host=r1"}, {"tag": "owner=zino"}]}),
    ],
)
def test_a_source_cannot_edit_another_sources_incident(other_api, victim, method, version, body):
    before = snapshot(victim)
    response = getattr(other_api, method)(f"{version}{victim}/", body, format="json")
    assert_forbidden(response, victim)
    assert snapshot(victim) == before


def test_refused_before_the_values_are_read(other_api, victim):
    """A foreign source learns nothing from validation: the 403 comes first."""
    response = other_api.patch(f"{V2}{victim}/", {"level": 9}, format="json")
    assert response.status_code == 403


@override_settings(INDELIBLE_INCIDENTS=False)
def test_a_source_cannot_delete_another_sources_incident(other_api, source_api, victim):
    before = snapshot(victim)
    assert other_api.delete(f"{V2}{victim}/").status_code == 403
    assert snapshot(victim) == before
    assert source_api.delete(f"{V2}{victim}/").status_code == 204


@pytest.mark.parametrize("type", ["END", "STA", "CHI", "OTH"])
def test_a_source_cannot_post_events_on_another_sources_incident(other_api, victim, type):
    before = snapshot(victim)
    response = other_api.post(
        f"{V2}{victim}/events/", {"type": type, "timestamp": TS}, format="json"
    )
    assert_forbidden(response, victim)
    assert snapshot(victim) == before


def test_a_source_cannot_restart_another_sources_incident(source_api, other_api, victim):
    source_api.post(f"{V2}{victim}/events/", {"type": "END", "timestamp": TS}, format="json")
    before = snapshot(victim)
    response = other_api.post(
        f"{V2}{victim}/events/", {"type": "RES", "timestamp": TS}, format="json"
    )
    assert_forbidden(response, victim)
    assert snapshot(victim) == before


def test_a_source_cannot_ack_another_sources_incident(other_api, victim):
    before = snapshot(victim)
    assert_forbidden(other_api.post(f"{V2}{victim}/acks/", {}, format="json"), victim)
    assert_forbidden(other_api.post(f"{V1}{victim}/acks/", {"event": {}}, format="json"), victim)
    assert snapshot(victim) == before


@pytest.mark.parametrize("version", [V1, V2])
def test_a_source_cannot_set_another_sources_ticket_url(other_api, victim, version):
    before = snapshot(victim)
    response = other_api.put(
        f"{version}{victim}/ticket_url/", {"ticket_url": "https://evil.example/"}, format="json"
    )
    assert_forbidden(response, victim)
    assert snapshot(victim) == before


def test_a_source_cannot_tag_or_untag_another_sources_incident(other_api, victim):
    before = snapshot(victim)
    assert_forbidden(other_api.post(f"{V2}{victim}/tags/", {"tag": "x=y"}, format="json"), victim)
    assert_forbidden(other_api.delete(f"{V2}{victim}/tags/host=r1/"), victim)
    assert snapshot(victim) == before


def test_bulk_events_refuse_other_sources_incidents_per_id(
    post_incident, source_api, other_api, other_source, victim
):
    own = post_incident(api=other_api)["pk"]
    before = snapshot(victim)
    response = other_api.post(
        f"{V2}events/bulk/",
        {"ids": [victim, own], "event": {"type": "END", "timestamp": TS}},
        format="json",
    )
    assert response.status_code == 201
    changes = response.json()["changes"]
    assert changes[str(own)]["status"] == 201
    assert changes[str(victim)]["event"] is None
    assert changes[str(victim)]["status"] == 403
    assert FOREIGN in changes[str(victim)]["errors"]["ids"]
    assert snapshot(victim) == before
    assert Incident.objects.get(pk=own).end_time is not None
    assert not Incident.objects.filter(pk=own).open().exists()
    # only foreign ids: nothing succeeded, every refusal a 403
    again = other_api.post(
        f"{V2}events/bulk/",
        {"ids": [victim], "event": {"type": "END", "timestamp": TS}},
        format="json",
    )
    assert again.status_code == 403
    assert snapshot(victim) == before


def test_bulk_acks_refuse_other_sources_incidents_per_id(post_incident, other_api, victim):
    own = post_incident(api=other_api)["pk"]
    before = snapshot(victim)
    response = other_api.post(
        f"{V2}acks/bulk/", {"ids": [victim, own, 999999], "ack": {}}, format="json"
    )
    assert response.status_code == 201
    changes = response.json()["changes"]
    assert changes[str(own)]["status"] == 201
    assert changes[str(victim)]["status"] == 403 and changes[str(victim)]["ack"] is None
    assert changes["999999"]["status"] == 400
    assert snapshot(victim) == before
    assert (
        other_api.post(
            f"{V2}acks/bulk/", {"ids": [victim, 999999], "ack": {}}, format="json"
        ).status_code
        == 400
    )  # mixed failures: Argus's 400


def test_bulk_ticket_url_refuses_other_sources_incidents_per_id(post_incident, other_api, victim):
    own = post_incident(api=other_api)["pk"]
    before = snapshot(victim)
    response = other_api.post(
        f"{V2}ticket_url/bulk/",
        {"ids": [victim, own], "ticket_url": "https://t.example/2"},
        format="json",
    )
    assert response.status_code == 201
    changes = response.json()["changes"]
    assert changes[str(own)] == {"ticket_url": "https://t.example/2", "status": 201, "errors": None}
    assert changes[str(victim)]["status"] == 403 and changes[str(victim)]["ticket_url"] is None
    assert snapshot(victim) == before
    assert Incident.objects.get(pk=own).ticket_url == "https://t.example/2"


def test_upsert_and_bulk_ingest_never_reach_another_sources_incident(
    source_api, other_api, other_source, source
):
    body = {"start_time": TS, "source_incident_id": "SAME", "tags": [], "level": 2}
    first = source_api.post(f"{V2}upsert/", body, format="json").json()["pk"]
    before = snapshot(first)
    # the same source_incident_id from another source is another incident
    theirs = other_api.post(f"{V2}upsert/", {**body, "level": 1, "end_time": TS}, format="json")
    assert theirs.status_code == 201 and theirs.json()["pk"] != first
    bulk = other_api.post(
        f"{V2}bulk/", {"incidents": [{**body, "description": "x", "end_time": TS}]}, format="json"
    )
    assert bulk.json()["unchanged"] + bulk.json()["updated"] == 1
    assert snapshot(first) == before
    # and naming the other source is refused, at the top level as before
    refused = other_api.post(f"{V2}upsert/", {**body, "source": source.pk}, format="json")
    assert refused.status_code == 400 and "source" in refused.json()
    assert snapshot(first) == before


def test_bulk_ingest_refuses_a_per_item_source(source_api, other_source, source):
    items = [
        {"start_time": TS, "source_incident_id": "P-0", "tags": []},
        {"start_time": TS, "source_incident_id": "P-1", "tags": [], "source": other_source.pk},
        {"start_time": TS, "source_incident_id": "P-2", "tags": [], "source": source.pk},
    ]
    response = source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "incidents": {"1": {"source": ["Only a superuser may set the source."]}}
    }
    assert not Incident.objects.exists()
    # naming one's own source (pk, or the object a GET returned) is fine
    items[1]["source"] = {"pk": source.pk, "name": source.name}
    assert source_api.post(f"{V2}bulk/", {"incidents": items}, format="json").status_code == 201
    assert Incident.objects.filter(source=source).count() == 3


def test_a_superuser_cannot_mix_sources_in_one_bulk_request(
    client_for, superuser, source, other_source
):
    root = client_for(superuser)
    items = [{"start_time": TS, "tags": [], "source": other_source.pk}]
    response = root.post(f"{V2}bulk/", {"incidents": items, "source": source.pk}, format="json")
    assert response.status_code == 400
    assert "one request per source" in response.json()["incidents"]["0"]["source"][0]
    assert not Incident.objects.exists()


def test_end_users_and_superusers_keep_their_rights(api, client_for, superuser, victim):
    """Argus's rules for people are unchanged: any incident."""
    assert api.patch(f"{V2}{victim}/", {"level": 1}, format="json").status_code == 200
    assert (
        api.put(
            f"{V2}{victim}/ticket_url/", {"ticket_url": "https://t.example/3"}, format="json"
        ).status_code
        == 200
    )
    assert api.post(f"{V2}{victim}/acks/", {}, format="json").status_code == 201
    assert api.post(f"{V2}{victim}/events/", {"type": "CLO"}, format="json").status_code == 201
    root = client_for(superuser)
    assert root.patch(f"{V2}{victim}/", {"level": 2}, format="json").status_code == 200
    bulk = root.post(
        f"{V2}events/bulk/", {"ids": [victim], "event": {"type": "REO"}}, format="json"
    )
    assert bulk.status_code == 201
    assert Incident.objects.get(pk=victim).level == 2


# --- acknowledgements belong to their author ----------------------------------------------------


@pytest.fixture
def alices_ack(api, victim):
    ack = api.post(
        f"{V2}{victim}/acks/",
        {"expiration": (timezone.now() + timedelta(hours=4)).isoformat()},
        format="json",
    ).json()
    return f"{V2}{victim}/acks/{ack['pk']}/", ack


def test_only_the_author_may_change_an_ack(client_for, make_user, source_api, alices_ack, victim):
    url, ack = alices_ack
    before = snapshot(victim)
    for intruder in (client_for(make_user("bob")), source_api):
        for method in ("patch", "put"):
            response = getattr(intruder, method)(url, {"expiration": None}, format="json")
            assert response.status_code == 403, response.content
            assert "only its author or a superuser" in response.json()["detail"]
    assert snapshot(victim) == before
    assert Acknowledgement.objects.get(pk=ack["pk"]).expiration is not None


def test_every_ack_change_is_recorded(api, enduser, client_for, superuser, alices_ack, victim):
    url, ack = alices_ack
    later = timezone.now() + timedelta(hours=8)
    assert api.patch(url, {"expiration": later.isoformat()}, format="json").status_code == 200
    root = client_for(superuser)
    response = root.patch(url, {"expiration": None}, format="json")
    assert response.status_code == 200 and response.json()["expiration"] is None
    records = list(Event.objects.filter(incident_id=victim, type=Event.Type.OTHER).order_by("id"))
    assert [(e.actor_id, e.type) for e in records] == [
        (enduser.pk, "OTH"),
        (superuser.pk, "OTH"),
    ]
    assert records[0].description.startswith(f'Change: "acknowledgement {ack["pk"]} expiration": ')
    assert records[1].description.endswith(" → None")
    # the same expiry again changes nothing and records nothing
    assert root.patch(url, {"expiration": None}, format="json").status_code == 200
    assert Event.objects.filter(incident_id=victim, type=Event.Type.OTHER).count() == 2
