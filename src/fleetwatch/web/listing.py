"""The incident list's query: the filter bar's fields run through the API's IncidentFilterSet
(no second implementation of any filter), sorted, one keyset page at a time.

Sortable by start time, level or source name, either way. The cursor carries the last row's
``(key, id)`` as in ``fleetwatch.api.pagination``: each page is one range query whatever its
depth, and ties on the key (a thousand incidents of level 3) are ordered by id, so paging
through them neither repeats nor skips a row.
"""

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from fleetwatch.incidents.filtersets import IncidentFilterSet
from fleetwatch.incidents.models import Event, Incident, IncidentQuerySet, IncidentTagRelation
from fleetwatch.incidents.validation import MAX_ID, storable_datetime

PAGE_SIZE = 50
#: The largest level a cursor may carry (a small-integer column) and the longest source name.
MAX_SMALL = 32767
MAX_TEXT = 1000
#: The filter bar's fields, each passed to IncidentFilterSet under the API's own name.
FILTER_FIELDS = (
    "open",
    "acked",
    "level__lte",
    "source__name__in",
    "source__type__in",
    "tags",
    "search",
    "start_time__gte",
    "start_time__lte",
    "filter_pk",  # a stored filter (own or public), as the API's ?filter_pk=
    "notificationprofile_pk",  # the union of one's profile's filters
)


@dataclass(frozen=True)
class Sort:
    """One column the list can be ordered by: ``key`` is a model path (a plain column, or one
    join away); ``kind`` parses the key's value back out of a cursor."""

    key: str
    label: str
    kind: type  # datetime, int or str
    first: str  # the direction a click on an unsorted column starts with: "asc" or "desc"


#: The sortable columns. Every order is ``(key, pk)`` in one direction, so ties on the key
#: (many incidents of one level or source) are broken by the primary key and a cursor that
#: carries ``(key, pk)`` of the last row continues exactly where the page ended.
COLUMNS = {
    "start_time": Sort("start_time", "Started", datetime, "desc"),
    "level": Sort("level", "Level", int, "asc"),
    "source": Sort("source__name", "Source", str, "asc"),
}
DEFAULT_SORT = "-start_time"
#: Every ``?sort=`` value: a column name, ``-`` for descending; the first cut's two names too.
SORTS = {name: name for column in COLUMNS for name in (column, f"-{column}")}
SORTS |= {"newest": "-start_time", "oldest": "start_time"}


def sort_label(sort: str) -> str:
    """``Level, ascending`` for ``level``: the filter bar's option text."""
    column = COLUMNS[sort.lstrip("-")]
    return f"{column.label}, {'descending' if sort.startswith('-') else 'ascending'}"


#: The filter bar's sort options, in the order shown.
SORT_CHOICES = [(name, sort_label(name)) for name in SORTS if name not in ("newest", "oldest")]


@dataclass
class Listing:
    """One page of incidents for a filter bar; ``errors`` names each bad field."""

    rows: list[Incident] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    next_cursor: str = ""
    sort: str = DEFAULT_SORT
    params: dict[str, str] = field(default_factory=dict)
    kiosk: bool = False

    def query(self, **extra: str) -> str:
        """The list's query string with ``extra`` replacing (or, empty, removing) values."""
        merged = {**self.params, "sort": self.sort, **extra}
        if self.kiosk:
            merged["kiosk"] = "1"
        return urlencode({k: v for k, v in merged.items() if v})

    @property
    def sort_choices(self) -> list[tuple[str, str]]:
        return SORT_CHOICES

    @property
    def columns(self) -> dict[str, dict[str, str]]:
        """Per sortable column: ``aria_sort`` (ascending, descending or none), the ``query``
        its header link leads to (the other direction if sorted by it, else its first
        direction; from the first page) and that link's ``action`` for screen readers."""
        columns = {}
        for name, column in COLUMNS.items():
            if self.sort.lstrip("-") == name:
                descending = self.sort.startswith("-")
                aria, target = ("descending", name) if descending else ("ascending", f"-{name}")
            else:
                aria, target = "none", name if column.first == "asc" else f"-{name}"
            columns[name] = {
                "aria_sort": aria,
                "query": self.query(sort=target),
                "action": f"sort {sort_label(target).split(', ')[1]}",
            }
        return columns


def filter_params(data: QueryDict) -> dict[str, str]:
    """The filter bar's non-empty values; ``datetime-local`` inputs get seconds added."""
    params = {}
    for name in FILTER_FIELDS:
        value = data.get(name, "").strip()
        if value:
            params[name] = value
    return params


def _api_data(params: dict[str, str]) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in params.items():
        if name in ("source__name__in", "source__type__in", "tags"):
            value = ",".join(part.strip() for part in value.split(",") if part.strip())
        data[name] = value
    return data


