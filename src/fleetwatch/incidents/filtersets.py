"""Incident filters: the one place where query parameters become SQL.

Stricter than Argus: a value that cannot be understood (``open=maybe``, ``level__lte=9``,
a malformed tag) is a 400 naming the parameter, never silently ignored.
"""

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import DurationField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone
from django_filters.fields import IsoDateTimeField

from fleetwatch import fastsql
from fleetwatch.fastsql.sources import find_source_ids
from fleetwatch.incidents.filterblob import tags_q
from fleetwatch.incidents.models import (
    Acknowledgement,
    Incident,
    Level,
    SourceSystem,
)
from fleetwatch.incidents.search import search_plan, search_q
from fleetwatch.incidents.tags import parse_tag
from fleetwatch.incidents.validation import MAX_ID, storable_datetime

#: ``filter_pk`` / ``notificationprofile_pk``: ``(parameter, pk, user) -> Q``, installed by the
#: notifications app when it loads (the incidents domain never imports notifications).
stored_filter_resolver: Callable[[str, int, Any], Q] | None = None

#: ``duration__gte`` is in minutes; a century is more than any incident lasts.
MAX_DURATION_MINUTES = 100 * 366 * 24 * 60
TRUE_VALUES = {"true", "True", "1"}
FALSE_VALUES = {"false", "False", "0"}


class StrictBooleanField(forms.Field):
    """``true``/``1`` or ``false``/``0`` (any case Argus takes); empty: no filter; else an error."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in TRUE_VALUES:
            return True
        if value in FALSE_VALUES:
            return False
        raise forms.ValidationError("Must be one of true, false, 1 or 0.")


class StrictBooleanFilter(filters.Filter):
    field_class = StrictBooleanField


class TagListField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        tags = []
        for text in value.split(","):
            try:
                tags.append(parse_tag(text))
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        return tags


class TagListFilter(filters.Filter):
    field_class = TagListField


class IdListField(forms.Field):
    """``1,2,3``: ids that fit the database's integer column, else a 400 naming the value."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        ids = []
        for text in value.split(","):
            try:
                pk = int(text.strip())
            except ValueError:
                raise forms.ValidationError(f'"{text}" is not a valid id.') from None
            if not 0 <= pk <= MAX_ID:
                raise forms.ValidationError(f"Ids are between 0 and {MAX_ID}.")
            ids.append(pk)
        return ids


class IdListFilter(filters.Filter):
    field_class = IdListField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, **kwargs)


class IntegerFilter(filters.NumberFilter):
    """A whole number (``level__lte=1.5`` is an error, not a silent ``1.5``)."""

    field_class = forms.IntegerField


