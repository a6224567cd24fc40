"""Incident rows as JSON text written by PostgreSQL, handed to orjson as ``orjson.Fragment``.

A page of 100 incidents spent most of its web time turning rows into JSON in Python: a second
query for the page's tags, two datetimes per row and one per tag formatted by
``render_datetime``, every row's metadata ``json.loads``-ed only to be encoded again, and a
dict per row and per tag for orjson to walk. Here the page query itself writes each row's JSON
(the tags by a correlated subquery, in relation order; times by ``to_char``), so the page is one
query and a few string concatenations per row. PostgreSQL pays for it, ~7.5 µs a row of its CPU
(the README's table has the figures). The text is byte for byte what
``incidents/api/serializers.py`` (``render_row``) renders and the renderer encodes: field order,
``Z`` for UTC, microseconds only when non-zero (``isoformat``), ``"infinity"``, ``null``, and
strings escaped as orjson escapes them (PostgreSQL's ``to_json`` writes the same escapes:
``\\"``, ``\\\\``, ``\\b\\f\\n\\r\\t``, ``\\u00XX`` for other control characters, everything
else as UTF-8). ``tests/incidents/test_page_json.py`` compares the two over awkward data.

Three things stay in Python:

- a ``details_url`` that is joined with its source's ``base_url`` (``urljoin``): the SQL gives
  the base (``join_base``) only for the rows whose URL is relative, with the condition of
  ``serializers.details_link``;
- metadata other than ``{}``: ``jsonb`` prints ``{"a": 1}`` with spaces and numbers in its own
  notation, so it is decoded and encoded again by orjson — by Python's ``json`` and as a plain
  dict when a run of 19+ digits might be an integer orjson cannot hold (then the page takes the
  renderer's DRF path exactly as the plain rows would);
- rendering in a time zone other than UTC (``render_datetime`` follows the current time zone,
  with Python's zone database, not PostgreSQL's): ``serializers.ListRendering`` then keeps the
  plain rows.

A ``Fragment`` is only understood by orjson; ``api/renderers.py`` decodes fragments again where
it falls back to DRF's encoder (indented and browsable output).
"""

import functools
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin

import orjson
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, F, Field, Model, TextField
from django.db.models.expressions import Combinable
from django.db.models.sql.compiler import SQLCompiler

from fleetwatch.incidents.models import INFINITY, IncidentTagRelation, Tag

_PLACEHOLDER = re.compile(r"\$(\w+)")
#: A number the renderer's orjson might not hold as Python's json does (as its parser checks).
_LONG_NUMBER = re.compile(r"[0-9]{19}")


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (our own JSON punctuation and field names only)."""
    assert not set(text) & {"'", "%", "$", "\\"}, text
    return f"'{text}'"


def _string(name: str) -> str:
    return f"COALESCE(to_json(${name})::text, 'null')"


def _number(name: str) -> str:
    return f"COALESCE((${name})::text, 'null')"


def _boolean(name: str) -> str:
    return f"CASE WHEN ${name} THEN 'true' ELSE 'false' END"


def _time(column: str) -> str:
    """``render_datetime`` in UTC: ``null``, ``"infinity"`` (``is_infinite``), or ISO 8601 with
    ``Z`` and the microseconds only when there are some."""
    return (
        f"CASE WHEN {column} IS NULL THEN 'null' "
        f"WHEN {column} >= '{INFINITY.isoformat()}'::timestamptz THEN '\"infinity\"' "
        f"ELSE '\"' || replace(to_char(({column}) AT TIME ZONE 'UTC', "
        f"'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || 'Z\"' END"
    )


def _json(*parts: str) -> str:
    """SQL concatenating ``parts`` (each SQL text of type ``text``)."""
    return " || ".join(parts)


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column is not None, name
    return field.column


def _tags() -> str:
    """The incident's tags as ``tags_by_incident`` lists them: oldest relation first."""
    q = connection.ops.quote_name

    def r(name: str) -> str:
        return f"r.{q(_column(IncidentTagRelation, name))}"

    def t(name: str) -> str:
        return f"t.{q(_column(Tag, name))}"

    item = _json(
        _literal('{"added_by":'),
        f"{r('added_by')}::text",
        _literal(',"added_time":'),
        _time(r("added_time")),
        _literal(',"tag":'),
        f"to_json({t('key')} || '=' || {t('value')})::text",
        _literal("}"),
    )
    return (
        f"COALESCE((SELECT '[' || string_agg({item}, ',' ORDER BY {r('id')}) || ']' "
        f"FROM {q(IncidentTagRelation._meta.db_table)} r "
        f"INNER JOIN {q(Tag._meta.db_table)} t ON {t('id')} = {r('tag')} "
        f"WHERE {r('incident')} = $id), '[]')"
    )