def encode_cursor(sort: str, incident: Incident) -> str:
    """The cursor after ``incident`` in the order ``sort``: its key value and pk, and the
    sort's name (a cursor is only good for the order it was made in)."""
    value: object = incident
    for part in COLUMNS[sort.lstrip("-")].key.split("__"):
        value = getattr(value, part)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    raw = urlencode({"s": sort, "p": text, "i": incident.pk})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_value(kind: type, text: str) -> object:
    """The key value a cursor carries, parsed and range-checked: ValueError if it is not one."""
    if kind is datetime:
        value = parse_datetime(text)
        if value is None or value.tzinfo is None:
            raise ValueError(text)
        return storable_datetime(value)
    if kind is int:
        number = int(text)
        if not 0 <= number <= MAX_SMALL:
            raise ValueError(text)
        return number
    if len(text) > MAX_TEXT or "\x00" in text:
        raise ValueError(text)
    return text


def decode_cursor(cursor: str, sort: str) -> tuple[object, int] | None:
    """The position a cursor names in the order ``sort``, or None for a cursor that is not one
    of ours or was made for another order."""
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        parsed = QueryDict(raw)
        if SORTS.get(parsed["s"]) != sort:
            return None
        value = _cursor_value(COLUMNS[sort.lstrip("-")].kind, parsed["p"])
        pk = int(parsed["i"])
    except (ValueError, KeyError, UnicodeDecodeError):
        return None
    if not 0 <= pk <= MAX_ID:
        return None
    return value, pk


def _ordered(queryset: QuerySet, sort: str, position: tuple[object, int] | None) -> QuerySet:
    """``queryset`` in the order ``sort``, from after ``position`` when one is given: a row
    comparison ``(key, pk) > (value, pk)`` (``<`` descending), one index range per page."""
    key = COLUMNS[sort.lstrip("-")].key
    descending = sort.startswith("-")
    if position is not None:
        compare = TupleLessThan if descending else TupleGreaterThan
        queryset = queryset.filter(compare(Tuple(F(key), F("pk")), position))
    sign = "-" if descending else ""
    return queryset.order_by(f"{sign}{key}", f"{sign}pk")


def filtered(params: dict[str, str], user) -> tuple[QuerySet, dict[str, list[str]]]:
    """The incidents the filter bar selects, through the API's filter set."""
    filterset = IncidentFilterSet(
        _api_data(params), queryset=Incident.objects.all(), request=_Request(user)
    )
    if not filterset.is_valid():
        return Incident.objects.none(), {k: list(v) for k, v in filterset.errors.items()}
    try:
        return filterset.qs, {}
    except ValidationError as exc:  # a stored filter that is not there, or not the user's
        return Incident.objects.none(), exc.message_dict if hasattr(exc, "error_dict") else {
            "filter": exc.messages
        }


class _Request:
    """What IncidentFilterSet reads of a request: the user (stored filters are per user)."""

    def __init__(self, user) -> None:
        self.user = user


def page(data: QueryDict, user, size: int | None = None, kiosk: bool = False) -> Listing:
    """The page of incidents ``data`` (the list's query string) asks for."""
    size = size or PAGE_SIZE
    params = filter_params(data)
    sort = SORTS.get(data.get("sort", ""), DEFAULT_SORT)
    listing = Listing(sort=sort, params=params, kiosk=kiosk)
    queryset, listing.errors = filtered(params, user)
    if listing.errors:
        return listing
    position = None
    if cursor := data.get("cursor", ""):
        position = decode_cursor(cursor, sort)
        if position is None:
            listing.errors = {"cursor": ["Invalid cursor."]}
            return listing
    with_state = cast(IncidentQuerySet, queryset).with_state().select_related("source")
    rows = list(_ordered(with_state, sort, position)[: size + 1])
    if len(rows) > size:
        rows = rows[:size]
        listing.next_cursor = encode_cursor(sort, rows[-1])
    attach_tags(rows)
    listing.rows = rows
    return listing


def attach_tags(rows: list[Incident]) -> None:
    """``tag_texts`` (``key=value``) on each row, from one query: a prefetch builds a
    queryset per row when the template reads it, which cost a third of the page."""
    texts: dict[int, list[str]] = {row.pk: [] for row in rows}
    relations = (
        IncidentTagRelation.objects.filter(incident_id__in=list(texts))
        .order_by("added_time", "id")
        .values_list("incident_id", "tag__key", "tag__value")
    )
    for pk, key, value in relations:
        texts[pk].append(f"{key}={value}")
    for row in rows:
        setattr(row, "tag_texts", texts[row.pk])  # noqa: B010 (not a model field)


def change_marker() -> int:
    """A number that grows whenever an incident starts, ends, changes or is acknowledged: the
    newest event's id (every one of those changes is recorded as an event). One index lookup,
    in plain SQL: building the ORM aggregate cost more than running it.

    It is the whole of the live poll's work, so it is also the request's connection health
    check: with ``conn_health_checks`` Django would first send its own ``SELECT 1`` (a second
    round trip, about 0.3 ms of the poll's 0.8 ms). A connection that died since the last
    request fails this query instead; it is closed and the query runs once more on a new one,
    which is what the health check would have done.
    """
    connection.health_check_done = True  # type: ignore[attr-defined]  # (not in the stubs)
    try:
        return _newest_event_id()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        connection.close()
        return _newest_event_id()


def _newest_event_id() -> int:
    table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {table}")
        (value,) = cursor.fetchone()
    return value or 0
