"""The admin pages for accounts: users, phone numbers, login tokens and DRF tokens."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from fleetwatch.accounts.models import LoginToken, PhoneNumber


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/authtoken/tokenproxy/",
        "/admin/accounts/user/",
        "/admin/accounts/phonenumber/",
        "/admin/accounts/logintoken/",
    ],
)
def test_admin_pages_render(admin_client, enduser, path):
    assert admin_client.get(path).status_code == 200


def test_drf_token_admin_lists_tokens(admin_client, api, enduser):
    response = admin_client.get("/admin/authtoken/tokenproxy/")
    assert response.status_code == 200
    assert api.token in response.content.decode()


def test_drf_token_admin_at_the_argus_path(admin_client, api):
    """The spec sends operators to ``/admin/authtoken/token/``; DRF's admin lives at
    ``tokenproxy/`` (user ids in URLs, not keys), so the old path redirects there."""
    response = admin_client.get("/admin/authtoken/token/?q=alice")
    assert response.status_code == 302
    assert response["Location"] == "/admin/authtoken/tokenproxy/?q=alice"
    page = admin_client.get("/admin/authtoken/token/", follow=True)
    assert page.status_code == 200
    assert api.token in page.content.decode()


def test_argus_token_path_is_not_listed_twice(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "/admin/authtoken/tokenproxy/" in html
    assert "/admin/authtoken/token/" not in html


def test_argus_token_path_needs_staff(enduser):
    client = Client()
    client.force_login(enduser)
    response = client.get("/admin/authtoken/token/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_needs_staff(enduser):
    client = Client()
    client.force_login(enduser)
    response = client.get("/admin/accounts/logintoken/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_login_token_admin_never_shows_the_digest(admin_client, enduser):
    token, key = LoginToken.objects.issue(enduser)
    pages = [
        admin_client.get("/admin/accounts/logintoken/"),
        admin_client.get(f"/admin/accounts/logintoken/{token.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert token.prefix in html
        assert token.digest not in html
        assert key not in html


def test_login_tokens_cannot_be_added_or_edited(admin_client, enduser):
    token, _ = LoginToken.objects.issue(enduser)
    assert admin_client.get("/admin/accounts/logintoken/add/").status_code == 403
    response = admin_client.post(
        f"/admin/accounts/logintoken/{token.pk}/change/", {"expiry": "2099-01-01 00:00:00"}
    )
    assert response.status_code == 403
    assert LoginToken.objects.get(pk=token.pk).expiry == token.expiry


def test_login_token_can_be_revoked(admin_client, client_with, enduser):
    token, key = LoginToken.objects.issue(enduser)
    response = admin_client.post(f"/admin/accounts/logintoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not LoginToken.objects.filter(pk=token.pk).exists()
    assert client_with(key).get("/api/v2/auth/user/").status_code == 401


def test_phone_number_admin_stores_e164(admin_client, enduser):
    response = admin_client.post(
        "/admin/accounts/phonenumber/add/", {"user": enduser.pk, "phone_number": "+47 909 09 090"}
    )
    assert response.status_code == 302
    assert PhoneNumber.objects.get(user=enduser).phone_number == "+4790909090"


def test_phone_number_admin_rejects_invalid_series(admin_client, enduser):
    response = admin_client.post(
        "/admin/accounts/phonenumber/add/", {"user": enduser.pk, "phone_number": "+4712345678"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Enter a valid phone number (e.g. +12125552368)." in response.content.decode()
    assert not PhoneNumber.objects.exists()


def test_user_admin_shows_source_systems(admin_client, source):
    response = admin_client.get("/admin/accounts/user/")
    assert response.status_code == 200
    assert "source system" in response.content.decode().lower()
    assert source.user.username in response.content.decode()


def test_drf_token_admin_creates_a_token(admin_client, enduser):
    response = admin_client.post("/admin/authtoken/tokenproxy/add/", {"user": enduser.pk})
    assert response.status_code == 302
    assert Token.objects.filter(user=enduser).exists()
