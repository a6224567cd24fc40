"""List pages as SQL compiled once: the ORM builds and compiles a page query per filter
combination, cursor kind and page size once; later pages run that SQL with the cursor's values.
ORM build and compile cost 1.5 ms of a page. The incident detail GET runs its one-row query
the same way (``run_compiled_get``: the pk is its last parameter).

This reads compiler internals (``compiler.select``, ``get_converters``, ``values_select``):
the first thing to check after a Django upgrade (``tests/incidents/test_incident_list.py::
test_compiled_page_sql_matches_the_orm``). A query whose parameters are not exactly the cursor's
(checked with two probe positions, or two probe pks) is never cached, and runs through the ORM.
"""

from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.db.models.query import ValuesIterable

from fleetwatch.fastsql.cursors import read_cursor

if TYPE_CHECKING:
    from fleetwatch.api.pagination import KeysetCursorPagination

#: A column converter (``(value, expression, connection) -> value``) and a parameter preparer.
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]
Prep = Callable[[Any, BaseDatabaseWrapper], Any]

_compiled: dict[tuple[str, str], OrderedDict[tuple[Any, ...], "CompiledPage | Literal[False]"]] = {}
#: Compiled pages kept per database, least recently used dropped first (a key per filter value
#: combination and search text: see ``incidents/api/compiled.py``). Clearing them all at the
#: limit let a client sending many distinct searches make every other page recompile.
MAX_COMPILED = 2000
# Cursor positions used only to compile a page query; never sent to the database.
_PROBES = (
    (datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC), 1),
    (datetime(2002, 3, 4, 5, 6, 7, 8, tzinfo=UTC), 2),
)


class CompiledPage:
    """A ``.values()`` page query as SQL, constant parameters, column names and converters."""

    def __init__(
        self,
        alias: str,
        sql: str,
        constants: list[Any],
        names: list[str],
        converters: list[tuple[int, tuple[list[Converter], Any]]],
        prep: Prep | None,
    ) -> None:
        self.alias, self.sql, self.constants = alias, sql, constants
        self.names, self.converters, self.prep = names, converters, prep

    def run(self, tail: list[Any]) -> list[dict[str, Any]]:
        """The rows, with ``tail`` the parameters after the constant ones."""
        connection = connections[self.alias]
        with read_cursor(connection) as cursor:
            cursor.execute(self.sql, [*self.constants, *tail])
            rows = cursor.fetchall()
        names, converters = self.names, self.converters
        if not converters:
            return [dict(zip(names, row, strict=True)) for row in rows]
        result: list[dict[str, Any]] = []
        for fetched in rows:
            row = list(fetched)
            for index, (functions, expression) in converters:
                cell = row[index]
                for function in functions:
                    cell = function(cell, expression, connection)
                row[index] = cell
            result.append(dict(zip(names, row, strict=True)))
        return result

    def cursor_params(self, value: Any, pk: Any) -> list[Any]:
        """The trailing parameters of a page after ``(value, pk)``; none for a first page."""
        if value is None:
            return []
        assert self.prep is not None, "a page query"
        return [self.prep(value, connections[self.alias]), pk]


def _compile_probes(
    probes: list[tuple[QuerySet[Any], list[Any]]], prep: Prep | None
) -> CompiledPage | Literal[False]:
    """The SQL shared by ``probes`` (each a ``.values()`` queryset and the trailing parameters
    it must end with), or False if they differ in anything else or cannot be reused."""
    compiled = []
    for queryset, _ in probes:
        if queryset._iterable_class is not ValuesIterable:
            return False
        compiler = queryset.query.get_compiler(using=queryset.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # e.g. ``IN ()``: no SQL to keep; the ORM answers it with none
            return False
        compiled.append((sql, list(params), compiler, queryset.query))
    sql, params, compiler, query = compiled[0]
    constants = params[: len(params) - len(probes[0][1])]
    for (_, tail), (other_sql, other_params, _, _) in zip(probes, compiled, strict=True):
        if other_sql != sql or other_params != [*constants, *tail]:
            return False
    if query.extra_select:
        return False
    names = [*query.values_select, *query.annotation_select]
    select = [column[0] for column in compiler.select[: compiler.col_count]]
    if len(select) != len(names):
        return False
    converters = list(compiler.get_converters(select).items())
    return CompiledPage(probes[0][0].db, sql, constants, names, converters, prep)


def _compile(
    paginator: "KeysetCursorPagination", queryset: QuerySet[Any], kind: str
) -> CompiledPage | Literal[False]:
    """The page query of ``queryset`` as a ``CompiledPage``, or False if it cannot be reused."""
    field = queryset.model._meta.get_field(paginator.field)
    connection = connections[queryset.db]

    def prep(value: Any, connection: BaseDatabaseWrapper) -> Any:
        return field.get_db_prep_value(value, connection, prepared=False)

    if kind == "first":
        return _compile_probes([(paginator._page(queryset, None, None, False), [])], prep)
    probes = [
        (paginator._page(queryset, value, pk, kind == "before"), [prep(value, connection), pk])
        for value, pk in _PROBES
    ]
    return _compile_probes(probes, prep)


def _cached(
    key: tuple[Any, ...], compile: Callable[[], "CompiledPage | Literal[False]"]
) -> "CompiledPage | Literal[False]":
    connection = connections[DEFAULT_DB_ALIAS]
    per_db = _compiled.setdefault((DEFAULT_DB_ALIAS, connection.vendor), OrderedDict())
    compiled = per_db.get(key)
    if compiled is None:
        compiled = per_db[key] = compile()
        while len(per_db) > MAX_COMPILED:
            per_db.popitem(last=False)
    else:
        with suppress(KeyError):  # another thread dropped it meanwhile: it is still good
            per_db.move_to_end(key)
    return compiled


def run_compiled_get(
    key: tuple[Any, ...], build: Callable[[int], QuerySet[Any]], pk: int
) -> list[dict[str, Any]] | None:
    """The rows of ``build(pk)`` (a ``.values()`` queryset whose last parameter is ``pk``, as in
    ``.filter(pk=pk)``) through SQL compiled once per ``key``; None when it cannot be compiled
    (the caller then runs it through the ORM). The incident detail GET: ORM build and compile
    were 1 ms of its 2.5."""

    def compile() -> CompiledPage | Literal[False]:
        probes = [build(probe) for _, probe in _PROBES]
        if any(queryset.db != DEFAULT_DB_ALIAS for queryset in probes):
            return False
        return _compile_probes(
            [(queryset, [probe]) for queryset, (_, probe) in zip(probes, _PROBES, strict=True)],
            None,
        )

    compiled = _cached(("get", key), compile)
    if compiled is False:
        return None
    return compiled.run([pk])


def run_compiled(
    paginator: "KeysetCursorPagination",
    key: tuple[Any, ...],
    build: Callable[[], QuerySet[Any]],
    value: Any,
    pk: Any,
    reverse: bool,
) -> list[dict[str, Any]] | None:
    """The page's rows through the compiled SQL, or None when this query cannot be compiled
    (the caller then runs it through the ORM)."""
    kind = "first" if value is None else "before" if reverse else "after"

    def compile() -> CompiledPage | Literal[False]:
        queryset = build()
        if queryset.db != DEFAULT_DB_ALIAS:
            return False
        return _compile(paginator, queryset, kind)

    compiled = _cached((key, kind, paginator.page_size), compile)
    if compiled is False:
        return None
    return compiled.run(compiled.cursor_params(value, pk))
