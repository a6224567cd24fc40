"""Small request checks shared by every view: nothing a client sends is silently ignored."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

# The DRF-free checks live with the domain; re-exported for the API's modules.
from fleetwatch.incidents.validation import (  # noqa: F401
    DATETIME_RANGE_MESSAGE,
    MAX_ID,
    NON_FINITE_MESSAGE,
    NUL_MESSAGE,
    json_problem,
    storable_datetime,
)

UNKNOWN_PARAMETER = "Unknown query parameter."


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


if TYPE_CHECKING:  # a mixin for APIView subclasses: typed as one, a plain class at run time
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
