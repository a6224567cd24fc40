"""Small request checks shared by every view: nothing a client sends is silently ignored."""

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

UNKNOWN_PARAMETER = "Unknown query parameter."
DATETIME_RANGE_MESSAGE = "Datetime value out of range."
NUL_MESSAGE = "Null characters are not allowed."
NON_FINITE_MESSAGE = "Numbers must be finite (no NaN or Infinity)."
#: The largest primary key or id a client may name: a signed 64-bit column.
MAX_ID = 2**63 - 1


def require_object(data: object) -> None:
    """400 unless ``data`` (a request body, or query parameters) is a JSON object."""
    if not hasattr(data, "keys"):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})


def reject_unknown(
    data: object, allowed: Iterable[str], message: str | list[str] = "Unknown field."
) -> None:
    """400 naming every key of ``data`` (a body or the query parameters) not in ``allowed``."""
    require_object(data)
    unknown = sorted(set(data.keys()) - set(allowed))  # type: ignore[attr-defined]  # require_object checked
    if unknown:
        if isinstance(message, str):
            message = [message]
        raise ValidationError({name: message for name in unknown})


def storable_datetime(value: datetime) -> datetime:
    """``value`` if it survives conversion to UTC (what every database stores), else ValueError.

    ``0001-01-01T00:00+05:00`` parses, but is before year 1 in UTC: the database adapter would
    raise OverflowError deep inside the query.
    """
    if value.tzinfo is None:
        return value
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError(DATETIME_RANGE_MESSAGE) from None
    return value


def json_problem(value: object) -> str | None:
    """Why ``value`` (decoded JSON) cannot be stored as JSON everywhere, or None.

    A literal like ``1e400`` decodes to ``inf``, which no JSON column accepts; PostgreSQL
    refuses ``\\u0000`` in text and in ``jsonb``.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return NUL_MESSAGE
        elif isinstance(item, float):
            if not math.isfinite(item):
                return NON_FINITE_MESSAGE
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return NUL_MESSAGE
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


if TYPE_CHECKING:
    _ViewBase = APIView
else:
    _ViewBase = object


class StrictQueryParams(_ViewBase):
    """A view mixin: a query parameter the view does not read is a 400 naming it.

    ``query_params`` lists what the view reads (``format`` is DRF's own); ``None`` means the
    view checks the parameters of that request itself (the filtered lists).
    """

    query_params: frozenset[str] | None = frozenset({"format"})

    def allowed_query_params(self, request: Request) -> Iterable[str] | None:
        return self.query_params

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        nul = [key for key, values in request.query_params.lists() if "\x00" in "".join(values)]
        if nul:
            raise ValidationError({key: [NUL_MESSAGE] for key in nul})
        allowed = self.allowed_query_params(request)
        if allowed is not None:
            reject_unknown(request.query_params, allowed, UNKNOWN_PARAMETER)
