"""Single sign-on with OpenID Connect, against a local provider (tests/web/oidc_provider.py).

The hub's side goes through Django's test client; the browser's visit to the provider is a real
HTTP request (httpx) to the provider on 127.0.0.1, and the hub itself talks to the provider over
HTTP too (discovery, token, JWKS, userinfo). The ``slow`` tests at the end do the whole round
trip through the live server: with httpx following redirects, and in Chromium.
"""

import logging
import socket
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest
from browser_helpers import axe_violations
from django.contrib.auth import get_user_model
from oidc_provider import LocalOIDCProvider

from fleetwatch.accounts.models import ExternalIdentity
from fleetwatch.accounts.oidcconfig import OIDCConfig
from fleetwatch.web import oidc

DISCOVERY = "/.well-known/openid-configuration"
CAROL = {
    "sub": "sub-carol",
    "preferred_username": "carol",
    "email": "carol@example.org",
    "given_name": "Carol",
    "family_name": "Jones",
}


@pytest.fixture
def provider():
    with LocalOIDCProvider() as local:
        local.claims = dict(CAROL)
        yield local


@pytest.fixture
def sso(db, settings, provider):
    """Single sign-on on, against the local provider; ``sso.OIDC = replace(...)`` varies it."""
    oidc.oauth_client.cache_clear()
    settings.OIDC = OIDCConfig(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        provider_name="Local IdP",
        staff_groups=frozenset({"noc-admins"}),
    )
    yield settings
    oidc.oauth_client.cache_clear()


def configure(settings, **changes):
    settings.OIDC = replace(settings.OIDC, **changes)


def start(client, next_url=""):
    """The hub's redirect to the provider, and the provider's (auto-approving) answer."""
    response = client.get("/login/oidc/", {"next": next_url} if next_url else {})
    assert response.status_code == 302, response.content
    answer = httpx.get(response["Location"])
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert back.path == "/login/oidc/callback/"
    return back


def sso_login(client, next_url=""):
    back = start(client, next_url)
    return client.get(f"{back.path}?{back.query}")


def logged_in_as(client):
    page = client.get("/")
    if page.status_code != 200:
        return None
    return page.context["user"].username


def alert(response) -> str:
    return response.context["sso_error"]


# --- off ---------------------------------------------------------------------------------------


def test_off_by_default_no_button_no_routes(client, db, settings):
    assert settings.OIDC is None
    page = client.get("/login/")
    assert page.status_code == 200
    assert b"Log in with" not in page.content
    assert b'name="password"' in page.content
    assert client.get("/login/oidc/").status_code == 404
    assert client.get("/login/oidc/callback/?code=x&state=y").status_code == 404


def test_login_page_offers_both_and_fetches_nothing_yet(client, sso, provider):
    page = client.get("/login/?next=/sources/")
    assert b"Log in with Local IdP" in page.content
    assert b'name="next" value="/sources/"' in page.content
    assert b'name="password"' in page.content
    assert sum(provider.hits.values()) == 0  # discovery is fetched at the first login


# --- success -----------------------------------------------------------------------------------


def test_first_login_creates_an_end_user_and_lands_on_the_console(client, sso, provider):
    response = sso_login(client)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_as(client) == "carol"
    carol = get_user_model().objects.get(username="carol")
    assert (carol.email, carol.first_name, carol.last_name) == (
        "carol@example.org",
        "Carol",
        "Jones",
    )
    assert not carol.is_superuser and not carol.is_staff and not carol.is_source_system
    assert not carol.has_usable_password()
    link = ExternalIdentity.objects.get(user=carol)
    assert (link.issuer, link.subject) == (provider.issuer, "sub-carol")
    assert link.last_login is not None
    # The code went with the client secret in Basic auth and the PKCE verifier.
    (token_request,) = provider.token_requests
    assert "client_secret" not in token_request and token_request["code_verifier"]


def test_discovery_and_keys_are_fetched_once(client, sso, provider):
    sso_login(client)
    client.post("/logout/")
    sso_login(client)
    assert logged_in_as(client) == "carol"
    assert provider.hits[DISCOVERY] == 1
    assert provider.hits["/jwks"] == 1
    assert provider.hits["/token"] == 2


