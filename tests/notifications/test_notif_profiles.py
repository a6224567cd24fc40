"""Notification profiles: v2 (name, destinations, delay) and v1 (media EM/SM, phone_number)."""

import pytest
from notif_helpers import P1, P2

from fleetwatch.accounts.models import PhoneNumber
from fleetwatch.notifications.models import Destination, NotificationProfile, Timeslot


@pytest.fixture
def ops_destination(api):
    response = api.post(
        f"{P2}destinations/",
        {"media": "email", "settings": {"email_address": "ops@example.org"}},
        format="json",
    )
    assert response.status_code == 201
    return response.json()["pk"]


def test_v2_profile_crud(api, make_filter, timeslot_pk, ops_destination):
    f = make_filter({"open": True})
    body = {
        "name": "on call",
        "timeslot": timeslot_pk,
        "filters": [f],
        "destinations": [ops_destination],
        "active": True,
        "delay_minutes": 10,
    }
    response = api.post(P2, body, format="json")
    assert response.status_code == 201, response.content
    profile = response.json()
    assert profile["name"] == "on call"
    assert profile["timeslot"]["name"] == "All the time"
    assert [x["pk"] for x in profile["filters"]] == [f]
    assert [x["pk"] for x in profile["destinations"]] == [ops_destination]
    assert profile["delay_minutes"] == 10
    url = f"{P2}{profile['pk']}/"
    assert api.get(url).json() == profile
    response = api.patch(url, {"active": False, "delay_minutes": None}, format="json")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["delay_minutes"] is None
    assert [p["pk"] for p in api.get(P2).json()] == [profile["pk"]]
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_the_pk_stays_when_the_timeslot_changes(api, timeslot_pk):
    response = api.post(
        f"{P2}timeslots/", {"name": "Nights", "time_recurrences": []}, format="json"
    )
    nights = response.json()["pk"]
    response = api.post(
        P1,
        {"timeslot": timeslot_pk, "filters": [], "media": ["EM"], "active": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["pk"]
    response = api.put(
        f"{P1}{pk}/",
        {"timeslot": nights, "filters": [], "media": ["EM"], "active": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["pk"] == pk
    assert response.json()["timeslot"]["pk"] == nights


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "taken"}, "name"),
        ({"timeslot": 999999}, "timeslot"),
        ({"filters": [999999]}, "filters"),
        ({"destinations": [999999]}, "destinations"),
        ({"delay_minutes": 0}, "delay_minutes"),
        ({"delay_minutes": 10**6}, "delay_minutes"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_profiles_are_a_400_naming_the_field(api, timeslot_pk, change, field):
    api.post(P2, {"name": "taken", "timeslot": timeslot_pk, "filters": []}, format="json")
    body = {"name": "new", "timeslot": timeslot_pk, "filters": [], **change}
    response = api.post(P2, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_other_users_objects_cannot_be_used_or_seen(
    api, other, other_api, make_filter, timeslot_pk
):
    their_slot = Timeslot.objects.get(user=other).pk
    their_filter = make_filter({"open": True}, name="theirs", client=other_api)
    their_destination = Destination.objects.get(user=other).pk
    for change in (
        {"timeslot": their_slot},
        {"filters": [their_filter]},
        {"destinations": [their_destination]},
    ):
        body = {"name": "x", "timeslot": timeslot_pk, "filters": [], **change}
        response = api.post(P2, body, format="json")
        assert response.status_code == 400
        assert next(iter(change)) in response.json()
    response = other_api.post(
        P2, {"name": "theirs", "timeslot": their_slot, "filters": []}, format="json"
    )
    theirs = response.json()["pk"]
    for prefix in (P1, P2):
        assert api.get(f"{prefix}{theirs}/").status_code == 404
        assert api.delete(f"{prefix}{theirs}/").status_code == 404
        assert api.get(f"{prefix}{theirs}/incidents/").status_code == 404
    assert api.get(P2).json() == []
    assert NotificationProfile.objects.filter(pk=theirs).exists()


def test_v1_media_are_destinations_underneath(api, enduser, make_filter, timeslot_pk):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4790909090")
    f = make_filter({"sourceSystemIds": [1], "tags": []})
    body = {
        "timeslot": timeslot_pk,
        "filters": [f],
        "media": ["EM", "SM"],
        "phone_number": number.pk,
        "active": True,
    }
    response = api.post(P1, body, format="json")
    assert response.status_code == 201, response.content
    profile = response.json()
    assert set(profile) == {"pk", "timeslot", "filters", "media", "phone_number", "active"}
    assert sorted(profile["media"]) == ["EM", "SM"]
    assert profile["phone_number"] == {
        "pk": number.pk,
        "user": enduser.pk,
        "phone_number": "+4790909090",
    }
    assert profile["filters"][0]["filter_string"]
    # v2 sees the same profile with its two managed destinations.
    v2 = api.get(f"{P2}{profile['pk']}/").json()
    assert sorted(d["media"]["slug"] for d in v2["destinations"]) == ["email", "sms"]
    assert v2["name"] is None
    # Dropping SM drops the SMS destination and the phone number.
    response = api.patch(f"{P1}{profile['pk']}/", {"media": ["EM"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["media"] == ["EM"]
    assert response.json()["phone_number"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"media": ["SM"]}, "phone_number"),
        ({"media": ["XX"]}, "media"),
        ({"phone_number": 999999, "media": ["SM"]}, "phone_number"),
        ({"name": "v2 only"}, "name"),
    ],
)
def test_v1_validation(api, timeslot_pk, change, field):
    body = {"timeslot": timeslot_pk, "filters": [], "media": ["EM"], "active": True, **change}
    response = api.post(P1, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_v1_em_needs_an_email_address(make_user, client_for):
    user = make_user("noemail")
    api = client_for(user)
    slot = Timeslot.objects.get(user=user).pk
    response = api.post(
        P1, {"timeslot": slot, "filters": [], "media": ["EM"], "active": True}, format="json"
    )
    assert response.status_code == 400
    assert "media" in response.json()


def test_profile_list_query_count(api, make_filter, timeslot_pk, django_assert_max_num_queries):
    for i in range(5):
        f = make_filter({"open": True}, name=f"f{i}")
        api.post(P2, {"name": f"p{i}", "timeslot": timeslot_pk, "filters": [f]}, format="json")
    with django_assert_max_num_queries(12):
        response = api.get(P2)
    assert len(response.json()) == 5
