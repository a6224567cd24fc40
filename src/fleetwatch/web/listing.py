"""The incident list's query: the filter bar's fields run through the API's IncidentFilterSet
(no second implementation of any filter), sorted, one keyset page at a time.

The cursor carries the last row's ``(start_time, id)`` as in ``fleetwatch.api.pagination``:
each page is one indexed range query whatever its depth.
"""

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from fleetwatch.incidents.filtersets import IncidentFilterSet
from fleetwatch.incidents.models import Event, Incident, IncidentQuerySet, IncidentTagRelation

PAGE_SIZE = 50
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
SORTS = {"newest": ("-start_time", "-id"), "oldest": ("start_time", "id")}


@dataclass
class Listing:
    """One page of incidents for a filter bar; ``errors`` names each bad field."""

    rows: list[Incident] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    next_cursor: str = ""
    sort: str = "newest"
    params: dict[str, str] = field(default_factory=dict)

    def query(self, **extra: str) -> str:
        """The list's query string with ``extra`` replacing (or, empty, removing) values."""
        merged = {**self.params, "sort": self.sort, **extra}
        return urlencode({k: v for k, v in merged.items() if v})


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


def encode_cursor(incident: Incident) -> str:
    raw = urlencode({"p": incident.start_time.isoformat(), "i": incident.pk})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The position a cursor names, or None for a cursor that is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        parsed = QueryDict(raw)
        value = parse_datetime(parsed["p"])
        pk = int(parsed["i"])
    except (ValueError, KeyError, UnicodeDecodeError):
        return None
    if value is None or value.tzinfo is None:
        return None
    return value, pk


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


def page(data: QueryDict, user, size: int = PAGE_SIZE) -> Listing:
    """The page of incidents ``data`` (the list's query string) asks for."""
    params = filter_params(data)
    sort = data.get("sort", "newest")
    if sort not in SORTS:
        sort = "newest"
    listing = Listing(sort=sort, params=params)
    queryset, listing.errors = filtered(params, user)
    if listing.errors:
        return listing
    cursor = data.get("cursor", "")
    if cursor:
        position = decode_cursor(cursor)
        if position is None:
            listing.errors = {"cursor": ["Invalid cursor."]}
            return listing
        compare = TupleLessThan if sort == "newest" else TupleGreaterThan
        queryset = queryset.filter(compare(Tuple(F("start_time"), F("pk")), position))
    with_state = cast(IncidentQuerySet, queryset).with_state()
    rows = list(with_state.select_related("source").order_by(*SORTS[sort])[: size + 1])
    if len(rows) > size:
        rows = rows[:size]
        listing.next_cursor = encode_cursor(rows[-1])
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
    in plain SQL: building the ORM aggregate cost more than running it."""
    table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {table}")
        (value,) = cursor.fetchone()
    return value or 0