def test_next_is_followed_and_an_offsite_next_is_not(client, sso):
    assert sso_login(client, "/sources/")["Location"] == "/sources/"
    client.post("/logout/")
    assert sso_login(client, "https://evil.example/")["Location"] == "/"


def test_returning_identity_follows_its_link_not_its_name(
    client, sso, provider, django_assert_max_num_queries
):
    sso_login(client)
    client.post("/logout/")
    provider.claims["preferred_username"] = "carol-renamed"
    provider.claims["email"] = "carol@new.example.org"
    back = start(client)
    # A constant number: the session's (load, cycle, save), the link and its last login, the
    # source-system check, the profile update, the user's last login.
    with django_assert_max_num_queries(20):
        assert client.get(f"{back.path}?{back.query}").status_code == 302
    assert logged_in_as(client) == "carol"
    assert get_user_model().objects.get(username="carol").email == "carol@new.example.org"
    assert not get_user_model().objects.filter(username="carol-renamed").exists()


def test_staff_group_from_userinfo_sets_and_clears_staff(client, sso, provider):
    provider.userinfo_extra = {"groups": ["noc-admins", "other"]}  # only in userinfo
    sso_login(client)
    assert get_user_model().objects.get(username="carol").is_staff
    client.post("/logout/")
    provider.userinfo_extra = {"groups": ["other"]}
    sso_login(client)
    assert not get_user_model().objects.get(username="carol").is_staff


def test_explicit_endpoints_need_no_discovery(client, sso, provider):
    configure(
        sso,
        authorization_endpoint=provider.issuer + "/authorize",
        token_endpoint=provider.issuer + "/token",
        jwks_uri=provider.issuer + "/jwks",
    )
    sso_login(client)
    assert logged_in_as(client) == "carol"
    assert provider.hits[DISCOVERY] == 0
    assert provider.hits["/userinfo"] == 0  # no userinfo endpoint configured


def test_logout_ends_the_session(client, sso):
    sso_login(client)
    assert logged_in_as(client) == "carol"
    assert client.post("/logout/").status_code == 302
    assert client.get("/")["Location"].startswith("/login/")


def test_turning_sso_off_ends_its_sessions(client, sso):
    sso_login(client)
    sso.OIDC = None
    assert client.get("/")["Location"].startswith("/login/")


# --- refused by the protocol -------------------------------------------------------------------


def test_forged_state_is_refused(client, sso):
    back = start(client)
    query = back.query.replace("state=", "state=forged")
    response = client.get(f"{back.path}?{query}")
    assert response.status_code == 400
    assert "not started here" in alert(response)
    assert logged_in_as(client) is None
    assert not get_user_model().objects.filter(username="carol").exists()


def test_answer_in_another_browser_is_refused(client, sso):
    back = start(client)
    other = type(client)()
    response = other.get(f"{back.path}?{back.query}")
    assert response.status_code == 400
    assert "not started here" in alert(response)


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        ("audience", "issued to another application"),
        ("expired", "the identity token has expired"),
        ("issuer", "comes from another issuer"),
        ("nonce", "does not belong to this sign-in"),
        ("key", "signature is not valid"),
        ("payload", "signature is not valid"),
    ],
)
def test_bad_id_token_is_refused(client, sso, provider, tamper, says):
    provider.tamper = tamper
    response = sso_login(client)
    assert response.status_code == 400
    assert says in alert(response)
    assert "could not be verified" in alert(response)
    assert logged_in_as(client) is None
    assert not ExternalIdentity.objects.exists()
    assert not get_user_model().objects.exists()


def test_provider_refusal_is_shown(client, sso, provider):
    provider.deny = "access_denied"
    response = sso_login(client)
    assert response.status_code == 400
    assert "Local IdP refused the sign-in (access_denied)" in alert(response)