class _SQL(Expression):
    """SQL text with ``$name`` placeholders for expressions the ORM compiles (columns through
    the query's own joins and aliases, the state annotations of ``with_state``)."""

    def __init__(self, template: str, **parts: Any) -> None:
        super().__init__(output_field=TextField())
        self.template, self.parts = template, parts

    def get_source_expressions(self) -> list[Any]:
        return list(self.parts.values())

    def set_source_expressions(self, exprs: Sequence[Combinable | Expression]) -> None:
        self.parts = dict(zip(self.parts, exprs, strict=True))

    def as_sql(
        self, compiler: SQLCompiler, _connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[str | int, ...]]:
        compiled = {name: compiler.compile(part) for name, part in self.parts.items()}
        params: list[str | int] = []

        def substitute(match: re.Match[str]) -> str:
            sql, part_params = compiled[match[1]]
            params.extend(part_params)
            return str(sql)

        return f"({_PLACEHOLDER.sub(substitute, self.template)})", tuple(params)


def columns(version: str | None) -> dict[str, Expression]:
    """The ``.values()`` expressions of a row (besides ``id`` and ``start_time``, which the
    cursor reads), for a queryset annotated by ``IncidentQuerySet.with_state``: ``json``, the
    row's text (up to ``"metadata":`` when its metadata is not ``{}``), and ``join_base``,
    ``join_details`` and ``metadata_text``, NULL but for the rows ``render`` finishes. Built
    once per version (the ORM resolves copies of them, never them)."""
    return dict(_columns(version))


@functools.cache
def _columns(version: str | None) -> dict[str, Expression]:
    v1 = version == "v1"
    joined = "$details <> '' AND $base <> '' AND strpos($details, '://') = 0"
    row = _json(
        _literal('{"pk":'),
        _number("id"),
        _literal(',"start_time":'),
        _time("$start"),
        _literal(',"end_time":'),
        _time("$end"),
        _literal(',"source":{"pk":'),
        _number("source"),
        _literal(',"name":'),
        _string("name"),
        _literal(',"type":{"name":'),
        _string("type"),
        _literal('},"user":'),
        _number("user"),
        _literal(',"base_url":'),
        _string("base"),
        _literal('},"source_incident_id":'),
        _string("sid"),
        _literal(',"details_url":'),
        f"CASE WHEN {joined} THEN 'null' ELSE {_string('details')} END",
        _literal(',"description":'),
        _string("description"),
        *([] if v1 else [_literal(',"level":'), _number("level")]),
        _literal(',"ticket_url":'),
        _string("ticket"),
        _literal(',"tags":'),
        _tags(),
        _literal(',"stateful":'),
        "CASE WHEN $end IS NULL THEN 'false' ELSE 'true' END",
        _literal(',"open":'),
        _boolean("open"),
        _literal(',"acked":'),
        _boolean("acked"),
        _literal("}")
        if v1
        else "',\"metadata\":' || CASE WHEN $metadata = '{}'::jsonb THEN '{}}' ELSE '' END",
    )
    details, base = F("details_url"), F("source__base_url")
    result: dict[str, Expression] = {
        "json": _SQL(
            row,
            id=F("id"),
            start=F("start_time"),
            end=F("end_time"),
            source=F("source_id"),
            name=F("source__name"),
            type=F("source__type_id"),
            user=F("source__user_id"),
            base=base,
            sid=F("source_incident_id"),
            details=details,
            description=F("description"),
            level=F("level"),
            ticket=F("ticket_url"),
            open=F("is_open"),
            acked=F("is_acked"),
            metadata=F("metadata"),
        ),
        "join_base": _SQL(f"CASE WHEN {joined} THEN $base END", details=details, base=base),
        "join_details": _SQL(f"CASE WHEN {joined} THEN $details END", details=details, base=base),
    }
    if not v1:
        result["metadata_text"] = _SQL(
            "CASE WHEN $metadata = '{}'::jsonb THEN NULL ELSE ($metadata)::text END",
            metadata=F("metadata"),
        )
    return result


#: The ``details_url`` of a row whose URL ``render`` joins with its source's base (a JSON
#: string cannot hold it: its quotes would be escaped, so the first match is the field).
_UNJOINED = ',"details_url":null,'


def _with_metadata(text: str, metadata: str) -> orjson.Fragment | dict[str, Any]:
    """The row (``text`` up to ``"metadata":``) with its metadata, as the plain rows render it:
    re-encoded by orjson, or a dict holding Python's decoding of a long number."""
    if _LONG_NUMBER.search(metadata) is None:
        try:
            return orjson.Fragment(text + orjson.dumps(orjson.loads(metadata)).decode() + "}")
        except orjson.JSONDecodeError:  # e.g. nested deeper than orjson reads: Python's json
            pass
    row: dict[str, Any] = orjson.loads(text + "null}")
    row["metadata"] = json.loads(metadata)
    return row


def render(
    rows: list[dict[str, Any]], version: str | None
) -> list[orjson.Fragment | dict[str, Any]]:
    """The rows of ``columns(version)`` as the API's incident objects."""
    rendered: list[orjson.Fragment | dict[str, Any]] = []
    v1 = version == "v1"
    for row in rows:
        text = row["json"]
        if row["join_base"] is not None:
            joined = urljoin(row["join_base"], row["join_details"])
            at = text.index(_UNJOINED) + len(_UNJOINED) - len("null,")
            text = f"{text[:at]}{orjson.dumps(joined).decode()}{text[at + len('null') :]}"
        if v1 or row["metadata_text"] is None:
            rendered.append(orjson.Fragment(text))
        else:
            rendered.append(_with_metadata(text, row["metadata_text"]))
    return rendered
