from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from fleetwatch.api.serializers import StrictFieldsMixin
from fleetwatch.connectors.models import Connector
from fleetwatch.connectors.options import OptionsError, clean_options
from fleetwatch.connectors.services import (
    connector_health,
    create_connector,
    validate_base_url,
    validate_credentials,
)


class ConnectorSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """Credentials are write-only: accepted on create and update, never returned."""

    credentials = serializers.JSONField(write_only=True)
    source = serializers.IntegerField(source="source_id", read_only=True)
    health = serializers.SerializerMethodField()

    class Meta:
        model = Connector
        fields = [
            "pk",
            "name",
            "vendor",
            "base_url",
            "poll_interval",
            "enabled",
            "options",
            "credentials",
            "source",
            "health",
        ]

    def get_health(self, connector: Connector) -> dict:
        return connector_health(connector)

    def validate_base_url(self, value):
        try:
            return validate_base_url(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["base_url"]) from None

    def validate_options(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        return value

    def validate(self, attrs):
        if self.instance is not None:
            for name in ("name", "vendor"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError(
                        {name: ["Cannot be changed; add a new connector."]}
                    )
        vendor = attrs.get("vendor") or getattr(self.instance, "vendor", None)
        if "options" in attrs:
            try:
                attrs["options"] = clean_options(vendor, attrs["options"])
            except OptionsError as exc:
                # {"options": {"rate_limit": ["..."], "retry": ["..."]}}: each option named.
                raise serializers.ValidationError({"options": exc.errors}) from None
        if "credentials" in attrs:
            try:
                attrs["credentials"] = validate_credentials(vendor, attrs["credentials"])
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from None
        return attrs

    def create(self, validated_data):
        try:
            return create_connector(**validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None

    def update(self, instance, validated_data):
        credentials = validated_data.pop("credentials", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if credentials is not None:
            instance.credentials = credentials
        instance.save()
        return instance
