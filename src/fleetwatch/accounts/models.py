"""Users (people and source systems alike), their phone numbers and login tokens."""

import hashlib
import hmac
import secrets
import zoneinfo
from datetime import timedelta

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


class PhoneNumberField(models.CharField):
    """A CharField that holds E.164 numbers; ``to_python`` normalizes, so the admin and
    ``full_clean`` store the same form as the API."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 20)  # E.164: "+" and at most 15 digits
        super().__init__(*args, **kwargs)

    def to_python(self, value):
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
    into the one-token-per-user constraint.
    """
    User.objects.select_for_update().filter(pk=user.pk).first()
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


class LoginTokenQuerySet(models.QuerySet):
    def expired(self) -> "LoginTokenQuerySet":
        return self.filter(expiry__lte=timezone.now())

    @sensitive_variables("key")
    def issue(self, user: User) -> tuple["LoginToken", str]:
        """Create a token for ``user``; return it and its key, which exists nowhere else.

        The user's expired tokens are dropped on the way, so they cannot pile up.
        """
        self.filter(user=user).expired().delete()
        key = secrets.token_hex(LoginToken.KEY_LENGTH // 2)
        token = self.create(
            user=user,
            prefix=key[: LoginToken.PREFIX_LENGTH],
            digest=LoginToken.digest_of(key),
            expiry=timezone.now() + timedelta(hours=settings.LOGIN_TOKEN_TTL_HOURS),
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
