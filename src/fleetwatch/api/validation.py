"""Small request checks shared by every view: nothing a client sends is silently ignored."""

from collections.abc import Iterable

from rest_framework.exceptions import ValidationError


def reject_unknown(
    data: object, allowed: Iterable[str], message: str | list[str] = "Unknown field."
) -> None:
    """400 naming every key of ``data`` (a body or the query parameters) not in ``allowed``."""
    if not hasattr(data, "keys"):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    unknown = sorted(set(data.keys()) - set(allowed))
    if unknown:
        if isinstance(message, str):
            message = [message]
        raise ValidationError({name: message for name in unknown})
