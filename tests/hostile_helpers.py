"""Hostile-input batteries shared by the API sweeps (notifications, accounts).

Each case replaces one field of a valid body with a value a careless or hostile client sends;
the hub must answer with a 4xx whose JSON body names that field (never a 5xx, never a raw
database message, never a silent 2xx that drops or mangles the value).
"""

import json
from collections.abc import Iterator
from typing import Any

LONE_SURROGATE = "\ud800"
HUGE_INT = 10**30

#: (label, value) replacing a field's value.
BAD_VALUES: list[tuple[str, Any]] = [
    ("null", None),
    ("int", 12345),
    ("huge-int", HUGE_INT),
    ("negative", -1),
    ("float", 1.5),
    ("bool", True),
    ("list", ["x"]),
    ("object", {"a": 1}),
    ("surrogate", LONE_SURROGATE),
    ("surrogate-in-list", [LONE_SURROGATE]),
    ("nul", "a\x00b"),
    ("long-10k", "a" * 10_000),
]


def encode(body: Any) -> bytes:
    """JSON as a client sends it: lone surrogates escaped (``\\ud800``), which is valid JSON."""
    return json.dumps(body).encode()


def field_cases(body: dict) -> Iterator[tuple[str, str, Any]]:
    """(field, label, mutated body) for every field of ``body`` and every bad value."""
    for field in body:
        for label, value in BAD_VALUES:
            yield field, label, {**body, field: value}


def names(payload: Any) -> set[str]:
    """Every key and string anywhere in an error body (where a field may be named)."""
    found: set[str] = set()
    if isinstance(payload, dict):
        for key, value in payload.items():
            found.add(str(key))
            found |= names(value)
    elif isinstance(payload, list):
        for value in payload:
            found |= names(value)
    elif isinstance(payload, str):
        found.add(payload)
    return found


def assert_clean_refusal(response, field: str | None = None) -> None:
    """A 4xx with a JSON object body naming ``field`` (when given); nothing from the database."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    payload = response.json()
    assert isinstance(payload, dict), payload
    text = json.dumps(payload)
    for leak in ("IntegrityError", "duplicate key", "violates", "psycopg", "sqlite", "Traceback"):
        assert leak not in text, text
    if field is not None:
        assert field in names(payload), (field, payload)


def assert_not_server_error(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])
