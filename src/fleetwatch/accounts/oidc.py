"""Who an OpenID Connect identity logs in as: the rules, apart from the protocol.

The web console (``fleetwatch.web.oidc``) verifies the provider's answer and hands the claims
here. An identity is followed by its link (``ExternalIdentity``: issuer and subject); at its first
login the user name claim finds or creates the user. The rules that keep that safe:

- a source system's user never logs in this way, whatever links to it;
- an existing user is linked by name only with ``link_existing_users`` on, and never a superuser
  nor a user already linked to another identity at the same provider (a name reused there);
- a created user is an end user: no usable password, not staff unless a staff group says so,
  never a superuser;
- with ``required_groups`` set, an identity outside all of them is refused, linked or not.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from fleetwatch.accounts.models import ExternalIdentity, User
from fleetwatch.accounts.oidcconfig import OIDCConfig

BACKEND = "fleetwatch.accounts.oidc.OIDCBackend"
# User field, claim, longest value kept (the fields' max_length).
_PROFILE_CLAIMS = [
    ("email", "email", 254),
    ("first_name", "given_name", 150),
    ("last_name", "family_name", 150),
]


class OIDCRefused(Exception):
    """A verified identity that may not log in; ``message`` is for the person, ``reason`` for
    the log."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """A verified identity: the issuer, the subject and every claim the provider gave."""

    issuer: str
    subject: str
    claims: Mapping[str, Any]


class OIDCBackend(ModelBackend):
    """Keeps single sign-on sessions (``login(..., backend=BACKEND)``); authenticates nobody by
    credentials. When single sign-on is turned off, its sessions end."""

    def authenticate(self, request: Any, *args: Any, **kwargs: Any) -> None:
        return None

    def get_user(self, user_id: int) -> Any:
        if settings.OIDC is None:
            return None
        return super().get_user(user_id)


def identity_groups(claims: Mapping[str, Any], config: OIDCConfig) -> frozenset[str]:
    """The groups claim as a set: a list of strings, or one string."""
    value = claims.get(config.groups_claim)
    if isinstance(value, str):
        return frozenset([value])
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


def user_for_identity(identity: Identity, config: OIDCConfig) -> User:
    """The user ``identity`` logs in as (created or linked at its first login), its profile and
    staff flag brought up to date from the claims; ``OIDCRefused`` when the rules say no."""
    groups = identity_groups(identity.claims, config)
    if config.required_groups and not groups & config.required_groups:
        raise OIDCRefused(
            f"Your account at {config.provider_name} is not in a group allowed to use "
            "Fleetwatch. Ask an administrator.",
            "not in a required group",
        )
    try:
        with transaction.atomic():
            user = _linked_user(identity, config)
            _check_may_log_in(user, config)
            _update_profile(user, identity.claims, groups, config)
    except IntegrityError:  # a concurrent first login of the same identity or name
        raise OIDCRefused(
            "Another login for the same account was being set up at the same moment. Try again.",
            "concurrent first login",
        ) from None
    return user


def _linked_user(identity: Identity, config: OIDCConfig) -> User:
    link = (
        ExternalIdentity.objects.select_related("user")
        .filter(issuer=identity.issuer, subject=identity.subject)
        .first()
    )
    if link is None:
        user = _first_login_user(identity, config)
        link = ExternalIdentity.objects.create(
            user=user, issuer=identity.issuer, subject=identity.subject, last_login=timezone.now()
        )
    else:
        link.last_login = timezone.now()
        link.save(update_fields=["last_login"])
    return link.user


def _username(claims: Mapping[str, Any], config: OIDCConfig) -> str:
    value = claims.get(config.username_claim)
    if not isinstance(value, str) or not value:
        raise OIDCRefused(
            f"Your account at {config.provider_name} gives no {config.username_claim!r}, which "
            "Fleetwatch uses as the user name. Ask an administrator.",
            f"no {config.username_claim} claim",
        )
    field = User._meta.get_field("username")
    try:
        field.run_validators(value)
    except ValidationError:
        raise OIDCRefused(
            f"Your user name at {config.provider_name} ({value[:150]}) is not one Fleetwatch "
            "can use (at most 150 letters, digits and @ . + - _). Ask an administrator.",
            f"unusable {config.username_claim} claim",
        ) from None
    return value


def _first_login_user(identity: Identity, config: OIDCConfig) -> User:
    username = _username(identity.claims, config)
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        _check_may_link(existing, identity, config)
        return existing
    if not config.create_users:
        raise OIDCRefused(
            f"There is no Fleetwatch account for {username}, and single sign-on does not "
            "create accounts here. Ask an administrator.",
            "unknown user, creation off",
        )
    user = User(username=username)
    user.set_unusable_password()
    user.save()
    return user


def _check_may_link(user: User, identity: Identity, config: OIDCConfig) -> None:
    """Linking by name hands the provider a local account: only when configured, and never a
    source system, a superuser or an account another identity there already uses."""
    refusal = f"An account named {user.username} already exists here"
    if user.is_source_system:
        raise OIDCRefused(f"{refusal}; it belongs to a source system.", "name of a source user")
    if not config.link_existing_users:
        raise OIDCRefused(
            f"{refusal} and is not linked to your account at {config.provider_name}. "
            "Ask an administrator to link it.",
            "existing user, linking off",
        )
    if user.is_superuser:
        raise OIDCRefused(
            f"{refusal}; it is a superuser, which is never linked automatically. "
            "An administrator can link it in the admin (External identities).",
            "existing superuser",
        )
    if user.external_identities.filter(issuer=identity.issuer).exists():
        raise OIDCRefused(
            f"{refusal} and is linked to another account at {config.provider_name}.",
            "existing user linked to another subject",
        )


def _check_may_log_in(user: User, config: OIDCConfig) -> None:
    if user.is_source_system:
        raise OIDCRefused(
            f"Your account at {config.provider_name} is linked to a source system's user, "
            "which cannot log in to the console.",
            "linked to a source user",
        )
    if not user.is_active:
        raise OIDCRefused("This Fleetwatch account is disabled.", "inactive user")


def _update_profile(
    user: User, claims: Mapping[str, Any], groups: frozenset[str], config: OIDCConfig
) -> None:
    """E-mail and names follow the provider; so does the staff flag when staff groups are
    configured (superusers' flags are left alone)."""
    changed = []
    for field, claim, limit in _PROFILE_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value and getattr(user, field) != value[:limit]:
            setattr(user, field, value[:limit])
            changed.append(field)
    if config.staff_groups and not user.is_superuser:
        staff = bool(groups & config.staff_groups)
        if user.is_staff != staff:
            user.is_staff = staff
            changed.append("is_staff")
    if changed:
        user.save(update_fields=changed)
