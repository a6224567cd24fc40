"""A unique constraint lost to a concurrent request, as a 409 naming the fields.

The serializers check uniqueness by reading committed rows, so two requests creating the same
thing at once both pass the check; the second INSERT then waits for the first transaction and
fails on the unique index. That IntegrityError is a conflict the client caused, not an outage:
it was a 503 ("could not be stored"), which clients retry. Both databases say which columns
clashed — PostgreSQL in the error's detail (``Key (user_id, name)=(…) already exists.``),
SQLite in its message (``UNIQUE constraint failed: t.user_id, t.name``) — and the columns map
back to the model's fields. The values are never repeated (they may be secrets).
"""

import re

from django.apps import apps
from django.db import IntegrityError

_PG_KEY = re.compile(r"^Key \((?P<columns>[^)]*)\)=")
_SQLITE_UNIQUE = re.compile(r"^UNIQUE constraint failed: (?P<columns>.+)$")
#: The owner of a per-user unique name is the requesting user, never a field the client sent.
_IMPLICIT = {"user"}


def _columns(exc: IntegrityError) -> tuple[str | None, list[str]] | None:
    """(table or None, columns) of the unique constraint ``exc`` violated, or None."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:  # psycopg
        match = _PG_KEY.match(diag.message_detail or "")
        if getattr(exc.__cause__, "sqlstate", None) != "23505" or match is None:
            return None
        return diag.table_name, [c.strip().strip('"') for c in match["columns"].split(",")]
    match = _SQLITE_UNIQUE.match(str(exc))
    if match is None:
        return None
    pairs = [c.strip().rsplit(".", 1) for c in match["columns"].split(",")]
    return pairs[0][0], [column for _, column in pairs]


def _field_names(table: str | None, columns: list[str]) -> list[str]:
    for model in apps.get_models():
        if model._meta.db_table == table:
            by_column = {f.column: f.name for f in model._meta.concrete_fields}
            return [by_column.get(column, column) for column in columns]
    return columns


def unique_conflict(exc: IntegrityError) -> dict[str, list[str]] | None:
    """The 409 body for a unique-constraint violation (``{field: [why]}``), else None."""
    found = _columns(exc)
    if found is None:
        return None
    fields = [name for name in _field_names(*found) if name not in _IMPLICIT] or ["detail"]
    together = " and ".join(fields)
    message = (
        f"Already taken: another request stored the same {together} at the same time. "
        "Read it back, or retry with another value."
    )
    return {name: [message] for name in fields}
