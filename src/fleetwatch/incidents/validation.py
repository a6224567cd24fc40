"""Value checks the domain needs, free of any web framework.

Everything that stores incidents (the API, ingest, the connectors, a future web console) refuses
the same values with the same messages; ``fleetwatch.api.validation`` re-exports these for the
request-level checks that need DRF.
"""

import math
from datetime import UTC, datetime

DATETIME_RANGE_MESSAGE = "Datetime value out of range."
NUL_MESSAGE = "Null characters are not allowed."
NON_FINITE_MESSAGE = "Numbers must be finite (no NaN or Infinity)."
#: The largest primary key or id a client may name: a signed 64-bit column.
MAX_ID = 2**63 - 1


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
