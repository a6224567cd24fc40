"""Login tokens over HTTP (v2): auth/token/login/, logout/, logoutall, and their expiry."""

import hashlib
import logging
import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from fleetwatch.accounts.models import LoginToken

LOGIN = "/api/v2/auth/token/login/"
LOGOUT = "/api/v2/auth/token/logout/"
LOGOUT_ALL = "/api/v2/auth/token/logoutall"
ME = "/api/v2/auth/user/"
LOGIN_KEY = re.compile(r"^[0-9a-f]{64}$")
CREDENTIALS = {"username": "alice", "password": "secret-pass-123"}


def expire(token: LoginToken) -> None:
    LoginToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))


def test_login_with_credentials(anon, enduser):
    before = timezone.now()
    response = anon.post(LOGIN, CREDENTIALS, format="json")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["expiry", "token"]
    assert LOGIN_KEY.match(body["token"])
    expiry = datetime.fromisoformat(body["expiry"])
    assert before + timedelta(hours=10) <= expiry <= timezone.now() + timedelta(hours=10)


def test_login_token_authenticates_v1_and_v2(anon, client_with, enduser):
    key = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    for version in ["v1", "v2"]:
        response = client_with(key).get(f"/api/{version}/auth/user/")
        assert response.status_code == 200
        assert response.json()["username"] == "alice"


def test_only_a_digest_of_the_key_is_stored(anon, enduser):
    key = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    token = LoginToken.objects.get(user=enduser)
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:8]
    stored = LoginToken.objects.filter(pk=token.pk).values().get()
    assert key not in [str(value) for value in stored.values()]


def test_login_token_ttl_follows_setting(anon, enduser, settings):
    settings.LOGIN_TOKEN_TTL_HOURS = 1
    expiry = datetime.fromisoformat(anon.post(LOGIN, CREDENTIALS, format="json").json()["expiry"])
    assert expiry <= timezone.now() + timedelta(hours=1)
    assert expiry > timezone.now() + timedelta(minutes=59)


def test_login_with_drf_token_and_empty_body(api, client_with, enduser):
    response = api.post(LOGIN)
    assert response.status_code == 200
    key = response.json()["token"]
    assert LoginToken.objects.get(user=enduser).digest == LoginToken.digest_of(key)
    assert client_with(key).get(ME).json()["username"] == "alice"


def test_many_login_tokens_per_user(client_with, enduser, login_token_for):
    _, first = login_token_for(enduser)
    second = client_with(first).post(LOGIN, {}, format="json").json()["token"]
    assert second != first
    assert LoginToken.objects.filter(user=enduser).count() == 2
    assert client_with(first).get(ME).status_code == 200
    assert client_with(second).get(ME).status_code == 200


def test_login_does_not_touch_the_drf_token(api, anon, enduser):
    anon.post(LOGIN, CREDENTIALS, format="json")
    assert Token.objects.get(user=enduser).key == api.token


