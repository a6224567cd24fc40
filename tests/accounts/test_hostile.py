"""The auth endpoints under hostile and careless input: 4xx naming the field, never a 5xx,
never another user's data, never a secret in an answer."""

import json

import pytest
from rest_framework.test import APIClient

from fleetwatch.accounts.models import PhoneNumber
from hostile_helpers import (
    LONE_SURROGATE,
    assert_clean_refusal,
    assert_not_server_error,
    encode,
    field_cases,
)

CREDENTIAL_ROUTES = ["/api/v2/token-auth/", "/api/v1/token-auth/", "/api/v2/auth/token/login/"]


@pytest.mark.parametrize("route", CREDENTIAL_ROUTES)
def test_credentials_every_field_bad(enduser, route):
    anon = APIClient()
    valid = {"username": "alice", "password": "secret-pass-123"}
    for field, label, body in field_cases(valid):
        response = anon.post(route, encode(body), content_type="application/json")
        assert_clean_refusal(response)
        assert "token" not in response.json(), (field, label)
    huge = {"username": "alice", "password": "p" * 1_000_000}
    response = anon.post(route, encode(huge), content_type="application/json")
    assert_clean_refusal(response)


@pytest.mark.parametrize("route", CREDENTIAL_ROUTES)
@pytest.mark.parametrize(
    "raw, content_type",
    [
        (b"{", "application/json"),
        (b"[]", "application/json"),
        (b"null", "application/json"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json"),
        (b'{"username": "\\ud800", "password": "x"}', "application/json"),
        (b'{"\\ud800": 1}', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"username=alice&password=%ED%A0%80", "application/x-www-form-urlencoded"),
        (b"hello", "text/plain"),
    ],
)
def test_credentials_malformed_bodies(enduser, route, raw, content_type):
    response = APIClient().post(route, raw, content_type=content_type)
    assert_clean_refusal(response)


@pytest.mark.parametrize("route", ["/api/v2/auth/refresh-token/", "/api/v2/auth/token/logoutall"])
@pytest.mark.parametrize("body", [{"a": 1}, {LONE_SURROGATE: 1}, [], "x"])
def test_bodyless_endpoints_refuse_bodies(api, route, body):
    response = api.post(route, encode(body), content_type="application/json")
    assert_clean_refusal(response)


@pytest.mark.parametrize("pk", ["0", "-1", str(10**30), "abc", "1.5", "%ED%A0%80"])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_odd_user_ids(api, pk, version):
    assert api.get(f"/api/{version}/auth/users/{pk}/").status_code == 404


def test_users_see_only_themselves(api, enduser, make_user, client_for, superuser):
    bob = make_user("bob", email="bob@example.org")
    assert api.get(f"/api/v2/auth/users/{bob.pk}/").status_code == 404
    assert api.get(f"/api/v2/auth/users/{enduser.pk}/").json()["username"] == "alice"
    assert client_for(superuser).get(f"/api/v2/auth/users/{bob.pk}/").status_code == 200


def test_no_secret_in_any_auth_answer(api, enduser):
    for route in ("/api/v1/auth/user/", "/api/v2/auth/user/", f"/api/v2/auth/users/{enduser.pk}/"):
        text = api.get(route).content.decode()
        assert api.token not in text
        assert "password" not in text and "pbkdf2" not in text


@pytest.fixture
def bobs_number(make_user):
    bob = make_user("bob")
    return PhoneNumber.objects.create(user=bob, phone_number="+4740000001")


@pytest.mark.parametrize("pk", ["0", "-1", str(10**30), "abc", "1.5"])
def test_odd_phone_number_ids(api, pk):
    for method in ("get", "put", "patch", "delete"):
        response = getattr(api, method)(f"/api/v1/auth/phone-number/{pk}/", {}, format="json")
        assert response.status_code == 404, (method, pk)


def test_phone_numbers_stay_with_their_owner(api, bobs_number, source_api):
    target = f"/api/v1/auth/phone-number/{bobs_number.pk}/"
    for client in (api, source_api):
        assert client.get(target).status_code == 404
        response = client.put(target, {"phone_number": "+4740000002"}, format="json")
        assert response.status_code == 404
        assert client.delete(target).status_code == 404
    bobs_number.refresh_from_db()
    assert bobs_number.phone_number == "+4740000001"


def test_a_profile_cannot_use_another_users_phone_number(api, bobs_number):
    slot = next(
        s["pk"]
        for s in api.get("/api/v1/notificationprofiles/timeslots/").json()
        if s["name"] == "All the time"
    )
    body = {
        "timeslot": slot,
        "filters": [],
        "media": ["SM"],
        "phone_number": bobs_number.pk,
        "active": True,
    }
    response = api.post("/api/v1/notificationprofiles/", body, format="json")
    assert_clean_refusal(response, "phone_number")


def test_phone_number_fields(api):
    for field, label, body in field_cases({"phone_number": "+4790909090"}):
        response = api.post(
            "/api/v1/auth/phone-number/", encode(body), content_type="application/json"
        )
        assert_clean_refusal(response, field), label
    response = api.post(
        "/api/v1/auth/phone-number/",
        encode({"phone_number": "+4790909090", LONE_SURROGATE: 1}),
        content_type="application/json",
    )
    assert_clean_refusal(response)


def test_the_same_number_twice(api):
    body = {"phone_number": "+4790909090"}
    first = api.post("/api/v1/auth/phone-number/", body, format="json")
    assert first.status_code == 201
    second = api.post("/api/v1/auth/phone-number/", body, format="json")
    assert_not_server_error(second)
    if second.status_code >= 400:
        assert_clean_refusal(second, "phone_number")


def test_login_token_cannot_refresh_and_drf_token_cannot_logout(
    api, client_with, login_token_for, enduser
):
    _, key = login_token_for(enduser)
    response = client_with(key).post("/api/v2/auth/refresh-token/")
    assert_clean_refusal(response)
    response = api.post("/api/v2/auth/token/logout/")
    assert_clean_refusal(response)
    assert json.dumps(response.json()).find(api.token) == -1
