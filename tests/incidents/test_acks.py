"""Acknowledgements: v1 nested and v2 flat bodies, expiry, and the acked flag."""

from datetime import timedelta

from django.utils import timezone

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"


def iso(delta):
    return (timezone.now() + delta).isoformat()


def test_v2_flat_ack(post_incident, api, enduser):
    pk = post_incident()["pk"]
    response = api.post(
        f"{V2}{pk}/acks/",
        {
            "timestamp": iso(timedelta()),
            "description": "on it",
            "expiration": iso(timedelta(hours=2)),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    ack = response.json()
    assert ack["event"]["type"] == {"value": "ACK", "display": "Acknowledge"}
    assert ack["event"]["actor"] == {"pk": enduser.pk, "username": "alice"}
    assert ack["pk"] == ack["event"]["pk"]
    assert api.get(f"{V2}{pk}/").json()["acked"] is True
    assert api.get(f"{V2}{pk}/acks/").json() == [ack]
    assert api.get(f"{V2}{pk}/acks/{ack['pk']}/").json() == ack


def test_v1_nested_ack_spec_example(post_incident, api):
    pk = post_incident()["pk"]
    body = {
        "event": {
            "timestamp": "2011-11-11 11:11:11.235877",
            "description": "The incident is being investigated.",
        },
        "expiration": "2011-11-13 12:00:00",
    }
    response = api.post(f"{V1}{pk}/acks/", body, format="json")
    assert response.status_code == 201, response.content
    ack = response.json()
    assert ack["event"]["description"] == "The incident is being investigated."
    # an ack that expired in 2011 does not make the incident acked
    assert api.get(f"{V1}{pk}/").json()["acked"] is False


def test_ack_timestamp_defaults_to_now(post_incident, api):
    pk = post_incident()["pk"]
    response = api.post(f"{V2}{pk}/acks/", {}, format="json")
    assert response.status_code == 201
    assert api.get(f"{V2}{pk}/").json()["acked"] is True


def test_expiration_before_timestamp(post_incident, api):
    pk = post_incident()["pk"]
    response = api.post(
        f"{V2}{pk}/acks/",
        {"timestamp": iso(timedelta()), "expiration": iso(timedelta(hours=-1))},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["'expiration' is earlier than creation timestamp."]
    }


def test_source_systems_can_ack(post_incident, source_api):
    pk = post_incident()["pk"]
    assert (
        source_api.post(
            f"{V2}{pk}/acks/", {"timestamp": iso(timedelta())}, format="json"
        ).status_code
        == 201
    )


def test_patch_expiration(post_incident, api):
    pk = post_incident()["pk"]
    ack = api.post(f"{V2}{pk}/acks/", {}, format="json").json()
    url = f"{V2}{pk}/acks/{ack['pk']}/"
    later = iso(timedelta(hours=3))
    response = api.patch(url, {"expiration": later}, format="json")
    assert response.status_code == 200
    assert response.json()["expiration"] is not None
    past = api.patch(url, {"expiration": iso(timedelta(hours=-3))}, format="json")
    assert past.status_code == 400 and "expiration" in past.json()
    other = api.patch(url, {"description": "x"}, format="json")
    assert other.status_code == 400 and "description" in other.json()
    assert api.patch(url, {"expiration": None}, format="json").status_code == 200


def test_expired_ack_is_read_only(post_incident, api):
    pk = post_incident()["pk"]
    ack = api.post(
        f"{V2}{pk}/acks/",
        {"timestamp": iso(timedelta(hours=-2)), "expiration": iso(timedelta(seconds=-1))},
        format="json",
    ).json()
    response = api.patch(f"{V2}{pk}/acks/{ack['pk']}/", {"expiration": None}, format="json")
    assert response.status_code == 400
    assert response.json() == {"expiration": ["Cannot change expired Acknowledgement."]}
    assert api.get(f"{V2}?acked=false").json()["results"][0]["pk"] == pk