class StorableDateTimeField(IsoDateTimeField):
    """ISO 8601, and within what the database can store once converted to UTC."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None:
            try:
                storable_datetime(value)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        return value


class DateTimeFilter(filters.IsoDateTimeFilter):
    field_class = StorableDateTimeField


class CharInFilter(filters.BaseInFilter, filters.CharFilter):
    pass


def source_ids(field: str, values: list[str]) -> list[int]:
    """The ids of the sources whose ``field`` (``name`` or ``type_id``) is one of ``values``
    (``fastsql.sources``: plain SQL, the ORM compiled it at ten times its cost)."""
    if fastsql.enabled():
        return find_source_ids(field, values)
    return sorted(
        SourceSystem.objects.filter(**{f"{field}__in": values}).values_list("pk", flat=True)
    )


class IncidentFilterSet(filters.FilterSet):
    open = StrictBooleanFilter(method="filter_open")
    acked = StrictBooleanFilter(method="filter_acked")
    stateful = StrictBooleanFilter(method="filter_stateful")
    ticket = StrictBooleanFilter(method="filter_ticket")
    hide_closed_acked = StrictBooleanFilter(method="filter_hide_closed_acked")
    end_time__isnull = StrictBooleanFilter(field_name="end_time", lookup_expr="isnull")
    token_expiry = StrictBooleanFilter(method="filter_token_expiry")
    tags = TagListFilter(method="filter_tags")
    # ``?device=<id>``: the incidents the inventory tied to that device, by the link itself
    # (the reverse relation ``device_link`` of ``inventory.IncidentDevice``, named as a lookup:
    # incidents do not import the inventory). Not by the ``device=<id>`` tag, whose key also
    # holds vendors' device names, one of which may be a number.
    device = IntegerFilter(method="filter_device", min_value=1, max_value=MAX_ID)
    level__lte = IntegerFilter(
        field_name="level",
        lookup_expr="lte",
        min_value=min(Level.values),
        max_value=max(Level.values),
    )
    source__id__in = IdListFilter(field_name="source_id")
    source__name__in = CharInFilter(method="filter_sources", field_name="name")
    source__type__in = CharInFilter(method="filter_sources", field_name="type_id")
    source_incident_id = filters.CharFilter()
    id__in = IdListFilter(field_name="id")
    start_time__gte = DateTimeFilter(field_name="start_time", lookup_expr="gte")
    start_time__lte = DateTimeFilter(field_name="start_time", lookup_expr="lte")
    end_time__gte = DateTimeFilter(field_name="end_time", lookup_expr="gte")
    end_time__lte = DateTimeFilter(field_name="end_time", lookup_expr="lte")
    duration__gte = filters.NumberFilter(
        method="filter_duration", min_value=0, max_value=MAX_DURATION_MINUTES
    )
    search = filters.CharFilter(method="filter_search")
    filter_pk = IntegerFilter(method="filter_stored_filter", min_value=1, max_value=MAX_ID)
    notificationprofile_pk = IntegerFilter(
        method="filter_stored_filter", min_value=1, max_value=MAX_ID
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        """As ``FilterSet.__init__``, but only the filters the query names are built.

        django-filter deep-copies every declared filter (and builds a form field for each) on
        every request; a parameter that is absent filters nothing and cannot be invalid, so
        only the named ones are copied. Per instance, nothing shared is mutated: thread-safe.
        """
        if data is None or prefix:
            super().__init__(data, queryset, request=request, prefix=prefix)
            return
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = True
        self.data = data
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {
            name: copy.deepcopy(filter_)
            for name, filter_ in self.base_filters.items()
            if name in data
        }
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self

    def filter_open(self, queryset, name, value):
        return queryset.open() if value else queryset.closed()

    def filter_acked(self, queryset, name, value):
        return queryset.acked() if value else queryset.not_acked()

    def filter_stateful(self, queryset, name, value):
        return queryset.stateful() if value else queryset.stateless()

    def filter_ticket(self, queryset, name, value):
        return queryset.exclude(ticket_url="") if value else queryset.filter(ticket_url="")

    def filter_hide_closed_acked(self, queryset, name, value):
        if not value:
            return queryset
        closed_and_acked = Q(end_time__lte=Now()) & Q(
            Exists(Acknowledgement.active_for(OuterRef("pk")))
        )
        return queryset.exclude(closed_and_acked)

    def filter_token_expiry(self, queryset, name, value):
        q = tags_q([("problem_type", "token_expiry")])
        return queryset.filter(q) if value else queryset.exclude(q)

    def filter_sources(self, queryset, name, value):
        """By source name or type: the (few) sources' ids first, then ``source_id IN (ids)``,
        which the planner estimates from its statistics. Joined to the source table it could
        not, and scanned the whole incident table for a page (60-150 ms at 100,000)."""
        return queryset.filter(source_id__in=source_ids(name, value))

    def filter_tags(self, queryset, name, value):
        return queryset.filter(tags_q(value))

    def filter_device(self, queryset, name, value):
        return queryset.filter(device_link__device_id=value)

    def filter_duration(self, queryset, name, value):
        if not value:
            return queryset
        minimum = timedelta(minutes=float(value))
        now = timezone.now()
        closed_long = Q(end_time__lte=now) & Q(duration__gte=minimum)
        open_long = Q(end_time__gt=now, start_time__lte=now - minimum)
        return queryset.annotate(
            duration=ExpressionWrapper(
                F("end_time") - F("start_time"), output_field=DurationField()
            )
        ).filter(closed_long | open_long)

    def filter_search(self, queryset, name, value):
        """Case-insensitive substring of the description or of any event's description, in
        the form ``fleetwatch.incidents.search`` chooses for this text and these data."""
        if not value:
            return queryset
        return queryset.filter(search_q(search_plan(value), value))

    def filter_stored_filter(self, queryset, name, value):
        """``filter_pk``: a stored filter the user may use (own or public);
        ``notificationprofile_pk``: one of the user's profiles (union of its filters).
        Someone else's (private) object is an error naming the parameter, like a missing one."""
        if stored_filter_resolver is None:
            raise ValidationError({name: ["Stored filters need the notifications app."]})
        user = getattr(self.request, "user", None)
        return queryset.filter(stored_filter_resolver(name, int(value), user))