def test_wrong_client_secret_is_refused_and_never_shown_or_logged(client, sso, provider, caplog):
    configure(sso, client_secret="not-the-secret-xyz")
    with caplog.at_level(logging.DEBUG):
        response = sso_login(client)
    assert response.status_code == 400
    assert "(invalid_client)" in alert(response)
    for secret in ("not-the-secret-xyz", provider.client_secret):
        assert secret not in caplog.text
        assert secret.encode() not in response.content
        assert secret not in repr(sso.OIDC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_provider_is_a_clear_502(client, sso):
    configure(sso, issuer=f"http://127.0.0.1:{free_port()}", timeout=2)
    response = client.get("/login/oidc/")
    assert response.status_code == 502
    assert "Local IdP could not be reached" in alert(response)


def test_discovery_naming_another_issuer_is_not_trusted(client, sso, provider):
    configure(sso, issuer=provider.issuer + "/", discovery_url=provider.issuer + DISCOVERY)
    response = client.get("/login/oidc/")
    assert response.status_code == 502


def test_hostile_callbacks_are_answered_not_crashed(client, sso):
    start(client)
    assert client.post("/login/oidc/callback/?code=x&state=y").status_code == 405
    assert client.post("/login/oidc/").status_code == 405
    response = client.get("/login/oidc/callback/", {"error": "<script>x</script>", "state": "s"})
    assert response.status_code == 400
    assert b"<script>x</script>" not in response.content
    assert b"&lt;script&gt;" in response.content
    for query in ["", "?code=", "?state=", "?code=abc&state=%00", "?code=" + "a" * 5000]:
        assert client.get("/login/oidc/callback/" + query).status_code == 400, query
    assert logged_in_as(client) is None


# --- refused by the rules ----------------------------------------------------------------------


def test_identity_outside_the_required_groups_is_refused(client, sso, provider):
    configure(sso, required_groups=frozenset({"fleetwatch-users"}))
    provider.claims["groups"] = ["someone-else"]
    response = sso_login(client)
    assert response.status_code == 403
    assert "not in a group allowed" in alert(response)
    assert not get_user_model().objects.exists()
    client.get("/logout/")
    provider.claims["groups"] = ["fleetwatch-users"]
    assert sso_login(client).status_code == 302


@pytest.mark.parametrize("name", [None, "carol smith", "x" * 151])
def test_missing_or_unusable_user_name_is_refused(client, sso, provider, name):
    provider.claims.pop("preferred_username")
    if name is not None:
        provider.claims["preferred_username"] = name
    response = sso_login(client)
    assert response.status_code == 403
    assert "preferred_username" in alert(response) or "not one Fleetwatch can use" in alert(
        response
    )
    assert not get_user_model().objects.exists()


def test_unknown_user_is_refused_when_creation_is_off(client, sso):
    configure(sso, create_users=False)
    response = sso_login(client)
    assert response.status_code == 403
    assert "no Fleetwatch account for carol" in alert(response)


def test_existing_user_is_linked_by_name_only_when_configured(client, sso, provider, enduser):
    provider.claims.update(sub="sub-alice", preferred_username="alice")
    response = sso_login(client)
    assert response.status_code == 403
    assert "already exists here and is not linked" in alert(response)
    configure(sso, link_existing_users=True)
    assert sso_login(client).status_code == 302
    assert logged_in_as(client) == "alice"
    assert ExternalIdentity.objects.get(subject="sub-alice").user == enduser
    enduser.refresh_from_db()
    assert enduser.has_usable_password()  # linking keeps the password login


def test_name_already_linked_to_another_subject_is_refused(client, sso, provider, enduser):
    configure(sso, link_existing_users=True)
    ExternalIdentity.objects.create(user=enduser, issuer=provider.issuer, subject="sub-old")
    provider.claims.update(sub="sub-new", preferred_username="alice")
    response = sso_login(client)
    assert response.status_code == 403
    assert "linked to another account" in alert(response)


def test_superuser_is_never_linked_by_name(client, sso, provider, superuser):
    configure(sso, link_existing_users=True)
    provider.claims.update(sub="sub-root", preferred_username="root")
    response = sso_login(client)
    assert response.status_code == 403
    assert "superuser" in alert(response)
    assert logged_in_as(client) is None


def test_source_system_user_never_logs_in(client, sso, provider, make_source):
    source = make_source("nav1", "nav")
    configure(sso, link_existing_users=True)
    provider.claims.update(sub="sub-nav", preferred_username=source.user.username)
    response = sso_login(client)
    assert response.status_code == 403
    assert "belongs to a source system" in alert(response)
    # Not even through a link an administrator made.
    ExternalIdentity.objects.create(user=source.user, issuer=provider.issuer, subject="sub-nav")
    response = sso_login(client)
    assert response.status_code == 403
    assert "source system" in alert(response)
    assert logged_in_as(client) is None


def test_disabled_user_is_refused(client, sso):
    sso_login(client)
    client.post("/logout/")
    get_user_model().objects.filter(username="carol").update(is_active=False)
    response = sso_login(client)
    assert response.status_code == 403
    assert "disabled" in alert(response)


# --- password login off -----------------------------------------------------------------------


def test_sso_only_refuses_passwords_everywhere(client, sso, enduser):
    sso.PASSWORD_LOGIN = False
    sso.AUTHENTICATION_BACKENDS = ["fleetwatch.accounts.oidc.OIDCBackend"]
    page = client.get("/login/")
    assert b"Log in with Local IdP" in page.content
    assert b'name="password"' not in page.content
    response = client.post("/login/", {"username": "alice", "password": "secret-pass-123"})
    assert response.status_code == 403
    assert "Password login is turned off" in alert(response)
    assert logged_in_as(client) is None
    admin = client.post(
        "/admin/login/?next=/admin/", {"username": "alice", "password": "secret-pass-123"}
    )
    assert admin.status_code == 200  # the form again, with its error
    assert logged_in_as(client) is None
    api = client.post(
        "/api/v2/token-auth/",
        {"username": "alice", "password": "secret-pass-123"},
        content_type="application/json",
    )
    assert api.status_code == 400
    sso_login(client)
    assert logged_in_as(client) == "carol"


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"client_id": ""}, "CLIENT_ID is required"),
        ({"issuer": "http://idp.example.org"}, "must be an https:// URL"),
        ({"scopes": ("email",)}, "must include openid"),
        ({"token_endpoint": "https://idp.example.org/token"}, "go together"),
        ({"timeout": 0}, "TIMEOUT"),
    ],
)
def test_bad_configuration_is_refused_at_start(changes, says):
    good = {"issuer": "https://idp.example.org", "client_id": "hub", "client_secret": "s"}
    with pytest.raises(ValueError, match=says):
        OIDCConfig(**{**good, **changes})


