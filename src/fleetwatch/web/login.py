"""The console's login page: Django's password login and, when configured, single sign-on.

With ``FLEETWATCH_PASSWORD_LOGIN=false`` the page offers single sign-on only and refuses a
posted password (there is no password backend then either, so the admin and the API's
token-auth refuse them too).
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

PASSWORD_LOGIN_OFF = "Password login is turned off here; log in with {provider}."


def sso_context() -> dict[str, Any]:
    """What the login template needs to know about single sign-on and password login."""
    config = settings.OIDC
    return {
        "sso_provider": config.provider_name if config is not None else "",
        "password_login": settings.PASSWORD_LOGIN,
    }


def login_page(request: HttpRequest, sso_error: str, status: int) -> HttpResponse:
    """The login page showing why a single sign-on did not log anyone in."""
    context = {
        "form": AuthenticationForm(request),
        "next": request.session.get("oidc_next", ""),  # where the failed sign-in was headed
        "sso_error": sso_error,
        **sso_context(),
    }
    return render(request, "web/login.html", context, status=status)


class ConsoleLoginView(LoginView):
    """Django's login view with the single sign-on button, and password login switchable."""

    template_name = "web/login.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **sso_context()}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if settings.PASSWORD_LOGIN:
            return super().post(request, *args, **kwargs)
        provider = settings.OIDC.provider_name if settings.OIDC is not None else ""
        context = self.get_context_data(sso_error=PASSWORD_LOGIN_OFF.format(provider=provider))
        return self.render_to_response(context, status=403)