def test_credentials_in_the_body_win_over_the_header(client_for, make_user, enduser):
    bob = make_user("bob")
    key = client_for(bob).post(LOGIN, CREDENTIALS, format="json").json()["token"]
    assert LoginToken.objects.get(digest=LoginToken.digest_of(key)).user == enduser


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": "secret-pass-123"},
    ],
)
def test_login_bad_credentials_is_a_json_object(anon, enduser, body):
    response = anon.post(LOGIN, body, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not LoginToken.objects.exists()


def test_login_without_anything_names_the_missing_fields(anon):
    response = anon.post(LOGIN)
    assert response.status_code == 400
    assert response.json() == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


def test_login_unknown_field(anon, enduser):
    response = anon.post(LOGIN, {**CREDENTIALS, "remember_me": True}, format="json")
    assert response.status_code == 400
    assert response.json() == {"remember_me": ["Unknown field."]}
    assert not LoginToken.objects.exists()


def test_login_with_an_invalid_header_is_401(client_with, enduser):
    response = client_with("0" * 64).post(LOGIN, CREDENTIALS, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_login_is_not_in_v1(anon, enduser):
    assert anon.post("/api/v1/auth/token/login/", CREDENTIALS, format="json").status_code == 404


def test_expired_login_token_is_401_and_deleted(client_with, enduser, login_token_for):
    token, key = login_token_for(enduser)
    expire(token)
    response = client_with(key).get(ME)
    assert response.status_code == 401
    assert response.json() == {"detail": "Token has expired."}
    assert not LoginToken.objects.filter(pk=token.pk).exists()
    assert client_with(key).get(ME).json() == {"detail": "Invalid token."}


def test_login_drops_the_users_expired_tokens(anon, enduser, make_user, login_token_for):
    stale, _ = login_token_for(enduser)
    expire(stale)
    others, _ = login_token_for(make_user("bob"))
    expire(others)
    anon.post(LOGIN, CREDENTIALS, format="json")
    assert not LoginToken.objects.filter(pk=stale.pk).exists()
    assert LoginToken.objects.filter(pk=others.pk).exists()  # not alice's to clean up
    assert LoginToken.objects.filter(user=enduser).count() == 1


def test_key_with_right_prefix_but_wrong_rest_is_invalid(client_with, enduser, login_token_for):
    _, key = login_token_for(enduser)
    forged = key[:8] + ("0" if key[8] != "0" else "1") + key[9:]
    response = client_with(forged).get(ME)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_login_token_of_inactive_user_is_401(client_with, enduser, login_token_for):
    _, key = login_token_for(enduser)
    enduser.is_active = False
    enduser.save()
    assert client_with(key).get(ME).json() == {"detail": "User inactive or deleted."}


# --- logout and logoutall ---------------------------------------------------------------------


def test_logout_deletes_only_the_token_used(client_with, enduser, login_token_for):
    used, used_key = login_token_for(enduser)
    _, other_key = login_token_for(enduser)
    response = client_with(used_key).post(LOGOUT)
    assert response.status_code == 204
    assert response.content == b""
    assert not LoginToken.objects.filter(pk=used.pk).exists()
    assert client_with(used_key).get(ME).status_code == 401
    assert client_with(other_key).get(ME).status_code == 200


def test_logout_with_a_drf_token_is_400_and_keeps_it(api, enduser, login_token_for):
    login_token_for(enduser)
    response = api.post(LOGOUT)
    assert response.status_code == 400
    assert "login token" in response.json()["detail"]
    assert api.get(ME).status_code == 200
    assert LoginToken.objects.filter(user=enduser).count() == 1


def test_logout_needs_authentication(anon):
    response = anon.post(LOGOUT)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_logout_rejects_unknown_fields(client_with, enduser, login_token_for):
    token, key = login_token_for(enduser)
    response = client_with(key).post(LOGOUT, {"all": True}, format="json")
    assert response.status_code == 400
    assert response.json() == {"all": ["Unknown field."]}
    assert LoginToken.objects.filter(pk=token.pk).exists()


def test_logoutall_deletes_all_the_users_login_tokens(
    api, client_with, enduser, make_user, login_token_for
):
    _, first = login_token_for(enduser)
    _, second = login_token_for(enduser)
    _, bobs = login_token_for(make_user("bob"))
    response = client_with(first).post(LOGOUT_ALL)
    assert response.status_code == 204
    assert not LoginToken.objects.filter(user=enduser).exists()
    assert client_with(second).get(ME).status_code == 401
    assert client_with(bobs).get(ME).status_code == 200
    assert api.get(ME).status_code == 200  # the DRF token is not a login token


def test_logoutall_with_a_drf_token(api, enduser, login_token_for):
    login_token_for(enduser)
    assert api.post(LOGOUT_ALL).status_code == 204
    assert not LoginToken.objects.filter(user=enduser).exists()


def test_logoutall_has_no_trailing_slash(api):
    assert api.post(LOGOUT_ALL + "/").status_code == 404


def test_logoutall_needs_authentication(anon):
    assert anon.post(LOGOUT_ALL).status_code == 401


# --- secrets stay out of the logs ------------------------------------------------------------


def test_passwords_and_keys_are_not_logged(anon, client_with, enduser, caplog):
    caplog.set_level(logging.DEBUG)
    anon.post("/api/v2/auth/token/login/", {"username": "alice", "password": "wrong-horse"})
    key = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    drf_key = anon.post("/api/v2/token-auth/", CREDENTIALS, format="json").json()["token"]
    client_with(key).get("/api/v2/auth/users/999999/")
    client_with(drf_key).post(LOGOUT)
    client_with(key[:-1] + "x").get(ME)
    assert caplog.records, "the 4xx responses above should have been logged"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ["wrong-horse", "secret-pass-123", key, key[:-1], drf_key]:
        assert secret not in logged
