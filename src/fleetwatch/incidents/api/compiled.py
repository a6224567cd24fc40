"""The list filters whose page SQL is compiled once (``fastsql.pages``), and the key that
determines it.

A filtered page used to leave the compiled path and cost about twice an unfiltered one (the
filterset's form, then the ORM building and compiling the page query). Here the filters of
the common list queries are read by the filterset's own form fields (so the same values are
accepted and the same 400s given), their data-dependent parts resolved with the filterset's
own functions (``source_ids`` for source names and types, ``search_plan`` for ``search=``: the
same queries, once), and the result is a key that determines the page's SQL. ``tags=`` is read
in the tag's own page order (``incidents/tag_pages.py``: its plan keys the SQL, and the page is
ordered and positioned by the tag relation's copy of the keyset, ``CompiledFilters.position``).
The queryset is built — by the filterset's own filter methods but for ``tags=`` — only when
that key has no compiled SQL yet (or with the fast SQL off).
``tests/incidents/test_compiled_filters.py`` compares both paths over many combinations.
"""

from collections.abc import Callable, Hashable
from typing import Any

from django import forms
from django.db.models import QuerySet
from django_filters.constants import EMPTY_VALUES
from rest_framework.exceptions import ValidationError

from fleetwatch.incidents import tag_pages
from fleetwatch.incidents.filtersets import IncidentFilterSet, source_ids
from fleetwatch.incidents.search import search_plan, search_q

#: Filters a compiled page takes, in the filterset's order (the order its queries run in).
COMPILED_FILTERS = tuple(
    name
    for name in IncidentFilterSet.base_filters
    if name
    in {
        "open",
        "acked",
        "stateful",
        "ticket",
        "end_time__isnull",
        "tags",
        "level__lte",
        "source__id__in",
        "source__name__in",
        "source__type__in",
        "search",
    }
)
_fields: dict[str, forms.Field] = {}
Apply = Callable[[QuerySet[Any]], QuerySet[Any]]


def _field(name: str) -> forms.Field:
    """The form field the filterset builds for ``name`` (stateless: built once, shared)."""
    field = _fields.get(name)
    if field is None:
        filter_ = IncidentFilterSet.base_filters[name]
        field = _fields[name] = filter_.field_class(**filter_.extra)
    return field


def cleaned(params: Any) -> dict[str, Any]:
    """The compiled filters in ``params`` as the filterset's form cleans them, or its 400."""
    values, errors = {}, {}
    for name in COMPILED_FILTERS:
        if name in params:
            field = _field(name)
            try:
                values[name] = field.clean(field.widget.value_from_datadict(params, {}, name))
            except forms.ValidationError as exc:
                errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return {name: value for name, value in values.items() if value not in EMPTY_VALUES}


def _resolve(name: str, value: Any) -> tuple[Hashable, Apply]:
    """``value`` of filter ``name`` as a key part and the filtering it stands for."""
    if name == "tags":
        plan = tag_pages.plan(value)
        return plan, lambda queryset: tag_pages.apply(plan, queryset)
    if name == "search":
        form = search_plan(value)
        return (form, value), lambda queryset: queryset.filter(search_q(form, value))
    if name in ("source__name__in", "source__type__in"):
        field = IncidentFilterSet.base_filters[name].field_name
        ids = tuple(source_ids(field, value))
        return ids, lambda queryset: queryset.filter(source_id__in=ids)
    filter_ = IncidentFilterSet.base_filters[name]
    part = tuple(value) if isinstance(value, list) else value
    if filter_.method:
        method = getattr(IncidentFilterSet({}), filter_.method)
        return part, lambda queryset: method(queryset, name, value)
    return part, lambda queryset: filter_.filter(queryset, value)


class CompiledFilters:
    """The compiled filters of one request: ``key`` determines the page SQL of ``apply``;
    ``position``: what the page is ordered and positioned by when not the incident's own
    ``start_time`` and ``id`` (``KeysetCursorPagination``), part of the key."""

    def __init__(self, params: Any) -> None:
        parts, self.steps = [], []
        self.position: tuple[str, str] | None = None
        for name, value in cleaned(params).items():
            part, step = _resolve(name, value)
            parts.append((name, part))
            self.steps.append(step)
            if isinstance(part, tag_pages.TagPagePlan):
                self.position = part.position
        self.key: tuple[Any, ...] = tuple(parts)

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """``queryset`` filtered as the filterset filters it."""
        for step in self.steps:
            queryset = step(queryset)
        return queryset
