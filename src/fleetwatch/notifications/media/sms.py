"""SMS: settings ``{"phone_number"}`` in E.164 (validated and normalized with ``phonenumbers``)."""

from typing import Any

from django.core.exceptions import ValidationError

from fleetwatch.accounts.models import normalize_phone_number
from fleetwatch.notifications.media.base import Medium, require_object, required_string


class SMSMedium(Medium):
    slug = "sms"
    name = "SMS"
    address_field = "phone_number"
    json_schema = {
        "title": "SMS Settings",
        "description": "Settings for a DestinationConfig using SMS.",
        "type": "object",
        "required": ["phone_number"],
        "properties": {
            "phone_number": {
                "type": "string",
                "title": "Phone number",
                "description": "The phone number is validated and the country code needs to "
                "be given (E.164, e.g. +12125552368).",
            }
        },
        "additionalProperties": False,
    }

    def clean_settings(self, settings: Any) -> dict[str, Any]:
        settings = require_object(settings, {"phone_number"})
        value = required_string(settings, "phone_number")
        try:
            return {"phone_number": normalize_phone_number(value)}
        except ValidationError as exc:
            raise ValidationError({"phone_number": exc.messages}) from None

    def send(self, message: dict[str, Any], settings: dict[str, Any]) -> str:
        """A mail to ``FLEETWATCH_SMS_GATEWAY_ADDRESS`` (subject ``sms <number>``)."""
        from fleetwatch.notifications.senders import send_sms

        return send_sms(message, settings["phone_number"])
