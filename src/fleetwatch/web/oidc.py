"""Single sign-on with OpenID Connect: the authorization code flow, through Authlib.

``login_start`` sends the browser to the provider (state, nonce and a PKCE verifier kept in the
session); ``callback`` takes the code back, exchanges it for tokens and has Authlib verify the
ID token — signature against the provider's JWKS, issuer, audience (our client id), expiry,
nonce. The claims (and the userinfo endpoint's, when there is one) then go to
``fleetwatch.accounts.oidc``, which says who they log in as. Every failure is the login page
with a message saying what went wrong (never a 500, never a token in it or in the log).

One Authlib client per configuration and process; it fetches the provider's discovery document
at its first use, keeps it, and fetches the JWKS again when a token names an unknown key.
"""

import functools
import logging
from typing import Any

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App
from django.conf import settings
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError

from fleetwatch.accounts.oidc import BACKEND, Identity, OIDCRefused, user_for_identity
from fleetwatch.accounts.oidcconfig import OIDCConfig
from fleetwatch.web.login import login_page

logger = logging.getLogger(__name__)

NEXT_KEY = "oidc_next"
# The provider did not answer, or not as a provider should (a page, bad JSON, a missing field).
PROVIDER_ERRORS = (requests.RequestException, ValueError, KeyError, RuntimeError)
_CLAIM_PROBLEMS = {
    "aud": "it was issued to another application",
    "azp": "it was issued to another application",
    "iss": "it comes from another issuer",
    "nonce": "it does not belong to this sign-in",
}


class ProviderMisconfigured(RuntimeError):
    """The discovery document names another issuer than the one configured."""


def enabled_config() -> OIDCConfig:
    """The configuration; a 404 when single sign-on is off (its routes do not exist then)."""
    if settings.OIDC is None:
        raise Http404("Single sign-on is not configured.")
    config: OIDCConfig = settings.OIDC
    return config


@functools.lru_cache(maxsize=4)
def oauth_client(config: OIDCConfig) -> Any:
    """Authlib's client for ``config`` (its discovery document loaded at first use)."""
    metadata = {
        key: value
        for key, value in {
            "issuer": config.issuer,
            "jwks_uri": config.jwks_uri,
            "userinfo_endpoint": config.userinfo_endpoint,
        }.items()
        if value
    }
    return DjangoOAuth2App(
        DjangoIntegration("oidc"),
        name="oidc",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=config.metadata_url if config.uses_discovery else None,
        authorize_url=config.authorization_endpoint or None,
        access_token_url=config.token_endpoint or None,
        client_kwargs={
            "scope": " ".join(config.scopes),
            "code_challenge_method": "S256",
            "default_timeout": config.timeout,
        },
        **metadata,
    )


def _client(config: OIDCConfig) -> Any:
    """The client, its provider metadata loaded and checked: a discovery document must name the
    configured issuer (OpenID Connect Discovery 1.0, 4.3), or nothing it says is trusted."""
    client = oauth_client(config)
    issuer = client.load_server_metadata().get("issuer")
    if issuer != config.issuer:
        oauth_client.cache_clear()  # load it again next time: the provider may be fixed by then
        raise ProviderMisconfigured(f"discovery names issuer {issuer!r}, not {config.issuer!r}")
    return client


def _redirect_uri(request: HttpRequest, config: OIDCConfig) -> str:
    return config.redirect_uri or request.build_absolute_uri(reverse("web:oidc-callback"))


def _safe_next(request: HttpRequest, value: str) -> str:
    allowed = url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return value if allowed else ""


@require_GET
def login_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the provider's authorization endpoint."""
    config = enabled_config()
    request.session[NEXT_KEY] = _safe_next(request, request.GET.get("next", ""))
    try:
        client = _client(config)
        response: HttpResponse = client.authorize_redirect(request, _redirect_uri(request, config))
    except PROVIDER_ERRORS as exc:
        return _unavailable(request, config, exc)
    return response


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """Verify the provider's answer, log the person in and go where the login started."""
    config = enabled_config()
    try:
        identity = _verified_identity(request, config)
    except MismatchingStateError:
        logger.warning("OIDC login refused: unknown or expired state")
        message = "This sign-in was not started here, or it took too long. Please try again."
        return login_page(request, sso_error=message, status=400)
    except OAuthError as exc:
        logger.warning("OIDC login refused by the provider: %s", exc.error)
        message = f"{config.provider_name} refused the sign-in ({exc.error})."
        return login_page(request, sso_error=message, status=400)
    except JoseError as exc:
        logger.warning("OIDC login refused: ID token %s (%s)", exc.error, exc.description)
        message = f"The answer from {config.provider_name} could not be verified: {_problem(exc)}."
        return login_page(request, sso_error=message, status=400)
    except PROVIDER_ERRORS as exc:
        return _unavailable(request, config, exc)
    try:
        user = user_for_identity(identity, config)
    except OIDCRefused as exc:
        logger.warning("OIDC login refused for %s: %s", identity.subject, exc.reason)
        return login_page(request, sso_error=exc.message, status=403)
    login(request, user, backend=BACKEND)
    logger.info("OIDC login of %s (subject %s)", user.username, identity.subject)
    return redirect(request.session.pop(NEXT_KEY, "") or resolve_url(settings.LOGIN_REDIRECT_URL))


def _verified_identity(request: HttpRequest, config: OIDCConfig) -> Identity:
    client = _client(config)
    claims_options = {
        "iss": {"essential": True, "value": config.issuer},
        "aud": {"essential": True, "value": config.client_id},
    }
    token = client.authorize_access_token(request, claims_options=claims_options)
    claims = dict(token.get("userinfo") or {})
    if not claims:
        raise OAuthError(error="no_id_token", description="the token answer had no ID token")
    if client.load_server_metadata().get("userinfo_endpoint"):
        userinfo = client.userinfo(token=token)
        if userinfo.get("sub") != claims["sub"]:  # OpenID Connect Core 1.0, 5.3.2
            raise OAuthError(error="userinfo_mismatch", description="userinfo is another sub")
        claims = {**userinfo, **claims}  # the signed ID token's claims win
    return Identity(issuer=config.issuer, subject=str(claims["sub"]), claims=claims)


def _problem(exc: JoseError) -> str:
    if isinstance(exc, ExpiredTokenError):
        return "the identity token has expired"
    if isinstance(exc, BadSignatureError):
        return "the identity token's signature is not valid"
    if isinstance(exc, ClaimError):
        why = _CLAIM_PROBLEMS.get(exc.claim, "missing or invalid")
        return f"the identity token's {exc.claim!r} is wrong ({why})"
    return "the identity token is not valid"


def _unavailable(request: HttpRequest, config: OIDCConfig, exc: Exception) -> HttpResponse:
    logger.warning("OIDC provider unavailable: %s: %s", type(exc).__name__, exc)
    message = (
        f"{config.provider_name} could not be reached, or did not answer as expected. "
        "Please try again later."
    )
    return login_page(request, sso_error=message, status=502)
