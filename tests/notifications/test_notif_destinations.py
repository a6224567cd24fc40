"""Destinations and media (v2): settings validated per medium, secrets write-only, managed
(synced) e-mail destination, in-use destinations kept, owner scoping."""

import pytest
from notif_helpers import P2

from fleetwatch.accounts.models import PhoneNumber
from fleetwatch.notifications.models import Destination

D = f"{P2}destinations/"


def create(api, media, settings, label=None, expect=201):
    body = {"media": media, "settings": settings}
    if label is not None:
        body["label"] = label
    response = api.post(D, body, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def test_the_users_email_is_a_managed_destination(api, enduser):
    (managed,) = api.get(D).json()
    assert managed == {
        "pk": managed["pk"],
        "media": {"slug": "email", "name": "Email", "installed": True},
        "label": None,
        "suggested_label": "Email: alice@example.org",
        "settings": {"email_address": "alice@example.org"},
        "managed": True,
    }
    response = api.delete(f"{D}{managed['pk']}/")
    assert response.status_code == 400
    assert Destination.objects.filter(pk=managed["pk"]).exists()
    response = api.patch(
        f"{D}{managed['pk']}/", {"settings": {"email_address": "x@y.org"}}, format="json"
    )
    assert response.status_code == 400
    assert "settings" in response.json()
    # Changing the account's address changes the destination.
    enduser.email = "alice@new.example.org"
    enduser.save()
    assert api.get(f"{D}{managed['pk']}/").json()["settings"] == {
        "email_address": "alice@new.example.org"
    }


@pytest.mark.parametrize(
    ("media", "settings"),
    [
        ("email", {"email_address": "ops@example.org"}),
        ("sms", {"phone_number": "+47 909 09 090"}),
        ("webhook", {"url": "https://hooks.example.org/x", "format": "slack"}),
    ],
)
def test_create_each_medium(api, media, settings):
    body = create(api, media, settings, label="mine")
    assert body["media"]["slug"] == media
    assert body["label"] == "mine"
    assert body["managed"] is False
    if media == "sms":
        assert body["settings"] == {"phone_number": "+4790909090"}


@pytest.mark.parametrize(
    ("media", "settings", "field"),
    [
        ("email", {"email_address": "not-an-address"}, "email_address"),
        ("email", {}, "email_address"),
        ("email", {"email_address": "a@b.org", "cc": "x"}, "cc"),
        ("sms", {"phone_number": "12345"}, "phone_number"),
        ("sms", {"phone_number": "+47 000"}, "phone_number"),
        ("webhook", {"url": "ftp://example.org/x"}, "url"),
        ("webhook", {"url": "javascript:alert(1)"}, "url"),
        ("webhook", {"url": "https://example.org", "format": "xml"}, "format"),
        ("webhook", {"url": "https://example.org", "secret": 5}, "secret"),
        ("pigeon", {"leg": "left"}, "media"),
        ("email", "ops@example.org", "settings"),
    ],
)
def test_bad_settings_are_a_400_naming_the_field(api, media, settings, field):
    response = api.post(D, {"media": media, "settings": settings}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_webhook_secret_is_write_only(api):
    body = create(api, "webhook", {"url": "https://hooks.example.org/x", "secret": "s3cr3t-value"})
    assert body["settings"]["secret"] == "********"
    assert "s3cr3t-value" not in api.get(D).content.decode()
    url = f"{D}{body['pk']}/"
    # Changing the URL without resending the secret (or sending the mask) keeps it.
    response = api.patch(
        url,
        {"settings": {"url": "https://hooks.example.org/y", "secret": "********"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    stored = Destination.objects.get(pk=body["pk"]).settings
    assert stored["secret"] == "s3cr3t-value"
    assert stored["url"] == "https://hooks.example.org/y"
    api.patch(url, {"settings": {"url": "https://hooks.example.org/z"}}, format="json")
    assert Destination.objects.get(pk=body["pk"]).settings["secret"] == "s3cr3t-value"


def test_one_destination_per_address_and_label(api):
    create(api, "sms", {"phone_number": "+4790909090"}, label="phone")
    response = api.post(
        D, {"media": "sms", "settings": {"phone_number": "+47 90909090"}}, format="json"
    )
    assert response.status_code == 400
    assert "settings" in response.json()
    response = api.post(
        D,
        {"media": "sms", "label": "phone", "settings": {"phone_number": "+4791919191"}},
        format="json",
    )
    assert response.status_code == 400
    assert "label" in response.json()


def test_media_cannot_change_and_put_is_405(api):
    body = create(api, "email", {"email_address": "ops@example.org"})
    url = f"{D}{body['pk']}/"
    response = api.patch(url, {"media": "sms"}, format="json")
    assert response.status_code == 400
    assert "media" in response.json()
    response = api.put(
        url, {"media": "email", "settings": {"email_address": "a@b.org"}}, format="json"
    )
    assert response.status_code == 405
    response = api.patch(url, {"label": "ops"}, format="json")
    assert response.status_code == 200
    assert response.json()["label"] == "ops"


def test_an_in_use_destination_cannot_be_deleted(api, timeslot_pk):
    body = create(api, "email", {"email_address": "ops@example.org"})
    response = api.post(
        P2,
        {"name": "p", "timeslot": timeslot_pk, "filters": [], "destinations": [body["pk"]]},
        format="json",
    )
    assert response.status_code == 201, response.content
    profile = response.json()["pk"]
    response = api.delete(f"{D}{body['pk']}/")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert api.delete(f"{P2}{profile}/").status_code == 204
    assert api.delete(f"{D}{body['pk']}/").status_code == 204


def test_duplicate(api, other_api):
    mine = create(api, "email", {"email_address": "shared@example.org"})
    assert api.get(f"{D}{mine['pk']}/duplicate/").json() == {"is_duplicate": False}
    create(other_api, "email", {"email_address": "shared@example.org"})
    assert api.get(f"{D}{mine['pk']}/duplicate/").json() == {"is_duplicate": True}


def test_another_users_destination_is_a_404(api, other_api):
    theirs = create(other_api, "email", {"email_address": "b2@example.org"})
    url = f"{D}{theirs['pk']}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"label": "x"}, format="json").status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get(f"{url}duplicate/").status_code == 404
    assert theirs["pk"] not in {d["pk"] for d in api.get(D).json()}


def test_media_endpoints(api):
    media = api.get(f"{P2}media/").json()
    assert [m["slug"] for m in media] == ["email", "sms", "webhook"]
    assert api.get(f"{P2}media/sms/").json() == {"slug": "sms", "name": "SMS", "installed": True}
    schema = api.get(f"{P2}media/webhook/json_schema/").json()
    assert schema["required"] == ["url"]
    assert schema["properties"]["secret"]["writeOnly"] is True
    assert schema["$id"].endswith("/media/webhook/json_schema/")
    assert api.get(f"{P2}media/pigeon/").status_code == 404
    assert api.get(f"{P2}media/pigeon/json_schema/").status_code == 404


def test_phone_numbers_are_managed_sms_destinations(api, enduser):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4790909090")
    destination = Destination.objects.get(phone_number=number)
    assert destination.managed
    assert destination.media == "sms"
    assert destination.settings == {"phone_number": "+4790909090"}
    number.delete()
    assert not Destination.objects.filter(pk=destination.pk).exists()


def test_an_email_change_onto_an_own_destination_keeps_the_profiles(api, enduser, timeslot_pk):
    own = create(api, "email", {"email_address": "new@example.org"})
    response = api.post(
        P2,
        {"name": "p", "timeslot": timeslot_pk, "filters": [], "destinations": [own["pk"]]},
        format="json",
    )
    profile = response.json()["pk"]
    enduser.email = "new@example.org"
    enduser.save()
    (destination,) = api.get(f"{P2}{profile}/").json()["destinations"]
    assert destination["managed"] is True
    assert destination["settings"] == {"email_address": "new@example.org"}
    assert len(api.get(D).json()) == 1


def test_a_changed_phone_number_changes_its_destination(enduser):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4790909090")
    number.phone_number = "+4791919191"
    number.save()
    assert Destination.objects.get(phone_number=number).settings == {"phone_number": "+4791919191"}
