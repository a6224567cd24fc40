"""Users (people and source systems alike), their phone numbers and login tokens."""

import hashlib
import hmac
import secrets
import zoneinfo
from datetime import timedelta
from typing import Any

import phonenumbers
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from rest_framework.authtoken.models import Token

INVALID_PHONE_NUMBER = "Enter a valid phone number (e.g. +12125552368)."


def validate_time_zone(value: str) -> None:
    """Refuse anything that is not an IANA time zone name known to this machine."""
    if not value:
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown time zone {value!r}.", code="invalid") from None


class User(AbstractUser):
    """One table for people and machines: a user with a ``source_system`` is a source system."""

    # IANA name (``Europe/Oslo``) the user's notification time slots are read in; blank means
    # ``settings.TIME_ZONE`` (``FLEETWATCH_TIME_ZONE``).
    time_zone = models.CharField(
        max_length=64, blank=True, default="", validators=[validate_time_zone]
    )

    @property
    def is_source_system(self) -> bool:
        return hasattr(self, "source_system")

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        """The zone the user's time slots are evaluated in."""
        return zoneinfo.ZoneInfo(self.time_zone or settings.TIME_ZONE)


class ExternalIdentity(models.Model):
    """A person's identity at an OpenID Connect provider (issuer and subject, which the
    provider never reassigns), linked to the user it logs in as (``fleetwatch.accounts.oidc``).

    Made at the first single sign-on, or by an administrator in the admin; after that the
    login follows this link, whatever the provider's user name claim says by then.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)
    last_login = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="unique_external_identity")
        ]
        verbose_name_plural = "external identities"

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


def normalize_phone_number(value: str) -> str:
    """``value`` in E.164 (``+4790909090``) if it is in a valid number series, else an error.

    Only international numbers are accepted (no default region), so a number means the same
    whoever enters it. Spaces and dashes are fine: ``+47 909 09 090`` is stored as E.164.
    """
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(INVALID_PHONE_NUMBER, code="invalid") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(INVALID_PHONE_NUMBER, code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PhoneNumberField(models.CharField[str, str]):
    """A CharField that holds E.164 numbers; ``to_python`` normalizes, so the admin and
    ``full_clean`` store the same form as the API."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)  # E.164: "+" and at most 15 digits
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        return normalize_phone_number(value)


class PhoneNumber(models.Model):
    """A user's phone number, as Argus API v1 has them (``/api/v1/auth/phone-number/``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_numbers"
    )
    phone_number = PhoneNumberField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.phone_number


@transaction.atomic
def replace_drf_token(user: User) -> Token:
    """Delete ``user``'s DRF token and make a new one: Argus allows one per user.

    The user's row is locked first, so two concurrent replacements queue instead of racing
    into the one-token-per-user constraint. Deleting the old token deletes the login tokens
    derived from it (``LoginToken.drf_token``, cascading); its row is locked before they are
    looked up, so a login token being minted with it at that moment is either seen and
    deleted or refused (``LoginTokenQuerySet.issue`` locks the same row).
    """
    User.objects.select_for_update().filter(pk=user.pk).first()
    list(Token.objects.select_for_update().filter(user=user))
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


class LoginTokenQuerySet(models.QuerySet["LoginToken"]):
    def expired(self) -> "LoginTokenQuerySet":
        return self.filter(expiry__lte=timezone.now())

    @sensitive_variables("key")
    def issue(
        self, user: User, derived_from: "Token | LoginToken | None" = None
    ) -> tuple["LoginToken", str] | None:
        """Create a token for ``user``; return it and its key, which exists nowhere else.

        ``derived_from`` is the token the request asking for it was made with: the new token
        is then revoked with it (rotation, logout, expiry, deletion) and expires no later.
        None if that token is gone by now (revoked meanwhile): its row is locked while the new
        token is created, so a concurrent revocation either waits or has already won.
        The user's expired tokens are dropped on the way, so they cannot pile up.
        """
        expiry = timezone.now() + timedelta(hours=settings.LOGIN_TOKEN_TTL_HOURS)
        links: dict[str, object] = {}
        with transaction.atomic():
            if isinstance(derived_from, Token):
                drf_token = Token.objects.select_for_update().filter(pk=derived_from.pk).first()
                if drf_token is None:
                    return None
                lifetime = timedelta(days=settings.AUTH_TOKEN_EXPIRES_AFTER_DAYS)
                expiry = min(expiry, drf_token.created + lifetime)
                links["drf_token"] = drf_token
            elif isinstance(derived_from, LoginToken):
                parent = LoginToken.objects.select_for_update().filter(pk=derived_from.pk).first()
                if parent is None:
                    return None
                expiry = min(expiry, parent.expiry)
                links["parent"] = parent
            self.filter(user=user).expired().delete()
            key = secrets.token_hex(LoginToken.KEY_LENGTH // 2)
            token = self.create(
                user=user,
                prefix=key[: LoginToken.PREFIX_LENGTH],
                digest=LoginToken.digest_of(key),
                expiry=expiry,
                **links,
            )
        return token, key

    @sensitive_variables("key")
    def find(self, key: str) -> "LoginToken | None":
        """The token whose key is ``key`` (expired or not), compared in constant time."""
        digest = LoginToken.digest_of(key)
        candidates = self.select_related("user").filter(prefix=key[: LoginToken.PREFIX_LENGTH])
        for token in candidates:
            if hmac.compare_digest(token.digest, digest):
                return token
        return None


class LoginToken(models.Model):
    """A knox-style login token (``/api/v2/auth/token/login/``): many per user, each expiring
    ``LOGIN_TOKEN_TTL_HOURS`` after login.

    Only the SHA-256 digest of the 64-hex-character key is stored, with the key's first eight
    characters to find it, so a database dump yields no usable token. The keys are 256 random
    bits, so a fast hash is enough: there is nothing to brute-force.

    A token minted with another token (an empty-body login) records where it came from, and
    goes when that goes: ``drf_token`` for one minted with a DRF token, ``parent`` for one
    minted with a login token (README, "Tokens").
    """

    KEY_LENGTH = 64
    PREFIX_LENGTH = 8

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_tokens"
    )
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    expiry = models.DateTimeField()
    # The user's DRF token at the time, referenced through its one-per-user ``user`` column
    # rather than its key, so that no DRF key is copied here. Deleting that token (rotation,
    # expiry, admin) cascades here, and a later DRF token of the user does not bring it back:
    # tokens minted with the new one are made after the old one is gone.
    drf_token = models.ForeignKey(
        Token,
        to_field="user",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="derived_login_tokens",
        editable=False,
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="derived_login_tokens",
        editable=False,
    )

    objects = LoginTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @staticmethod
    def digest_of(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.expiry <= timezone.now()
