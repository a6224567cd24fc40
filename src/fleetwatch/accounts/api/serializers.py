"""Shapes of the auth endpoints, as Argus's API v1 and v2 have them."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from fleetwatch.accounts.models import PhoneNumber, User, normalize_phone_number
from fleetwatch.api.serializers import StrictFieldsMixin


class PhoneNumberField(serializers.CharField):
    """A phone number in a valid number series, returned in E.164 form."""

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        try:
            return normalize_phone_number(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code="invalid") from None


class PhoneNumberSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """``{"pk", "user", "phone_number"}``; ``pk`` and ``user`` in input are ignored (Argus's
    examples send ``pk``), the owner is always the requesting user."""

    phone_number = PhoneNumberField()

    class Meta:
        model = PhoneNumber
        fields = ["pk", "user", "phone_number"]
        read_only_fields = ["pk", "user"]


class BasicUserSerializer(serializers.ModelSerializer):
    """Another user, as anyone logged in may see them."""

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email"]
        read_only_fields = fields


class CurrentUserSerializer(BasicUserSerializer):
    """The requesting user; ``admin_url`` is the admin site's path for staff, else null."""

    admin_url = serializers.SerializerMethodField()

    class Meta(BasicUserSerializer.Meta):
        fields = [*BasicUserSerializer.Meta.fields, "admin_url"]
        read_only_fields = fields

    def get_admin_url(self, user: User) -> str | None:
        return reverse("admin:index") if user.is_staff else None


class CurrentUserSerializerV1(CurrentUserSerializer):
    """API v1 also lists the user's phone numbers."""

    phone_numbers = PhoneNumberSerializer(many=True, read_only=True)

    class Meta(CurrentUserSerializer.Meta):
        fields = [*CurrentUserSerializer.Meta.fields, "phone_numbers"]
        read_only_fields = fields


class CredentialsSerializer(StrictFieldsMixin, AuthTokenSerializer):
    """``{"username", "password"}``; DRF's checks and messages, unknown keys rejected."""


class TokenSerializer(serializers.Serializer):
    """``{"token"}``: a DRF token (40 hex characters)."""

    token = serializers.CharField(read_only=True)


class LoginTokenSerializer(serializers.Serializer):
    """``{"expiry", "token"}``: a login token (64 hex characters), shown only this once."""

    expiry = serializers.DateTimeField(read_only=True)
    token = serializers.CharField(read_only=True)


class EmptySerializer(StrictFieldsMixin, serializers.Serializer):
    """A body with nothing in it (``{}`` or none); any key is an unknown field."""
