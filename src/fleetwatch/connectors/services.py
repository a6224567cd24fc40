"""Creating, changing, resetting and deleting connectors: shared by the CLI, the API, the
admin and the demo."""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fleetwatch.connectors.addresses import ForbiddenAddress, check_base_url
from fleetwatch.connectors.engine import (
    Deadline,
    DeadlineExceeded,
    build,
    limiter_key,
    public_error,
)
from fleetwatch.connectors.http import VendorError
from fleetwatch.connectors.models import (
    HEALTH_ID,
    Connector,
    ConnectorState,
    RateLimitSlot,
    Vendor,
)
from fleetwatch.connectors.options import OptionsError, clean_options
from fleetwatch.connectors.secrets import SecretError
from fleetwatch.incidents.events import post_event
from fleetwatch.incidents.models import Event, Incident, SourceSystem
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


def validate_base_url(url: str) -> str:
    """``url`` if the hub may poll a vendor there; ValidationError on ``base_url`` naming why
    not (link-local and cloud metadata addresses never; loopback and private ones only with
    ``FLEETWATCH_CONNECTOR_ALLOW_PRIVATE``). Checked again on every connection."""
    try:
        check_base_url(url)
    except ForbiddenAddress as exc:
        raise ValidationError({"base_url": [str(exc)]}) from None
    return url


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
    validate_base_url(base_url)
    with transaction.atomic():
        connector.source = orphaned_source(name, vendor) or create_source(
            name, vendor, username=f"connector-{name}", create_type=True
        )
        connector.save()
        ConnectorState.objects.create(connector=connector)
    return connector


def orphaned_source(name: str, vendor: str) -> SourceSystem | None:
    """The source a deleted connector of this name and vendor left behind: a connector added
    again under its old name carries on with its old incidents."""
    return (
        SourceSystem.objects.filter(
            name=name,
            type__name=vendor,
            connector__isnull=True,
            user__username__startswith="connector-",
        )
        .select_related("user")
        .first()
    )


DELETED_NOTE = "Closed because connector {name} was deleted."


def delete_connector(connector: Connector) -> None:
    """Delete a connector, its poll state and its device records. Its source system and every
    incident stay (history is never deleted with a connector); its open health incident is
    ended, since nothing would end it any more. A poll in flight stores nothing."""
    with transaction.atomic():
        health = Incident.objects.open().filter(
            source=connector.source_id, source_incident_id__startswith=f"{HEALTH_ID}:"
        )
        for incident in health.select_related("source__user"):
            post_event(
                incident,
                incident.source.user,
                Event.Type.INCIDENT_END,
                timezone.now(),
                DELETED_NOTE.format(name=connector.name),
            )
        connector.delete()
    log.info(
        "connector %s deleted; source %s and its incidents kept",
        connector.name,
        connector.source_id,
    )


RESET_NOTE = (
    "Closed when the connector was reset: its vendor started over and will never report "
    "this incident's end. Problems still current are reported again by the first polls."
)


def reset_connector(
    connector: Connector, stale_limiter_keys: Iterable[str] = (), note: str = RESET_NOTE
) -> int:
    """Forget everything a connector knew of its vendor, for a vendor that started over (the
    demo's emulators start a new timeline, clock, incidents and tokens on every run).

    Its bookmarks would point into the new vendor's future, its cached tokens are refused,
    its rate-limit slot and any lease a killed worker held would only delay the first poll:
    all cleared, so the first poll reads like a first poll (MetaAccess does a full resync).
    The open incidents the old vendor will never end are closed with an END event saying
    ``note``. Incident history and device records are kept. Returns how many were closed.
    """
    now = timezone.now()
    source = connector.source
    closed = 0
    with transaction.atomic():
        ConnectorState.objects.update_or_create(
            connector=connector,
            defaults={
                "bookmarks": {},
                "auth_cache_encrypted": "",
                "lease_owner": "",
                "lease_expires_at": None,
                "next_run_at": None,
                "consecutive_failures": 0,
            },
        )
        keys = {key[:200] for key in [*stale_limiter_keys, limiter_key(connector)]}
        RateLimitSlot.objects.filter(key__in=keys).delete()
        for incident in Incident.objects.open().filter(source=source):
            post_event(incident, source.user, Event.Type.INCIDENT_END, now, note)
            closed += 1
    return closed


def connector_health(connector: Connector) -> dict:
    """What the admin, API, CLI and logs show of a connector's health.

    Reads ``connector.state`` (lists ``select_related("state")`` it: no query per connector)
    and writes nothing: a connector that never ran shows an empty state."""
    try:
        state = connector.state
    except ConnectorState.DoesNotExist:
        state = ConnectorState(connector=connector)
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
    we have), ``"vendor"`` (the vendor call failed or answered unexpectedly) or ``"timeout"``
    (the vendor kept failing past ``CONNECTOR_TEST_DEADLINE``)."""

    def __init__(self, kind: str, message: str, options: dict | None = None) -> None:
        super().__init__(message)
        self.kind, self.options = kind, options


def check_connector(connector: Connector) -> tuple[dict, int]:
    """Log in and make the vendor's one cheap call (``connector test``, ``POST <pk>/test/``):
    what it saw and the requests it took. Raises CheckFailed, never anything else.

    The whole check fits in ``CONNECTOR_TEST_DEADLINE`` seconds (10): a web request must not
    wait out a failing vendor's full retry schedule. Errors are summarised (``public_error``),
    never the vendor's raw answer."""
    try:
        vendor = build(connector, {}, deadline=Deadline(settings.CONNECTOR_TEST_DEADLINE))
    except OptionsError as exc:
        raise CheckFailed("options", str(exc), exc.errors) from None
    except SecretError as exc:
        raise CheckFailed("credentials", str(exc)) from None
    try:
        seen = vendor.check()
    except DeadlineExceeded as exc:
        raise CheckFailed("timeout", str(exc)) from None
    except VendorError as exc:
        raise CheckFailed("vendor", public_error(exc)) from None
    except Exception as exc:  # an answer the vendor module did not expect
        log.exception("connector %s: test failed unexpectedly", connector.name)
        raise CheckFailed("vendor", f"unexpected answer ({type(exc).__name__})") from None
    finally:
        vendor.http.close()
    return seen, vendor.http.requests


def update_connector(
    connector: Connector,
    *,
    base_url: str | None = None,
    poll_interval: int | None = None,
    enabled: bool | None = None,
    credentials: dict | None = None,
    options: dict | None = None,
) -> Connector:
    """Change what may change of a connector (its name and vendor may not: add a new one);
    None leaves a field as it is. Credentials are replaced whole, checked as on creation.
    Enabling a connector makes it due at once. Raises ValidationError naming the field."""
    if base_url is not None:
        connector.base_url = validate_base_url(base_url)
    if poll_interval is not None:
        connector.poll_interval = poll_interval
    if options is not None:
        connector.options = validate_options(connector.vendor, options)
    if credentials is not None:
        connector.credentials = validate_credentials(connector.vendor, credentials)
    was_enabled = connector.enabled
    if enabled is not None:
        connector.enabled = enabled
    connector.full_clean(exclude=["source", "credentials_encrypted"])
    with transaction.atomic():
        connector.save()
        if connector.enabled and not was_enabled:
            ConnectorState.objects.update_or_create(
                connector=connector, defaults={"next_run_at": None}
            )
    return connector
