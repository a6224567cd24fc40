"""One error shape for the whole API: a JSON object naming the field and the problem."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from fleetwatch.api.conflicts import unique_conflict

log = logging.getLogger("fleetwatch.api")


def body_too_large() -> Response:
    """413 naming the limit; Django's own answer is an HTML 400 with an empty message."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return Response(
        {
            "detail": f"Request body too large: at most {limit} bytes "
            "(FLEETWATCH_MAX_BODY_BYTES) are accepted.",
            "max_body_bytes": limit,
        },
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        return body_too_large()
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, IntegrityError) and (conflict := unique_conflict(exc)):
        log.info("unique conflict in %s: %s", context.get("view"), sorted(conflict))
        return Response(conflict, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DatabaseError):
        # Never leak the database's own message; log it for the operator instead.
        log.exception("database error in %s", context.get("view"))
        return Response(
            {"detail": "The request could not be stored; see the server log."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return None
