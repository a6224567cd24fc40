"""Query parameters parsed the way the vendor's Spring gateway parses them, and its API error.

Kept apart from the routes so every handler refuses bad input with the same Spring messages
(``MethodArgumentTypeMismatchException`` naming the parameter), never a Python error.
"""

from datetime import UTC, datetime

from starlette.requests import Request

from fleetwatch.emulators.sevensignal.model import to_ms

JAVA_INT = (-(2**31), 2**31 - 1)
JAVA_LONG = (-(2**63), 2**63 - 1)
# The instants an incident window may name: what the ISO renderings (years 0001..9999) can show.
MIN_EPOCH_MS = to_ms(datetime(1, 1, 1, tzinfo=UTC))
MAX_EPOCH_MS = to_ms(datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC))


class ApiError(Exception):
    """A vendor API error; rendered in the Spring Boot error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def as_list(request: Request, name: str) -> list[str]:
    """``name[]=a&name[]=b``, ``name=a&name=b`` and ``name=a,b`` all mean [a, b], as in Spring."""
    values = request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _conversion_error(name: str, java_type: str, raw: str) -> ApiError:
    """Spring's MethodArgumentTypeMismatchException message, which names the parameter."""
    return ApiError(
        400,
        f"Method parameter '{name}': Failed to convert value of type 'java.lang.String' to "
        f"required type '{java_type}'; For input string: \"{raw}\"",
    )


def java_number(name: str, raw: str, java_type: str, bounds: tuple[int, int]) -> int:
    """Parse like Spring's number editor: surrounding whitespace trimmed, an optional sign,
    decimal digits only (no ``1e3``, ``1.5`` or ``1_000``), within the Java type's range;
    anything else is the conversion 400 (never a Python error)."""
    text = raw.strip()
    if "_" in text:
        raise _conversion_error(name, java_type, raw)
    try:
        value = int(text)
    except ValueError:  # not an integer, or too many digits for int()
        raise _conversion_error(name, java_type, raw) from None
    if not bounds[0] <= value <= bounds[1]:
        raise _conversion_error(name, java_type, raw)
    return value


def int_param(request: Request, names: tuple[str, ...], default: int) -> int:
    """The first of ``names`` present (aliases such as ``perPage``/``limit``), as a Java int."""
    for name in names:
        raw = request.query_params.get(name)
        if raw is None:
            continue
        return java_number(name, raw, "int", JAVA_INT)
    return default


def long_param(request: Request, name: str) -> int | None:
    """A Java long, or None when absent or empty (Spring treats both as not given)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return java_number(name, raw, "long", JAVA_LONG)


def check_instant(name: str, ms: int) -> None:
    """An epoch-ms instant the answer can render (``range.fromAsDateString``), else a 400
    naming the parameter."""
    if not MIN_EPOCH_MS <= ms <= MAX_EPOCH_MS:
        raise ApiError(
            400,
            f"Invalid value {ms} for '{name}': epoch milliseconds must be between "
            f"{MIN_EPOCH_MS} (0001-01-01T00:00:00.000Z) and {MAX_EPOCH_MS} "
            "(9999-12-31T23:59:59.999Z)",
        )
