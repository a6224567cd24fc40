"""Auth API over HTTP: the Authorization header, users, and DRF tokens (token-auth, refresh)."""

import re
from datetime import timedelta

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fleetwatch.accounts.models import LoginToken, PhoneNumber

from .conftest import VERSIONS

DRF_KEY = re.compile(r"^[0-9a-f]{40}$")
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID = {"detail": "Invalid token."}
EXPIRED = {"detail": "Token has expired."}
BAD_LOGIN = {"non_field_errors": ["Unable to log in with provided credentials."]}
# The ``enduser`` fixture, as auth/user/ shows it (v2; v1 adds "phone_numbers").
ALICE = {
    "username": "alice",
    "first_name": "Alice",
    "last_name": "",
    "email": "alice@example.org",
    "admin_url": None,
}


def age_token(token: Token, days: float) -> None:
    Token.objects.filter(pk=token.pk).update(created=token.created - timedelta(days=days))


# --- The Authorization header ----------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_missing_credentials_are_401_with_token_challenge(anon, version):
    response = anon.get(f"/api/{version}/auth/user/")
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("key", ["0" * 40, "f" * 64, "short"])
def test_unknown_token_is_401_invalid(client_with, enduser, key):
    response = client_with(key).get("/api/v2/auth/user/")
    assert response.status_code == 401
    assert response.json() == INVALID


def test_bearer_scheme_is_not_a_credential(api):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api.token}")
    response = api.get("/api/v2/auth/user/")
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED


def test_token_keyword_without_key_is_401(api):
    api.credentials(HTTP_AUTHORIZATION="Token")
    response = api.get("/api/v2/auth/user/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token header. No credentials provided."}


def test_keyword_is_case_insensitive(api):
    api.credentials(HTTP_AUTHORIZATION=f"token {api.token}")
    assert api.get("/api/v2/auth/user/").status_code == 200


def test_inactive_user_is_401(api, enduser):
    enduser.is_active = False
    enduser.save()
    response = api.get("/api/v2/auth/user/")
    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


@pytest.mark.parametrize("version", VERSIONS)
def test_expired_drf_token_is_401_and_deleted(api, enduser, version):
    token = Token.objects.get(user=enduser)
    age_token(token, 15)
    response = api.get(f"/api/{version}/auth/user/")
    assert response.status_code == 401
    assert response.json() == EXPIRED
    assert not Token.objects.filter(user=enduser).exists()
    # Gone, so the next attempt is merely unknown.
    assert api.get(f"/api/{version}/auth/user/").json() == INVALID


def test_drf_token_still_valid_just_before_expiry(api, enduser):
    age_token(Token.objects.get(user=enduser), 13.9)
    assert api.get("/api/v2/auth/user/").status_code == 200


def test_drf_token_lifetime_follows_setting(api, enduser, settings):
    settings.AUTH_TOKEN_EXPIRES_AFTER_DAYS = 1
    age_token(Token.objects.get(user=enduser), 2)
    assert api.get("/api/v2/auth/user/").json() == EXPIRED


# --- auth/user/ and auth/users/<pk>/ ---------------------------------------------------------


def test_current_user_v2(api):
    response = api.get("/api/v2/auth/user/")
    assert response.status_code == 200
    assert response.json() == ALICE


def test_current_user_admin_url_for_staff(client_for, make_user):
    staff = make_user("ops", is_staff=True)
    body = client_for(staff).get("/api/v2/auth/user/").json()
    assert body["admin_url"] == "/admin/"


def test_current_user_v1_lists_own_phone_numbers(api, enduser, make_user):
    first = PhoneNumber.objects.create(user=enduser, phone_number="+4790909090")
    second = PhoneNumber.objects.create(user=enduser, phone_number="+4767676767")
    PhoneNumber.objects.create(user=make_user("bob"), phone_number="+4722225555")
    response = api.get("/api/v1/auth/user/")
    assert response.status_code == 200
    assert response.json() == {
        **ALICE,
        "phone_numbers": [
            {"pk": first.pk, "user": enduser.pk, "phone_number": "+4790909090"},
            {"pk": second.pk, "user": enduser.pk, "phone_number": "+4767676767"},
        ],
    }


def test_v2_current_user_has_no_phone_numbers(api, enduser):
    PhoneNumber.objects.create(user=enduser, phone_number="+4790909090")
    assert "phone_numbers" not in api.get("/api/v2/auth/user/").json()


