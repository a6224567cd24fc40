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
from datetime import datetime
from urllib.parse import parse_qs, urlencode

from django.conf import settings
from django.db.models import F, QuerySet

# Row-value lookups: internal to Django (composite keys, 5.2+), pinned to 6.1 by pyproject.
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from fleetwatch import fastsql
from fleetwatch.api.validation import MAX_ID, storable_datetime
from fleetwatch.fastsql import pages

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
    """Descending by ``field`` then ``pk``; ``page`` returns the rows, ``response`` the body.

    ``position``: two other names of the same values to order and position a page by (e.g.
    the copies of ``start_time`` and ``id`` on a tag's relations, whose index holds them in
    page order: ``incidents/tag_pages.py``); the cursor still carries the row's ``field``
    and ``id``.
    """

    cursor_param = "cursor"

    def __init__(self, field: str, position: tuple[str, str] | None = None) -> None:
        self.field = field
        self.position = position or (field, "pk")

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
        f, key = self.position
        if value is None:
            return queryset.order_by(f"-{f}", f"-{key}")[: self.page_size + 1]
        if not reverse:
            after = TupleLessThan(Tuple(F(f), F(key)), (value, pk))
            return queryset.filter(after).order_by(f"-{f}", f"-{key}")[: self.page_size + 1]
        before = TupleGreaterThan(Tuple(F(f), F(key)), (value, pk))
        return queryset.filter(before).order_by(f, key)[: self.page_size + 1]

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
        """As ``paginate(build(), request)`` for a ``.values()`` queryset; with the fast SQL on,
        its page SQL is compiled by the ORM once per ``key`` (which must determine ``build()``'s
        SQL: everything but the cursor position), cursor kind and page size, then run as plain
        SQL (``fleetwatch.fastsql.pages``): ORM build and compile cost 1.5 ms of a page."""
        value, pk, reverse = self._start(request)
        rows = None
        if fastsql.enabled():
            rows = pages.run_compiled(self, key, build, value, pk, reverse)
        if rows is None:
            rows = list(self._page(build(), value, pk, reverse))
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
