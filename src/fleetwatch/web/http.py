"""What the console's views share about requests and refusals.

``AuthedRequest``: behind ``login_required`` the user is a User. ``field_errors`` and
``error_lines``: a Django ``ValidationError`` from a service, whatever its shape (a dict naming
fields, a list, one message), as the one shape the console's pages show — so a service that
raises a plain message is an error box, never an ``AttributeError`` on ``message_dict``.
"""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest

from fleetwatch.accounts.models import User


class AuthedRequest(HttpRequest):
    user: User  # narrowed: every view using it requires a login


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field name → messages; messages that name no field are under ``NON_FIELD_ERRORS``."""
    if hasattr(exc, "error_dict"):
        return {name: list(problems) for name, problems in exc.message_dict.items()}
    return {NON_FIELD_ERRORS: list(exc.messages)}


def error_lines(errors: ValidationError | dict[str, list[str]]) -> list[str]:
    """One ``field: message`` line per message (just the message when it names no field)."""
    if isinstance(errors, ValidationError):
        errors = field_errors(errors)
    return [
        problem if name == NON_FIELD_ERRORS else f"{name}: {problem}"
        for name, problems in errors.items()
        for problem in problems
    ]
