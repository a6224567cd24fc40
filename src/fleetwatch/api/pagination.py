"""Keyset cursor pagination: stable across ties and fast at any depth.

Argus uses DRF's CursorPagination (position + offset, O(offset) on ties). Here the cursor
carries the last row's ``(ordering value, pk)``, so each page is one indexed range query.
The cursor is opaque base64 of a query string; ``next``/``previous`` keep every other query
parameter of the request. The position is a row-value comparison, ``(field, pk) < (value, pk)``:
an index range on PostgreSQL and SQLite alike. Its OR-spelled equivalent made PostgreSQL scan
and discard every earlier row sharing the timestamp (2 ms at depth 15,000 in a burst).
"""

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import F, QuerySet

# Row-value lookups: internal to Django (composite keys, 5.2+), pinned to 6.1 by pyproject.
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from fleetwatch.api.sql import read_cursor
from fleetwatch.api.validation import MAX_ID, storable_datetime

INVALID_CURSOR = "Invalid cursor."


def parse_page_size(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw in (None, ""):
        return settings.PAGE_SIZE_DEFAULT
    try:
        size = int(raw)
    except ValueError:
        raise ValidationError({"page_size": ["A valid integer is required."]}) from None
    if size < 1:
        raise ValidationError({"page_size": ["Ensure this value is greater than or equal to 1."]})
    if size > settings.PAGE_SIZE_MAX:
        raise ValidationError(
            {"page_size": [f"Ensure this value is less than or equal to {settings.PAGE_SIZE_MAX}."]}
        )
    return size


class KeysetCursorPagination:
    """Descending by ``field`` then ``pk``; ``page`` returns the rows, ``response`` the body."""

    cursor_param = "cursor"

    def __init__(self, field: str) -> None:
        self.field = field

    def _encode(self, value: datetime, pk: int, reverse: bool) -> str:
        params = {"p": value.isoformat(), "i": str(pk)}
        if reverse:
            params["r"] = "1"
        return base64.urlsafe_b64encode(urlencode(params).encode()).decode().rstrip("=")

    def _decode(self, cursor: str) -> tuple[datetime, int, bool]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            params = parse_qs(
                base64.urlsafe_b64decode(padded.encode()).decode(), strict_parsing=True
            )
            value = parse_datetime(params["p"][0])
            pk = int(params["i"][0])
            reverse = params.get("r", ["0"])[0] == "1"
            if value is None or value.tzinfo is None or not 0 <= pk <= MAX_ID:
                raise ValueError(INVALID_CURSOR)
            storable_datetime(value)
        except (ValueError, KeyError, IndexError, UnicodeDecodeError):
            raise ValidationError({self.cursor_param: [INVALID_CURSOR]}) from None
        return value, pk, reverse

    def _start(self, request: Request) -> tuple[datetime | None, int | None, bool]:
        self.request = request
        self.page_size = parse_page_size(request)
        cursor = request.query_params.get(self.cursor_param)
        if cursor:
            return self._decode(cursor)
        return None, None, False

    def _page(self, queryset: QuerySet, value, pk, reverse: bool) -> QuerySet:
        """The page's query: ``page_size + 1`` rows from the cursor position."""
        f = self.field
        if value is None:
            return queryset.order_by(f"-{f}", "-pk")[: self.page_size + 1]
        if not reverse:
            after = TupleLessThan(Tuple(F(f), F("pk")), (value, pk))
            return queryset.filter(after).order_by(f"-{f}", "-pk")[: self.page_size + 1]
        before = TupleGreaterThan(Tuple(F(f), F("pk")), (value, pk))
        return queryset.filter(before).order_by(f, "pk")[: self.page_size + 1]

    def _finish(self, rows: list, value, reverse: bool) -> list:
        if value is None:
            self.has_next, self.has_previous = len(rows) > self.page_size, False
            rows = rows[: self.page_size]
        elif not reverse:
            self.has_next, self.has_previous = len(rows) > self.page_size, True
            rows = rows[: self.page_size]
        else:
            self.has_previous, self.has_next = len(rows) > self.page_size, True
            rows = list(reversed(rows[: self.page_size]))
        self.rows = rows
        return rows

    def paginate(self, queryset: QuerySet, request: Request) -> list:
        value, pk, reverse = self._start(request)
        return self._finish(list(self._page(queryset, value, pk, reverse)), value, reverse)

    def paginate_compiled(self, request: Request, key: tuple, build: Callable[[], QuerySet]):
        """As ``paginate(build(), request)`` for a ``.values()`` queryset, its SQL compiled once.

        ``key`` must determine ``build()``'s SQL (everything but the cursor position). Per key,
        cursor kind and page size, the page query is compiled by the ORM once and then run as
        plain SQL with the cursor's values; ORM build and compile cost 1.5 ms of a page. A query
        whose parameters are not exactly the cursor's (checked with two probes) is never cached.
        """
        value, pk, reverse = self._start(request)
        queryset = None
        kind = "first" if value is None else "before" if reverse else "after"
        cache_key = (key, kind, self.page_size)
        connection = connections[DEFAULT_DB_ALIAS]
        per_db = _compiled.setdefault((DEFAULT_DB_ALIAS, connection.vendor), {})
        compiled = per_db.get(cache_key)
        if compiled is None:
            queryset = build()
            compiled = _compile(self, queryset, kind) if queryset.db == DEFAULT_DB_ALIAS else False
            per_db[cache_key] = compiled
        if isinstance(compiled, CompiledPage):
            rows = compiled.run(value, pk)
        else:  # False: not cacheable
            queryset = queryset if queryset is not None else build()
            rows = list(self._page(queryset, value, pk, reverse))
        return self._finish(rows, value, reverse)

    def _link(self, row, reverse: bool) -> str:
        url = self.request.build_absolute_uri()
        if isinstance(row, dict):  # a .values() row
            cursor = self._encode(row[self.field], row["id"], reverse)
        else:
            cursor = self._encode(getattr(row, self.field), row.pk, reverse)
        return replace_query_param(url, self.cursor_param, cursor)

    def links(self) -> tuple[str | None, str | None]:
        next_link = self._link(self.rows[-1], False) if self.has_next and self.rows else None
        if self.has_previous and self.rows:
            previous_link = self._link(self.rows[0], True)
        elif self.has_previous:
            previous_link = remove_query_param(self.request.build_absolute_uri(), "cursor")
        else:
            previous_link = None
        return next_link, previous_link

    def response(self, data: list) -> Response:
        next_link, previous_link = self.links()
        return Response({"next": next_link, "previous": previous_link, "results": data})


_compiled: dict[tuple, dict[tuple, "CompiledPage | bool"]] = {}
# Cursor positions used only to compile a page query; never sent to the database.
_PROBES = (
    (datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC), 1),
    (datetime(2002, 3, 4, 5, 6, 7, 8, tzinfo=UTC), 2),
)


