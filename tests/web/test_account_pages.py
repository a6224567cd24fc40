"""Account page over HTTP: tokens shown once and revocable, phone numbers, time zone."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from fleetwatch.accounts.models import LoginToken, PhoneNumber


@pytest.fixture
def client(enduser):
    client = Client()
    client.force_login(enduser)
    return client


def test_login_token_shown_once_and_works_then_revoked(client, enduser):
    response = client.post("/account/tokens/")
    assert response["Cache-Control"] == "no-store"
    key = response.context["new_key"]
    assert len(key) == 64 and key in response.content.decode()
    assert key not in client.get("/account/").content.decode()
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v2/auth/user/").status_code == 200
    token = LoginToken.objects.get(user=enduser)
    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert api.get("/api/v2/auth/user/").status_code == 401


def test_drf_token_create_replace_revoke(client, enduser):
    first = client.post("/account/tokens/", {"kind": "drf"}).context["new_key"]
    second = client.post("/account/tokens/", {"kind": "drf"}).context["new_key"]
    assert first != second and Token.objects.get(user=enduser).key == second
    client.post("/account/tokens/drf/revoke/")
    assert not Token.objects.filter(user=enduser).exists()


def test_cannot_revoke_someone_elses_token(client, make_user):
    other = make_user("bob")
    token, _ = LoginToken.objects.issue(other)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert LoginToken.objects.filter(pk=token.pk).exists()


def test_phone_numbers(client, enduser):
    client.post("/account/phone-numbers/", {"phone_number": "+47 909 09 090"})
    number = PhoneNumber.objects.get(user=enduser)
    assert number.phone_number == "+4790909090"
    response = client.post("/account/phone-numbers/", {"phone_number": "12"})
    assert response.status_code == 400 and b"phone_number" in response.content
    client.post(f"/account/phone-numbers/{number.pk}/delete/")
    assert not PhoneNumber.objects.filter(user=enduser).exists()


def test_time_zone(client, enduser):
    client.post("/account/time-zone/", {"time_zone": "Europe/Oslo"})
    enduser.refresh_from_db()
    assert enduser.time_zone == "Europe/Oslo"
    response = client.post("/account/time-zone/", {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400 and b"Unknown time zone" in response.content
    enduser.refresh_from_db()
    assert enduser.time_zone == "Europe/Oslo"
