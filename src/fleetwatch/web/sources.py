"""Sources and connectors: every source with last seen; connectors with their health, and
(staff only, as in the API) add, edit, enable/disable, test and sync now.

Credentials are written once: the forms never show them back, and an edit that leaves them
blank keeps the stored ones.
"""

import json

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fleetwatch.connectors import services
from fleetwatch.connectors.models import Connector, Vendor
from fleetwatch.connectors.tasks import run_now
from fleetwatch.incidents.models import SourceSystem
from fleetwatch.web.http import AuthedRequest, field_errors

CREDENTIAL_FIELDS = sorted(
    {name for names in services.REQUIRED_CREDENTIALS.values() for name in names}
)
SECRET_FIELDS = {"client_secret", "password"}


@login_required
@require_GET
def source_list(request: AuthedRequest) -> HttpResponse:
    sources = SourceSystem.objects.select_related("type").order_by("name")
    connectors = []
    if request.user.is_staff:
        for connector in Connector.objects.select_related("source", "state").order_by("name"):
            connectors.append((connector, services.connector_health(connector)))
    return render(request, "web/sources.html", {"sources": sources, "connectors": connectors})


def _credentials(request: AuthedRequest) -> dict:
    return {
        name: request.POST.get(f"cred_{name}", "")
        for name in CREDENTIAL_FIELDS
        if request.POST.get(f"cred_{name}", "")
    }


def _options(request: AuthedRequest) -> dict | None:
    raw = request.POST.get("options", "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValidationError({"options": ["Enter a JSON object."]}) from None
    return value


def _interval(request: AuthedRequest) -> int | None:
    raw = request.POST.get("poll_interval", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({"poll_interval": ["Enter a whole number of seconds."]}) from None


def _form(request, connector, errors, status=200):
    """The add/edit form: what was posted, else the connector's values (never credentials)."""
    values = {"poll_interval": 60, "enabled": True}
    if connector is not None:
        values.update(
            base_url=connector.base_url,
            poll_interval=connector.poll_interval,
            enabled=connector.enabled,
            options=json.dumps(connector.options) if connector.options else "",
        )
    if request.method == "POST":
        values.update({k: request.POST.get(k, "") for k in ("name", "vendor", "base_url")})
        values.update(
            poll_interval=request.POST.get("poll_interval", ""),
            enabled=request.POST.get("enabled") == "on",
            options=request.POST.get("options", ""),
        )
    return render(
        request,
        "web/connector_form.html",
        {
            "connector": connector,
            "errors": errors,
            "vendors": Vendor.choices,
            "credential_fields": [(n, n in SECRET_FIELDS) for n in CREDENTIAL_FIELDS],
            "required": services.REQUIRED_CREDENTIALS,
            "values": values,
        },
        status=status,
    )


@staff_member_required(login_url="web:login")
@require_http_methods(["GET", "POST"])
def connector_add(request: AuthedRequest) -> HttpResponse:
    if request.method == "GET":
        return _form(request, None, {})
    try:
        connector = services.create_connector(
            name=request.POST.get("name", "").strip(),
            vendor=request.POST.get("vendor", ""),
            base_url=request.POST.get("base_url", "").strip(),
            credentials=_credentials(request),
            poll_interval=_interval(request) or 60,
            enabled=request.POST.get("enabled") == "on",
            options=_options(request),
        )
    except ValidationError as exc:
        return _form(request, None, field_errors(exc), status=400)
    messages.success(request, f"Connector {connector.name} added.")
    return redirect("web:sources")


def _connector(pk: int) -> Connector:
    try:
        return Connector.objects.get(pk=pk)
    except Connector.DoesNotExist:
        raise Http404("No such connector.") from None


@staff_member_required(login_url="web:login")
@require_http_methods(["GET", "POST"])
def connector_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    connector = _connector(pk)
    if request.method == "GET":
        return _form(request, connector, {})
    credentials = _credentials(request)
    try:
        services.update_connector(
            connector,
            base_url=request.POST.get("base_url", "").strip() or None,
            poll_interval=_interval(request),
            enabled=request.POST.get("enabled") == "on",
            credentials=credentials or None,
            options=_options(request),
        )
    except ValidationError as exc:
        connector.refresh_from_db()
        return _form(request, connector, field_errors(exc), status=400)
    messages.success(request, f"Connector {connector.name} saved.")
    return redirect("web:sources")


@staff_member_required(login_url="web:login")
@require_POST
def connector_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    """enable, disable, sync (due now), test (one cheap vendor call, at most 10 s)."""
    connector = _connector(pk)
    if action in ("enable", "disable"):
        services.update_connector(connector, enabled=action == "enable")
        messages.success(request, f"Connector {connector.name} {action}d.")
    elif action == "sync":
        run_now(connector)
        messages.success(request, f"Connector {connector.name}: a poll is due now.")
    elif action == "test":
        try:
            seen, requests = services.check_connector(connector)
        except services.CheckFailed as exc:
            detail = f" {exc.options}" if exc.options else ""
            messages.error(request, f"Test of {connector.name} failed ({exc.kind}): {exc}{detail}")
        else:
            summary = ", ".join(f"{k}: {v}" for k, v in seen.items())
            messages.success(
                request, f"Test of {connector.name} passed in {requests} request(s). {summary}"
            )
    else:
        raise Http404("No such action.")
    return redirect("web:sources")
