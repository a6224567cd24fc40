"""One error shape for the whole API: a JSON object naming the field and the problem."""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger("fleetwatch.api")


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, DatabaseError):
        # Never leak the database's own message; log it for the operator instead.
        log.exception("database error in %s", context.get("view"))
        return Response(
            {"detail": "The request could not be stored; see the server log."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return None
