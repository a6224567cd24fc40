"""The interface every notification medium implements."""

from typing import Any, ClassVar

from django.core.exceptions import ValidationError

from fleetwatch.incidents.validation import NUL_MESSAGE

SECRET_MASK = "********"


class Medium:
    """A way to send a message (e-mail, SMS, webhook …).

    Subclasses set ``slug`` (stored in ``Destination.media``), ``name`` and ``json_schema`` (the
    shape of a destination's ``settings``, served at ``media/<slug>/json_schema/``), and
    implement ``clean_settings`` — the one place a destination's settings are validated, shared
    by the API and the admin — and ``send``. ``secret_fields`` are settings the API never
    returns (shown masked).
    """

    slug: ClassVar[str]
    name: ClassVar[str]
    json_schema: ClassVar[dict[str, Any]]
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # The settings key that identifies the address (for duplicate checks and labels).
    address_field: ClassVar[str]

    def clean_settings(self, settings: Any) -> dict[str, Any]:
        """Return ``settings`` normalized, or raise ``ValidationError({"field": [msg]})``."""
        raise NotImplementedError

    def address(self, settings: dict[str, Any]) -> str:
        """The address the settings send to, for labels and duplicate checks."""
        return str(settings.get(self.address_field, ""))

    def public_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """``settings`` as the API shows them: secrets masked."""
        return {
            key: (SECRET_MASK if key in self.secret_fields and value else value)
            for key, value in settings.items()
        }

    def send(self, message: dict[str, Any], settings: dict[str, Any]) -> str:
        """Send the rendered ``message`` to the destination described by ``settings``.

        Returns the provider's message id ("" if none); raises on failure so that the
        delivery worker can retry. Implemented by the delivery layer.
        """
        raise NotImplementedError


def require_object(settings: Any, allowed: set[str]) -> dict[str, Any]:
    """``settings`` as a dict with only ``allowed`` keys, or a ``settings`` ValidationError."""
    if not isinstance(settings, dict):
        raise ValidationError({"settings": ["Must be a JSON object."]})
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ValidationError({key: ["Unknown setting."] for key in unknown})
    nul = sorted(k for k, v in settings.items() if isinstance(v, str) and "\x00" in v)
    if nul:  # PostgreSQL's jsonb cannot hold them
        raise ValidationError({key: [NUL_MESSAGE] for key in nul})
    return dict(settings)


def required_string(settings: dict[str, Any], key: str) -> str:
    value = settings.get(key)
    if value is None or value == "":
        raise ValidationError({key: ["This field is required."]})
    if not isinstance(value, str):
        raise ValidationError({key: ["Must be a string."]})
    return value.strip()
