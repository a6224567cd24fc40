"""Webhook: POST a JSON body to ``url`` — generic JSON, Slack or Microsoft Teams format.

``secret`` (optional) signs the body (the delivery layer decides how); the API never returns it.
"""

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from fleetwatch.notifications.media.base import Medium, require_object, required_string

FORMATS = ("generic", "slack", "teams")


class WebhookMedium(Medium):
    slug = "webhook"
    name = "Webhook"
    address_field = "url"
    secret_fields = ("secret",)
    json_schema = {
        "title": "Webhook Settings",
        "description": "Settings for a destination that receives a JSON POST.",
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "title": "URL", "format": "uri", "pattern": "^https?://"},
            "secret": {
                "type": "string",
                "title": "Secret",
                "description": "Shared secret for signing the body; write-only.",
                "writeOnly": True,
            },
            "format": {
                "type": "string",
                "title": "Format",
                "enum": list(FORMATS),
                "default": "generic",
            },
        },
        "additionalProperties": False,
    }

    def clean_settings(self, settings: Any) -> dict[str, Any]:
        settings = require_object(settings, {"url", "secret", "format"})
        url = required_string(settings, "url")
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise ValidationError({"url": ["Only http and https URLs are allowed."]})
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise ValidationError({"url": ["Enter a valid URL."]}) from None
        # The connectors' address policy (FLEETWATCH_WEBHOOK_ALLOW_PRIVATE); owner: delivery.
        from fleetwatch.notifications.senders import check_webhook_url

        if reason := check_webhook_url(url):
            raise ValidationError({"url": [reason]})
        cleaned: dict[str, Any] = {"url": url}
        fmt = settings.get("format", "generic")
        if fmt not in FORMATS:
            raise ValidationError({"format": [f"Must be one of {', '.join(FORMATS)}."]})
        cleaned["format"] = fmt
        secret = settings.get("secret")
        if secret not in (None, ""):
            if not isinstance(secret, str):
                raise ValidationError({"secret": ["Must be a string."]})
            cleaned["secret"] = secret
        return cleaned

    def send(self, message: dict[str, Any], settings: dict[str, Any]) -> str:
        """A signed JSON POST (see ``fleetwatch.notifications.senders.send_webhook``)."""
        from fleetwatch.notifications.senders import send_webhook

        return send_webhook(message, settings)