def test_current_user_of_a_source_system(source_api):
    body = source_api.get("/api/v2/auth/user/").json()
    assert body["username"] == "nav1-nav"
    assert body["admin_url"] is None


def test_current_user_is_read_only(api):
    response = api.post("/api/v2/auth/user/", {"username": "mallory"}, format="json")
    assert response.status_code == 405


BOB = {"username": "bob", "first_name": "Bob", "last_name": "Builder", "email": "bob@example.org"}


@pytest.mark.parametrize("version", VERSIONS)
def test_staff_see_any_user_by_pk(client_for, make_user, version):
    bob = make_user("bob", first_name="Bob", last_name="Builder", email="bob@example.org")
    staff = client_for(make_user("ops", is_staff=True))
    response = staff.get(f"/api/{version}/auth/users/{bob.pk}/")
    assert response.status_code == 200
    assert response.json() == BOB


@pytest.mark.parametrize("version", VERSIONS)
def test_a_user_sees_themself_by_pk(client_for, make_user, version):
    bob = make_user("bob", first_name="Bob", last_name="Builder", email="bob@example.org")
    response = client_for(bob).get(f"/api/{version}/auth/users/{bob.pk}/")
    assert response.status_code == 200
    assert response.json() == BOB


@pytest.mark.parametrize("version", VERSIONS)
def test_other_users_are_404_to_non_staff(api, make_user, source_api, version):
    """Another user's e-mail address is not for everyone: the same 404 as a missing user."""
    bob = make_user("bob", email="bob@example.org")
    for client in (api, source_api):
        response = client.get(f"/api/{version}/auth/users/{bob.pk}/")
        assert response.status_code == 404
        assert "bob" not in response.content.decode()
    missing = api.get(f"/api/{version}/auth/users/999999/")
    assert response.json() == missing.json()


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_user_is_404_json(api, version):
    response = api.get(f"/api/{version}/auth/users/999999/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


def test_user_by_pk_needs_authentication(anon, enduser):
    response = anon.get(f"/api/v2/auth/users/{enduser.pk}/")
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED


# --- token-auth/ ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_token_auth_returns_a_working_token(anon, client_with, enduser, version):
    response = anon.post(
        f"/api/{version}/token-auth/",
        {"username": "alice", "password": "secret-pass-123"},
        format="json",
    )
    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    key = response.json()["token"]
    assert DRF_KEY.match(key)
    assert Token.objects.get(user=enduser).key == key
    me = client_with(key).get(f"/api/{version}/auth/user/")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


@pytest.mark.parametrize("version", VERSIONS)
def test_token_auth_replaces_the_previous_token(api, anon, enduser, version):
    old = api.token
    response = anon.post(
        f"/api/{version}/token-auth/",
        {"username": "alice", "password": "secret-pass-123"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["token"] != old
    assert list(Token.objects.filter(user=enduser).values_list("key", flat=True)) == [
        response.json()["token"]
    ]
    stale = api.get(f"/api/{version}/auth/user/")
    assert stale.status_code == 401
    assert stale.json() == INVALID


def test_token_auth_renews_an_expired_token(api, anon, client_with, enduser):
    age_token(Token.objects.get(user=enduser), 30)
    response = anon.post(
        "/api/v2/token-auth/", {"username": "alice", "password": "secret-pass-123"}
    )
    assert response.status_code == 200
    assert client_with(response.json()["token"]).get("/api/v2/auth/user/").status_code == 200


def test_token_auth_accepts_form_encoding(anon, enduser):
    response = anon.post(
        "/api/v1/token-auth/", {"username": "alice", "password": "secret-pass-123"}
    )
    assert response.status_code == 200
    assert DRF_KEY.match(response.json()["token"])


def test_token_auth_ignores_a_stale_authorization_header(client_with, enduser):
    response = client_with("0" * 40).post(
        "/api/v2/token-auth/",
        {"username": "alice", "password": "secret-pass-123"},
        format="json",
    )
    assert response.status_code == 200
    assert DRF_KEY.match(response.json()["token"])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": "secret-pass-123"},
    ],
)
def test_token_auth_bad_credentials(anon, enduser, version, body):
    response = anon.post(f"/api/{version}/token-auth/", body, format="json")
    assert response.status_code == 400
    assert response.json() == BAD_LOGIN
    assert not Token.objects.filter(user=enduser).exists()


def test_token_auth_keeps_old_token_on_bad_password(api, anon, enduser):
    anon.post("/api/v2/token-auth/", {"username": "alice", "password": "x"}, format="json")
    assert Token.objects.get(user=enduser).key == api.token
    assert api.get("/api/v2/auth/user/").status_code == 200


def test_token_auth_inactive_user(anon, make_user):
    make_user("gone", is_active=False)
    response = anon.post(
        "/api/v2/token-auth/", {"username": "gone", "password": "secret-pass-123"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == BAD_LOGIN


def test_token_auth_source_system_without_password(anon, source):
    response = anon.post(
        "/api/v2/token-auth/", {"username": source.user.username, "password": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == BAD_LOGIN


def test_token_auth_blank_password(anon, enduser):
    response = anon.post(
        "/api/v2/token-auth/", {"username": "alice", "password": ""}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"password": ["This field may not be blank."]}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"username": "alice"}, {"password": ["This field is required."]}),
        ({"password": "secret-pass-123"}, {"username": ["This field is required."]}),
        (
            {},
            {"username": ["This field is required."], "password": ["This field is required."]},
        ),
    ],
)
def test_token_auth_missing_field(anon, enduser, body, errors):
    response = anon.post("/api/v2/token-auth/", body, format="json")
    assert response.status_code == 400
    assert response.json() == errors


def test_token_auth_unknown_field(anon, enduser):
    response = anon.post(
        "/api/v2/token-auth/",
        {"username": "alice", "password": "secret-pass-123", "otp": "123456"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"otp": ["Unknown field."]}
    assert not Token.objects.filter(user=enduser).exists()


def test_token_auth_is_post_only(anon):
    assert anon.get("/api/v2/token-auth/").status_code == 405


# --- auth/refresh-token/ (v2) -----------------------------------------------------------------


def test_refresh_token_replaces_the_token(api, client_with, enduser):
    old = api.token
    response = api.post("/api/v2/auth/refresh-token/")
    assert response.status_code == 200
    new = response.json()["token"]
    assert DRF_KEY.match(new) and new != old
    assert list(Token.objects.filter(user=enduser).values_list("key", flat=True)) == [new]
    assert api.get("/api/v2/auth/user/").json() == INVALID
    assert client_with(new).get("/api/v2/auth/user/").status_code == 200


def test_refresh_token_resets_the_expiry_clock(api, client_with, enduser):
    age_token(Token.objects.get(user=enduser), 13)
    new = api.post("/api/v2/auth/refresh-token/").json()["token"]
    age_token(Token.objects.get(user=enduser), 13)  # 26 days since the first token
    assert client_with(new).get("/api/v2/auth/user/").status_code == 200


def test_refresh_token_with_a_login_token_is_400_and_changes_nothing(
    api, client_with, enduser, login_token_for
):
    """A 10-hour login token cannot turn itself into a 14-day DRF token."""
    _, key = login_token_for(enduser)
    response = client_with(key).post("/api/v2/auth/refresh-token/")
    assert response.status_code == 400
    assert "DRF token" in response.json()["detail"]
    assert Token.objects.get(user=enduser).key == api.token
    assert api.get("/api/v2/auth/user/").status_code == 200


def test_refresh_token_with_a_login_token_makes_no_drf_token(client_with, make_user):
    bob = make_user("bob")
    _, key = LoginToken.objects.issue(bob)
    assert client_with(key).post("/api/v2/auth/refresh-token/").status_code == 400
    assert not Token.objects.filter(user=bob).exists()


def test_refresh_token_with_a_session_makes_a_drf_token(make_user, client_with):
    """A session is a password login, as token-auth/ is."""
    bob = make_user("bob")
    session = APIClient(enforce_csrf_checks=False)
    session.force_login(bob)
    response = session.post("/api/v2/auth/refresh-token/")
    assert response.status_code == 200
    assert client_with(response.json()["token"]).get("/api/v2/auth/user/").status_code == 200


def test_refresh_token_rejects_unknown_fields(api, enduser):
    response = api.post("/api/v2/auth/refresh-token/", {"old_token": api.token}, format="json")
    assert response.status_code == 400
    assert response.json() == {"old_token": ["Unknown field."]}
    assert Token.objects.get(user=enduser).key == api.token


def test_refresh_token_needs_authentication(anon):
    response = anon.post("/api/v2/auth/refresh-token/")
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED


def test_refresh_token_is_not_in_v1(api):
    assert api.post("/api/v1/auth/refresh-token/").status_code == 404
