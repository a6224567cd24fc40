"""Account: the user's API tokens (create, revoke), phone numbers and time zone.

A token's key is shown once, on the page that creates it, and never again (login tokens are
stored as digests; the DRF token's key is not shown back either).
"""

import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from fleetwatch.accounts.models import LoginToken, PhoneNumber, replace_drf_token
from fleetwatch.web.http import AuthedRequest, field_errors


def _page(request: AuthedRequest, new_key: str = "", errors: dict | None = None, status: int = 200):
    user = request.user
    return render(
        request,
        "web/account.html",
        {
            "login_tokens": LoginToken.objects.filter(user=user),
            "drf_token": Token.objects.filter(user=user).first(),
            "phone_numbers": PhoneNumber.objects.filter(user=user),
            "time_zones": sorted(zoneinfo.available_timezones()),
            "new_key": new_key,
            "errors": errors or {},
        },
        status=status,
    )


@login_required
@require_GET
def account(request: AuthedRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def token_create(request: AuthedRequest) -> HttpResponse:
    """A new login token (``LOGIN_TOKEN_TTL_HOURS``) or, ``kind=drf``, a new DRF token
    replacing the old one; the key is shown on this answer only."""
    if request.POST.get("kind") == "drf":
        key = replace_drf_token(request.user).key
    else:
        issued = LoginToken.objects.issue(request.user)
        assert issued is not None  # only None when derived from a revoked token
        key = issued[1]
    response = _page(request, new_key=key)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: AuthedRequest, pk: str) -> HttpResponse:
    """Revoke one of the user's login tokens (``pk``) or, ``pk=drf``, the DRF token (its
    derived login tokens go with it)."""
    if pk == "drf":
        deleted, _ = Token.objects.filter(user=request.user).delete()
    else:
        deleted, _ = LoginToken.objects.filter(user=request.user, pk=pk).delete()
    if not deleted:
        raise Http404("No such token.")
    messages.success(request, "Token revoked.")
    return redirect("web:account")


@login_required
@require_POST
def phone_add(request: AuthedRequest) -> HttpResponse:
    number = PhoneNumber(user=request.user, phone_number=request.POST.get("phone_number", ""))
    try:
        number.full_clean()
    except ValidationError as exc:
        return _page(request, errors=field_errors(exc), status=400)
    number.save()
    messages.success(request, f"Phone number {number.phone_number} added.")
    return redirect("web:account")


@login_required
@require_POST
def phone_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    number = PhoneNumber.objects.filter(user=request.user, pk=pk).first()
    if number is None:
        raise Http404("No such phone number.")
    number.delete()
    messages.success(request, "Phone number removed.")
    return redirect("web:account")


@login_required
@require_POST
def time_zone(request: AuthedRequest) -> HttpResponse:
    user = request.user
    user.time_zone = request.POST.get("time_zone", "").strip()
    try:
        user.full_clean(validate_unique=False)
    except ValidationError as exc:
        user.refresh_from_db()
        return _page(request, errors=field_errors(exc), status=400)
    user.save(update_fields=["time_zone"])
    messages.success(request, f"Time zone set to {user.time_zone or 'the hub default'}.")
    return redirect("web:account")