def test_discovery_url_defaults_to_the_issuers_well_known():
    config = OIDCConfig(issuer="https://idp.example.org/realms/x/", client_id="a", client_secret="")
    assert config.metadata_url == "https://idp.example.org/realms/x" + DISCOVERY
    assert config.uses_discovery


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.slow
def test_round_trip_with_a_real_http_client(live_server, sso):
    with httpx.Client(base_url=live_server.url, follow_redirects=True) as browser:
        page = browser.get("/login/oidc/?next=/account/")
        assert page.status_code == 200
        assert str(page.url) == live_server.url + "/account/"
        assert "Log out carol" in page.text
        token = browser.cookies["csrftoken"]
        out = browser.post("/logout/", data={"csrfmiddlewaretoken": token})
        assert out.url.path == "/login/"
        assert browser.get("/").url.path == "/login/"


@pytest.mark.slow
def test_round_trip_in_chromium(page, live_server, sso):
    page.goto(live_server.url + "/")
    assert "/login/" in page.url
    assert axe_violations(page) == []
    page.get_by_role("button", name="Log in with Local IdP").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("heading", name="Incidents").is_visible()
    page.get_by_role("button", name="Log out carol").click()
    page.wait_for_url("**/login/")
    assert page.get_by_role("button", name="Log in with Local IdP").is_visible()