class CompiledPage:
    """A ``.values()`` page query as SQL, constant parameters, column names and converters."""

    def __init__(self, alias, sql, constants, names, converters, prep) -> None:
        self.alias, self.sql, self.constants = alias, sql, constants
        self.names, self.converters, self.prep = names, converters, prep

    def run(self, value, pk) -> list[dict]:
        connection = connections[self.alias]
        params = list(self.constants)
        if value is not None:
            params += [self.prep(value, connection), pk]
        with read_cursor(connection) as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        names, converters = self.names, self.converters
        if not converters:
            return [dict(zip(names, row, strict=True)) for row in rows]
        result = []
        for row in rows:
            row = list(row)
            for index, (functions, expression) in converters:
                cell = row[index]
                for function in functions:
                    cell = function(cell, expression, connection)
                row[index] = cell
            result.append(dict(zip(names, row, strict=True)))
        return result


def _compile(paginator: KeysetCursorPagination, queryset: QuerySet, kind: str):
    """The page query of ``queryset`` as a ``CompiledPage``, or False if it cannot be reused."""
    from django.db.models.query import ValuesIterable

    if queryset._iterable_class is not ValuesIterable:
        return False
    field = queryset.model._meta.get_field(paginator.field)
    connection = connections[queryset.db]

    def prep(value, connection):
        return field.get_db_prep_value(value, connection, prepared=False)

    probes = [(None, None)] if kind == "first" else _PROBES
    compiled = []
    for value, pk in probes:
        page = paginator._page(queryset, value, pk, kind == "before")
        compiler = page.query.get_compiler(using=page.db)
        sql, params = compiler.as_sql()
        compiled.append((sql, list(params), compiler, page.query))
    sql, params, compiler, query = compiled[0]
    if kind == "first":
        constants = params
    else:
        constants = params[:-2]
        for (value, pk), (other_sql, other_params, _, _) in zip(probes, compiled, strict=True):
            if other_sql != sql or other_params != [*constants, prep(value, connection), pk]:
                return False
    if query.extra_select:
        return False
    names = [*query.values_select, *query.annotation_select]
    select = [column[0] for column in compiler.select[: compiler.col_count]]
    if len(select) != len(names):
        return False
    converters = list(compiler.get_converters(select).items())
    return CompiledPage(queryset.db, sql, constants, names, converters, prep)
