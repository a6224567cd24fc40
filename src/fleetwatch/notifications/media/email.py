"""E-mail: settings ``{"email_address"}``."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from fleetwatch.notifications.media.base import Medium, require_object, required_string


class EmailMedium(Medium):
    slug = "email"
    name = "Email"
    address_field = "email_address"
    json_schema = {
        "title": "Email Settings",
        "description": "Settings for a DestinationConfig using email.",
        "type": "object",
        "required": ["email_address"],
        "properties": {
            "email_address": {"type": "string", "title": "Email address", "format": "email"}
        },
        "additionalProperties": False,
    }

    def clean_settings(self, settings: Any) -> dict[str, Any]:
        settings = require_object(settings, {"email_address"})
        address = required_string(settings, "email_address")
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"email_address": ["Enter a valid email address."]}) from None
        return {"email_address": address}

    def send(self, message: dict[str, Any], settings: dict[str, Any]) -> str:
        """SMTP (``EMAIL_URL``), text and HTML parts; returns the Message-ID."""
        from fleetwatch.notifications.senders import send_email

        return send_email(message, settings["email_address"])
