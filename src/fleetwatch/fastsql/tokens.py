"""The API's DRF token lookup as one plain SQL query: the ORM's compile cost 1.1 ms of a
1.4 ms lookup. It builds exactly the objects (and relation caches) that
``Token.objects.select_related("user", "user__source_system").get(key=...)`` builds.
"""

from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.db.models.expressions import Col
from rest_framework.authtoken.models import Token

from fleetwatch.accounts.models import User
from fleetwatch.incidents.models import SourceSystem

_TOKEN_MODELS = (Token, User, SourceSystem)


def _column(field: Field[Any, Any]) -> str:
    """A concrete field's column name (only fields without a column, which are never concrete,
    have None)."""
    assert field.column is not None, field
    return field.column


def _token_sql() -> tuple[str, list[tuple[Any, ...]]]:
    """The SQL of ``Token.objects.select_related("user", "user__source_system").get(key=...)``
    written once, and per model its attnames, pk position and column converters."""
    quote = connection.ops.quote_name
    columns, layout = [], []
    for alias, model in zip(("t", "u", "s"), _TOKEN_MODELS, strict=True):
        names, conversions = [], []
        for index, field in enumerate(model._meta.concrete_fields):
            columns.append(f"{alias}.{quote(_column(field))}")
            names.append(field.attname)
            col = Col(alias, field)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if converters:
                conversions.append((index, col, converters))
        layout.append((model, names, names.index(model._meta.pk.attname), conversions))
    user_pk = quote(_column(User._meta.pk))
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Token._meta.db_table)} t "
        f"INNER JOIN {quote(User._meta.db_table)} u "
        f"ON t.{quote(Token._meta.get_field('user').column)} = u.{user_pk} "
        f"LEFT OUTER JOIN {quote(SourceSystem._meta.db_table)} s "
        f"ON s.{quote(_column(SourceSystem._meta.get_field('user')))} = u.{user_pk} "
        f"WHERE t.{quote(_column(Token._meta.pk))} = %s"
    )
    return sql, layout


_token_queries: dict[str, tuple[str, list[tuple[Any, ...]]]] = {}


def find_drf_token(key: str) -> Token | None:
    """The token with its user and the user's source system (or none), as ``select_related``
    would build them."""
    query = _token_queries.get(connection.vendor)
    if query is None:
        query = _token_queries[connection.vendor] = _token_sql()
    sql, layout = query
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    objects: list[Model | None] = []
    start = 0
    for model, names, pk_index, conversions in layout:
        values = list(row[start : start + len(names)])
        start += len(names)
        if values[pk_index] is None:  # no source system: LEFT JOIN gave NULLs
            objects.append(None)
            continue
        for index, col, converters in conversions:
            for converter in converters:
                values[index] = converter(values[index], col, connection)
        objects.append(model.from_db(connection.alias, names, values))
    token, user, source = objects
    assert isinstance(token, Token) and isinstance(user, User)  # INNER JOINed: never NULL
    # The caches select_related fills, both ways of each one-to-one relation.
    user_field = Token._meta.get_field("user")
    user_field.set_cached_value(token, user)
    user_field.remote_field.set_cached_value(user, token)
    source_user = SourceSystem._meta.get_field("user")
    source_user.remote_field.set_cached_value(user, source)
    if source is not None:
        source_user.set_cached_value(source, user)
    return token
