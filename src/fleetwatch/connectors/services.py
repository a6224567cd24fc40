"""Creating and changing connectors: shared by the CLI, the API and the admin."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from fleetwatch.connectors.engine import build
from fleetwatch.connectors.http import VendorError
from fleetwatch.connectors.models import Connector, ConnectorState, Vendor
from fleetwatch.connectors.options import OptionsError, clean_options
from fleetwatch.connectors.secrets import SecretError
from fleetwatch.incidents.sources import create_source

log = logging.getLogger("fleetwatch.connectors")

REQUIRED_CREDENTIALS = {
    "7signal": ("client_id", "client_secret"),
    "metaaccess": ("client_id", "client_secret"),
    "sensaphone": ("user_name", "password"),
}


def validate_credentials(vendor: str | None, credentials: object) -> dict:
    """The credentials a vendor needs, exactly; ValidationError on ``credentials`` otherwise
    (or on ``vendor`` when there is no valid vendor to check them against)."""
    if vendor not in REQUIRED_CREDENTIALS:
        raise ValidationError({"vendor": [f"Choose one of {', '.join(REQUIRED_CREDENTIALS)}."]})
    if not isinstance(credentials, dict):
        raise ValidationError({"credentials": ["Expected a JSON object."]})
    needed = REQUIRED_CREDENTIALS[vendor]
    missing = [name for name in needed if not credentials.get(name)]
    if missing:
        raise ValidationError(
            {
                "credentials": [
                    f"{vendor} credentials need {', '.join(needed)}; missing {', '.join(missing)}."
                ]
            }
        )
    unknown = sorted(set(credentials) - set(needed))
    if unknown:
        raise ValidationError(
            {"credentials": [f"Unknown credential field(s): {', '.join(unknown)}."]}
        )
    if not all(isinstance(credentials[n], str) for n in needed):
        raise ValidationError({"credentials": ["Credential values must be strings."]})
    return {name: credentials[name] for name in needed}


def validate_options(vendor: str | None, options: object) -> dict:
    """``options`` checked for the vendor; ValidationError on ``options`` with one
    "key: message" line per bad option."""
    try:
        return clean_options(vendor, options)
    except OptionsError as exc:
        raise ValidationError({"options": exc.messages}) from None


def create_connector(
    *,
    name: str,
    vendor: str,
    base_url: str,
    credentials: dict,
    poll_interval: int = 60,
    enabled: bool = True,
    options: dict | None = None,
) -> Connector:
    """A connector with its own source system (type = vendor name) and a fresh state."""
    if vendor not in Vendor.values:
        raise ValidationError({"vendor": [f'"{vendor}" is not one of {", ".join(Vendor.values)}.']})
    connector = Connector(
        name=name,
        vendor=vendor,
        base_url=base_url,
        poll_interval=poll_interval,
        enabled=enabled,
        options=validate_options(vendor, options),
    )
    connector.credentials = validate_credentials(vendor, credentials)
    connector.full_clean(exclude=["source", "credentials_encrypted"])
    with transaction.atomic():
        connector.source = create_source(
            name, vendor, username=f"connector-{name}", create_type=True
        )
        connector.save()
        ConnectorState.objects.create(connector=connector)
    return connector


def connector_health(connector: Connector) -> dict:
    """What the admin, API, CLI and logs show of a connector's health."""
    state, _ = ConnectorState.objects.get_or_create(connector=connector)
    return {
        "enabled": connector.enabled,
        "poll_interval": connector.poll_interval,
        "last_success": state.last_success_at.isoformat() if state.last_success_at else None,
        "last_error": state.last_error or None,
        "last_error_at": state.last_error_at.isoformat() if state.last_error_at else None,
        "consecutive_failures": state.consecutive_failures,
        "next_run": state.next_run_at.isoformat() if state.next_run_at else "due",
        "requests_total": state.requests_total,
        "last_poll": state.last_poll_summary,
    }


class CheckFailed(Exception):
    """``check_connector`` could not finish. ``kind``: ``"options"`` (the stored options are
    bad; ``options`` names each), ``"credentials"`` (they cannot be decrypted with the keys
    we have) or ``"vendor"`` (the vendor call failed or answered unexpectedly)."""

    def __init__(self, kind: str, message: str, options: dict | None = None) -> None:
        super().__init__(message)
        self.kind, self.options = kind, options


def check_connector(connector: Connector) -> tuple[dict, int]:
    """Log in and make the vendor's one cheap call (``connector test``, ``POST <pk>/test/``):
    what it saw and the requests it took. Raises CheckFailed, never anything else."""
    try:
        vendor = build(connector, {})
    except OptionsError as exc:
        raise CheckFailed("options", str(exc), exc.errors) from None
    except SecretError as exc:
        raise CheckFailed("credentials", str(exc)) from None
    try:
        seen = vendor.check()
    except VendorError as exc:
        raise CheckFailed("vendor", str(exc)) from None
    except Exception as exc:  # an answer the vendor module did not expect
        log.exception("connector %s: test failed unexpectedly", connector.name)
        raise CheckFailed("vendor", f"unexpected answer ({type(exc).__name__})") from None
    finally:
        vendor.http.close()
    return seen, vendor.http.requests
