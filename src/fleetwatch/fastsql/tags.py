"""Tag lookups as plain SQL: compiling the equivalent ORM queries cost more than running them.

On PostgreSQL a set of values goes as one array parameter (``= ANY(%s)``), so the SQL text is
the same whatever the count and psycopg caches its conversion (it caches queries of at most 50
parameters, and re-parsed a 100-id ``IN`` list on every page).
"""

from collections.abc import Sequence
from typing import Any

from django.db import connection

from fleetwatch.fastsql import postgresql
from fleetwatch.fastsql.cursors import read_cursor
from fleetwatch.incidents.models import IncidentTagRelation, Tag


def any_of(column: str, values: Sequence[int] | Sequence[str]) -> tuple[str, list[Any]]:
    """SQL and parameters for ``column`` being one of ``values`` (not empty): one value as a
    plain parameter (psycopg dumps a list in Python: 50 µs for one element)."""
    if len(values) == 1:
        return f"{column} = %s", [values[0]]
    if postgresql(connection):
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def find_tags(keys: set[str], values: set[str]) -> list[tuple[int, str, str]]:
    """``Tag.objects.filter(key__in=keys, value__in=values).values_list("pk", "key", "value")``."""
    q = connection.ops.quote_name
    key_sql, key_params = any_of(q("key"), sorted(keys))
    value_sql, value_params = any_of(q("value"), sorted(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {q('id')}, {q('key')}, {q('value')} FROM {q(Tag._meta.db_table)} "
            f"WHERE {key_sql} AND {value_sql}",
            key_params + value_params,
        )
        rows: list[tuple[int, str, str]] = cursor.fetchall()
        return rows


def incident_tag_rows(ids: list[int]) -> list[tuple[Any, ...]]:
    """``(incident_id, added_by_id, added_time, key, value)`` of the incidents' tag relations,
    oldest first. ``added_time`` comes as the database gives it (text on SQLite): convert it
    with ``connection.ops.convert_datetimefield_value`` where the backend has one."""
    q = connection.ops.quote_name
    relation, tag = IncidentTagRelation._meta.db_table, Tag._meta.db_table
    ids_sql, params = any_of(f"r.{q('incident_id')}", ids)
    sql = (
        f"SELECT r.{q('incident_id')}, r.{q('added_by_id')}, r.{q('added_time')}, "
        f"t.{q('key')}, t.{q('value')} FROM {q(relation)} r "
        f"INNER JOIN {q(tag)} t ON t.{q('id')} = r.{q('tag_id')} "
        f"WHERE {ids_sql} ORDER BY r.{q('id')}"
    )
    with read_cursor(connection) as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
