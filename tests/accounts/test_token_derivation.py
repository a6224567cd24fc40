"""Tokens minted with other tokens go when those go, and never outlive them (README, "Tokens").

A DRF token can mint login tokens (``auth/token/login/`` with an empty body), and a login token
can mint more; rotating, revoking or expiring a token revokes everything minted from it.
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fleetwatch.accounts.models import LoginToken

LOGIN = "/api/v2/auth/token/login/"
LOGOUT = "/api/v2/auth/token/logout/"
REFRESH = "/api/v2/auth/refresh-token/"
ME = "/api/v2/auth/user/"
CREDENTIALS = {"username": "alice", "password": "secret-pass-123"}


@pytest.fixture
def mint(client_with):
    """``key = mint(parent_key)``: a login token minted over HTTP with the token ``parent_key``."""

    def make(parent_key: str) -> str:
        response = client_with(parent_key).post(LOGIN)
        assert response.status_code == 200, response.content
        return response.json()["token"]

    return make


def works(client_with, key: str) -> bool:
    return client_with(key).get(ME).status_code == 200


def age_drf_token(user, days: float) -> None:
    Token.objects.filter(user=user).update(created=timezone.now() - timedelta(days=days))


def expiry_of(key: str) -> datetime:
    return LoginToken.objects.get(digest=LoginToken.digest_of(key)).expiry


# --- revoked with the DRF token they came from --------------------------------------------------


def test_refreshing_the_drf_token_revokes_the_login_tokens_it_minted(api, client_with, mint):
    child = mint(api.token)
    grandchild = mint(child)
    new = api.post(REFRESH).json()["token"]
    assert not works(client_with, child)
    assert not works(client_with, grandchild)
    assert works(client_with, new)


def test_token_auth_revokes_the_login_tokens_the_old_drf_token_minted(api, anon, client_with, mint):
    child = mint(api.token)
    new = anon.post("/api/v2/token-auth/", CREDENTIALS, format="json").json()["token"]
    assert not works(client_with, child)
    assert works(client_with, new)


def test_deleting_the_drf_token_revokes_its_login_tokens(api, client_with, enduser, mint):
    """As the admin's delete action and ``drf_create_token -r`` do."""
    child = mint(api.token)
    Token.objects.get(user=enduser).delete()
    assert not works(client_with, child)
    assert not LoginToken.objects.filter(user=enduser).exists()


def test_an_expired_drf_token_takes_its_login_tokens_along(api, client_with, enduser, mint):
    child = mint(api.token)
    age_drf_token(enduser, 15)
    assert api.get(ME).json() == {"detail": "Token has expired."}
    assert not works(client_with, child)


def test_login_tokens_minted_with_the_new_drf_token_survive_only_it(
    api, client_with, enduser, mint
):
    old_child = mint(api.token)
    new = api.post(REFRESH).json()["token"]
    new_child = mint(new)
    assert works(client_with, new_child)
    assert not works(client_with, old_child)
    client_with(new).post(REFRESH)
    assert not works(client_with, new_child)


def test_password_login_tokens_do_not_depend_on_the_drf_token(api, anon, client_with):
    key = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    api.post(REFRESH)
    assert works(client_with, key)


def test_another_users_login_tokens_are_untouched(api, client_for, client_with, make_user, mint):
    bob = client_for(make_user("bob"))
    bobs_child = mint(bob.token)
    api.post(REFRESH)
    assert works(client_with, bobs_child)


def test_the_drf_key_is_not_copied_into_the_login_token_table(api, enduser, mint):
    mint(api.token)
    stored = LoginToken.objects.filter(user=enduser).values().get()
    assert api.token not in [str(value) for value in stored.values()]


# --- revoked with the login token they came from -----------------------------------------------


def test_logging_out_a_login_token_revokes_the_tokens_it_minted(anon, client_with, enduser, mint):
    parent = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    child = mint(parent)
    grandchild = mint(child)
    sibling = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    assert client_with(parent).post(LOGOUT).status_code == 204
    assert not works(client_with, child)
    assert not works(client_with, grandchild)
    assert works(client_with, sibling)


def test_logging_out_a_child_keeps_its_parent(anon, client_with, enduser, mint):
    parent = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    child = mint(parent)
    client_with(child).post(LOGOUT)
    assert works(client_with, parent)


def test_an_expired_parent_takes_its_children_along(anon, client_with, enduser, mint):
    parent = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    child = mint(parent)
    LoginToken.objects.filter(digest=LoginToken.digest_of(parent)).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    assert client_with(parent).get(ME).json() == {"detail": "Token has expired."}
    assert not works(client_with, child)


# --- never outliving their origin ---------------------------------------------------------------


def test_a_login_token_expires_no_later_than_the_drf_token_it_came_from(
    api, enduser, mint, settings
):
    age_drf_token(enduser, 13.9)  # 0.1 day = 2.4 h left, less than the 10 h TTL
    key = mint(api.token)
    drf_expiry = Token.objects.get(user=enduser).created + timedelta(days=14)
    assert expiry_of(key) == drf_expiry


def test_a_login_token_expires_no_later_than_the_login_token_it_came_from(anon, enduser, mint):
    parent = anon.post(LOGIN, CREDENTIALS, format="json").json()["token"]
    soon = timezone.now() + timedelta(hours=1)
    LoginToken.objects.filter(digest=LoginToken.digest_of(parent)).update(expiry=soon)
    assert expiry_of(mint(parent)) == soon


def test_a_fresh_drf_token_gives_the_full_login_ttl(api, mint):
    before = timezone.now()
    expiry = expiry_of(mint(api.token))
    assert before + timedelta(hours=10) <= expiry <= timezone.now() + timedelta(hours=10)


def test_a_session_login_token_is_not_derived(make_user, client_with):
    bob = make_user("bob")
    session = APIClient()
    session.force_login(bob)
    key = session.post(LOGIN).json()["token"]
    token = LoginToken.objects.get(digest=LoginToken.digest_of(key))
    assert token.parent is None and token.drf_token_id is None
    assert works(client_with, key)


# --- a revocation racing the minting --------------------------------------------------------


def test_minting_with_a_token_revoked_meanwhile_issues_nothing(enduser):
    drf_token = Token.objects.create(user=enduser)
    parent, _ = LoginToken.objects.issue(enduser)
    Token.objects.filter(pk=drf_token.pk).delete()
    LoginToken.objects.filter(pk=parent.pk).delete()
    assert LoginToken.objects.issue(enduser, derived_from=drf_token) is None
    assert LoginToken.objects.issue(enduser, derived_from=parent) is None
    assert not LoginToken.objects.exists()


def test_deleting_a_user_with_derived_tokens_deletes_them_all(api, enduser, mint):
    mint(mint(api.token))
    assert LoginToken.objects.filter(user=enduser).count() == 2
    enduser.delete()
    assert not LoginToken.objects.exists()
    assert not Token.objects.exists()


def test_the_admin_shows_what_a_login_token_was_minted_with(admin_client, api, anon, mint):
    child = mint(api.token)
    grandchild = mint(child)
    anon.post(LOGIN, CREDENTIALS, format="json")
    page = admin_client.get("/admin/accounts/logintoken/").content.decode()
    assert "the user&#x27;s DRF token" in page
    assert f"login token {child[:8]}…" in page
    assert "a password or session" in page
    assert grandchild[:8] in page
