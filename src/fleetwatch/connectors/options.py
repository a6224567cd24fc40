"""Connector options: which keys a connector takes and which values they allow.

``clean_options(vendor, options)`` is the one check, used wherever options come in (the API,
the admin, ``fleetwatch connector add``, ``create_connector``) and again by the engine before a
poll is built, so a bad value is a 400 (or a form error) naming the option — never a
``TypeError`` deep inside a poll.

Options every connector takes are ``SHARED``. A vendor module declares its own once, in
``option_specs`` on its connector class: each :class:`Spec` is the rule *and* the default.
``resolve_options`` (what ``engine.build`` hands the vendor) is the cleaned options with
every default filled in, so vendor code reads ``self.options["overlap"]`` and never carries
a default of its own.
"""

import copy
import math
from dataclasses import dataclass, fields
from typing import Any

from fleetwatch.connectors.http import RetryPolicy


class OptionsError(ValueError):
    """``errors`` maps each offending option to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("options: " + "; ".join(self.lines(errors)))
        self.errors = errors

    @staticmethod
    def lines(errors: dict[str, list[str]]) -> list[str]:
        # The key "" is the options object as a whole.
        return [
            f"{key}: {' '.join(messages)}" if key else " ".join(messages)
            for key, messages in errors.items()
        ]

    @property
    def messages(self) -> list[str]:
        """One "key: message" line per option (for a form or a Django ValidationError)."""
        return self.lines(self.errors)


@dataclass(frozen=True, kw_only=True)
class Spec:
    """One option's rule and its default: ``check`` returns an error message, or None when
    the value is fine. A default of None means "not set" (the shared layer decides, e.g. the
    vendor's own ``rate_limit``)."""

    default: Any = None

    def check(self, value: object) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


def is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


@dataclass(frozen=True)
class Number(Spec):
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # exclusive minimum
    integer: bool = False

    def check(self, value: object) -> str | None:
        if self.integer and not (is_number(value) and float(value).is_integer()):
            return "Expected a whole number."
        if not is_number(value):
            return "Expected a number."
        if self.above is not None and not value > self.above:
            return f"Must be greater than {self.above:g}."
        if self.minimum is not None and value < self.minimum:
            return f"Must be at least {self.minimum:g}."
        if self.maximum is not None and value > self.maximum:
            return f"Must be at most {self.maximum:g}."
        return None


@dataclass(frozen=True)
class Boolean(Spec):
    def check(self, value: object) -> str | None:
        return None if isinstance(value, bool) else "Expected true or false."


@dataclass(frozen=True)
class Text(Spec):
    """A string; ``blank=True`` also takes ``""`` (an option whose empty value means "work it
    out", like ``console_url``: the base URL's origin + ``/console``)."""

    blank: bool = False

    def check(self, value: object) -> str | None:
        if not isinstance(value, str):
            return "Expected a string." if self.blank else "Expected a non-empty string."
        return None if value or self.blank else "Expected a non-empty string."


@dataclass(frozen=True)
class RateLimit(Spec):
    """``[requests, seconds]``: at least one request per a positive number of seconds."""

    def check(self, value: object) -> str | None:
        message = "Expected [requests, seconds]: a whole number ≥ 1 and a number of seconds > 0."
        if not isinstance(value, list | tuple) or len(value) != 2:
            return message
        requests, seconds = value
        if Number(minimum=1, integer=True).check(requests) or Number(above=0).check(seconds):
            return message
        return None


# The retry policy's fields and what each may be.
RETRY_FIELDS = {
    "attempts": Number(minimum=1, maximum=100, integer=True),
    "rate_limited_attempts": Number(minimum=1, maximum=1000, integer=True),
    "base_delay": Number(minimum=0, maximum=3600),
    "max_delay": Number(minimum=0, maximum=3600),
    "default_rate_limit_wait": Number(minimum=0, maximum=3600),
}
if set(RETRY_FIELDS) != {f.name for f in fields(RetryPolicy)}:  # kept in step with http.py
    raise ImportError("options.RETRY_FIELDS and http.RetryPolicy disagree")


@dataclass(frozen=True)
class Retry(Spec):
    def check(self, value: object) -> str | None:
        if not isinstance(value, dict):
            return f"Expected an object with any of: {', '.join(RETRY_FIELDS)}."
        problems = []
        for key, item in value.items():
            spec = RETRY_FIELDS.get(key)
            if spec is None:
                problems.append(
                    f"{key!r} is not a retry setting (one of {', '.join(RETRY_FIELDS)})."
                )
            elif message := spec.check(item):
                problems.append(f"{key}: {message}")
        return " ".join(problems) or None


SHARED: dict[str, Spec] = {
    "rate_limit": RateLimit(),  # default: the vendor class's ``rate_limit``
    "rate_limit_margin": Number(minimum=0, maximum=1, default=0.02),
    "timeout": Number(above=0, maximum=600, default=15.0),
    "retry": Retry(default={}),
    "failure_threshold": Number(minimum=1, maximum=1000, integer=True, default=3),
}


def specs_for(vendor: str) -> dict[str, Spec] | None:
    """The vendor's own options and the shared ones; None when the vendor declares no
    ``option_specs`` (its keys are then unchecked)."""
    from fleetwatch.connectors.registry import connector_class

    own = connector_class(vendor).option_specs
    return None if own is None else {**own, **SHARED}


def resolve_options(vendor: str, options: object) -> dict:
    """The cleaned options with every declared default filled in: what the vendor module
    gets. Raises OptionsError like ``clean_options``."""
    cleaned = clean_options(vendor, options)
    specs = specs_for(vendor) or SHARED
    resolved = {name: copy.deepcopy(spec.default) for name, spec in specs.items()}
    if resolved.get("rate_limit") is None:
        from fleetwatch.connectors.registry import connector_class

        resolved["rate_limit"] = list(connector_class(vendor).rate_limit)
    return {**resolved, **cleaned}


def clean_options(vendor: str, options: object) -> dict:
    """``options`` checked against the vendor's and the shared specs; raises OptionsError
    naming every bad or unknown key. Unknown vendor: only the shape is checked."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise OptionsError({"": ["Expected a JSON object."]})
    try:
        specs = specs_for(vendor)
    except KeyError:  # an unknown vendor is reported on its own field
        specs = None
    errors: dict[str, list[str]] = {}
    for key, value in options.items():
        spec = (specs or SHARED).get(key)
        if spec is None:
            if specs is None:
                continue  # the vendor declares nothing: its own keys are not checked
            errors[key] = [f"Unknown option; {vendor} takes {', '.join(sorted(specs))}."]
        elif message := spec.check(value):
            errors[key] = [message]
    if errors:
        raise OptionsError(errors)
    return dict(options)
