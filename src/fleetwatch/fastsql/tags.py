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


#: The planner's statistics of the relations' ``tag_id``: its most common values with their
#: frequencies, and the share of each other distinct value (the rest spread evenly over them).
_TAG_STATISTICS = """
SELECT most_common_vals::text::bigint[] AS vals, most_common_freqs AS freqs,
    (1 - null_frac - COALESCE((SELECT sum(f) FROM unnest(most_common_freqs) f), 0))
    / GREATEST(
        CASE WHEN n_distinct >= 0 THEN n_distinct
             ELSE -n_distinct * (SELECT reltuples FROM pg_class WHERE oid = %s::regclass) END
        - COALESCE(cardinality(most_common_freqs), 0), 1) AS rest
FROM pg_stats WHERE schemaname = current_schema() AND tablename = %s AND attname = %s
"""


def find_tags_with_shares(
    keys: set[str], values: set[str]
) -> list[tuple[int, str, str, float | None]]:
    """As ``find_tags`` (PostgreSQL only), with each tag's share of all tag relations as the
    planner's statistics give it (what ``EXPLAIN`` would estimate for ``tag_id = t``), read
    in the same query: which of several tags is the rarest, with no ``EXPLAIN`` per tag and
    no extra round trip (+0.1 ms in the database). None before the table's first ANALYZE."""
    q = connection.ops.quote_name
    relation = IncidentTagRelation._meta.db_table
    column = IncidentTagRelation._meta.get_field("tag").column
    pk = q("id")
    sql = (
        f"SELECT t.{pk}, t.{q('key')}, t.{q('value')}, "
        f"COALESCE(s.freqs[array_position(s.vals, t.{pk})], s.rest) "
        f"FROM {q(Tag._meta.db_table)} t LEFT JOIN ({_TAG_STATISTICS}) s ON true "
        f"WHERE t.{q('key')} = ANY(%s) AND t.{q('value')} = ANY(%s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [q(relation), relation, column, sorted(keys), sorted(values)])
        rows: list[tuple[int, str, str, float | None]] = cursor.fetchall()
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
