"""The stored filter language (Argus's filter blob): one definition, two evaluations.

A filter blob is a JSON object such as ``{"sourceSystemIds": [3], "tags": ["host=r1"],
"open": true}``. :func:`parse_filter` validates it once into a :class:`FilterSpec`, which
answers in SQL (:meth:`FilterSpec.q`, for listings, previews and ``?filter_pk=``) and in memory
(:meth:`FilterSpec.matches`, for matching events to notification profiles and planned
maintenance without a query per profile). A property test (``tests/incidents/
test_filterblob_equivalence.py``) checks on random incidents and filters that both agree.

Semantics, where Argus's two engines (SQL ``QuerySetFilter``, Python ``FilterWrapper``)
disagree, and where Fleetwatch adds to them:

* All keys are ANDed. A key that is absent, ``null`` or an empty list sets no condition.
* **An empty filter matches nothing** (as Argus), so a profile with a forgotten filter stays
  silent rather than sending everything. Inside ``any``/``not`` an empty filter is refused.
* ``tags``: the same key ⇒ any of its values, different keys ⇒ all of them — as Argus's SQL
  and as the incident list's ``tags=`` parameter (Argus's Python engine wants every tag).
* ``open: false`` means *closed* (stateful and ended), as the list's ``open=false``; stateless
  incidents are neither open nor closed (Argus's Python engine counts them as not open).
* ``acked``: has an acknowledgement that has not expired; ``stateful``: has an end time
  (NULL = stateless); ``maxlevel``: ``level <= maxlevel`` (1 = critical … 5); open, acked and
  stateful use the definitions of :class:`~fleetwatch.incidents.models.IncidentQuerySet`.
* ``hide_closed_acked: true`` leaves out incidents that are closed *and* acked.
* ``event_types``: when matching an event, the event's own type must be one of them; when
  listing incidents, the incident must have *some* event of one of them.
* Fleetwatch additions: ``any: [blob, ...]`` (at least one of them) and ``not: blob``, nested
  up to :data:`MAX_DEPTH` levels: ``{"any": [{"tags": ["host=a"]}, {"tags": ["host=b"]}],
  "not": {"maxlevel": 5, "not": {"maxlevel": 4}}}``.
* Stricter than Argus: unknown keys and ill-typed values are a ValidationError naming them
  (``{"colour": ["Unknown filter key."]}``, ``{"any.1.maxlevel": [...]}``), never dropped.

This module is free of notifications, DRF and the API: the incident list uses it too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now

from fleetwatch import fastsql
from fleetwatch.fastsql import plans
from fleetwatch.fastsql.tags import find_tags, find_tags_with_shares
from fleetwatch.incidents.models import (
    Acknowledgement,
    Event,
    Incident,
    IncidentTagRelation,
    Level,
    SourceSystem,
)
from fleetwatch.incidents.models import Tag as TagRow
from fleetwatch.incidents.tags import parse_tag
from fleetwatch.incidents.validation import MAX_ID, NUL_MESSAGE

#: How deeply ``any``/``not`` may nest (the top level is depth 1).
MAX_DEPTH = 5
#: The most entries any one list in a filter may have.
MAX_LIST = 1000

TRISTATE_KEYS = ("open", "acked", "stateful")
KNOWN_KEYS = frozenset(
    {
        "sourceSystemIds",
        "source_types",
        "tags",
        *TRISTATE_KEYS,
        "maxlevel",
        "event_types",
        "hide_closed_acked",
        "any",
        "not",
    }
)
EVENT_TYPES = frozenset(Event.Type.values)

Tag = tuple[str, str]


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What a filter needs to know about an incident, loaded once for every profile to use.

    ``open`` and ``acked`` are as the database saw them when loaded (``end_time > now``, an
    unexpired acknowledgement); ``event_types`` are the types of all its events (listing
    semantics of ``event_types``).
    """

    pk: int
    source_id: int
    source_type: str
    tags: frozenset[Tag]
    open: bool
    acked: bool
    stateful: bool
    level: int
    event_types: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """A validated filter blob. Build it with :func:`parse_filter` (or :func:`union`)."""

    source_ids: frozenset[int] = frozenset()
    source_types: frozenset[str] = frozenset()
    #: key → accepted values (any of them); every key must be satisfied.
    tags: tuple[tuple[str, frozenset[str]], ...] = ()
    open: bool | None = None
    acked: bool | None = None
    stateful: bool | None = None
    maxlevel: int | None = None
    event_types: frozenset[str] = frozenset()
    hide_closed_acked: bool = False
    any: tuple[FilterSpec, ...] = ()
    not_: FilterSpec | None = None
    #: Every one must match; only built by :func:`intersection` (no blob key).
    all_: tuple[FilterSpec, ...] = ()

    #: The in-memory test, compiled once from the conditions that are set (see _compile).
    _check: Callable[[IncidentFacts, str | None], bool] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_check", self._compile())

    @property
    def is_empty(self) -> bool:
        """No condition at all: such a filter matches nothing (Argus's rule)."""
        return self._check is _never

    def matches(self, facts: IncidentFacts, event_type: str | None = None) -> bool:
        """Does the incident (and, if given, the event of ``event_type``) pass the filter?

        Without ``event_type``, ``event_types`` asks whether the incident has any event of
        those types (as the listing does); with it, whether the event is of one of them.
        """
        return self._check(facts, event_type)

    def _compile(self) -> Callable[[IncidentFacts, str | None], bool]:
        """One small function per condition that is set, cheapest first, ANDed.

        Matching runs for every profile on every event: skipping unset keys and attribute
        look-ups keeps a profile to about a microsecond.
        """
        checks = [*self._field_checks(), *self._nested_checks()]
        if not checks:
            return _never
        if len(checks) == 1:
            return checks[0]
        checks_ = tuple(checks)

        def all_hold(facts: IncidentFacts, event_type: str | None) -> bool:
            for check in checks_:
                if not check(facts, event_type):
                    return False
            return True

        return all_hold

    def _field_checks(self) -> list[Callable[[IncidentFacts, str | None], bool]]:
        """The checks on the incident's own fields (level, source, state), cheapest first."""
        checks: list[Callable[[IncidentFacts, str | None], bool]] = []
        if (maxlevel := self.maxlevel) is not None:
            checks.append(lambda f, e: f.level <= maxlevel)
        if source_ids := self.source_ids:
            checks.append(lambda f, e: f.source_id in source_ids)
        if source_types := self.source_types:
            checks.append(lambda f, e: f.source_type in source_types)
        if self.stateful is not None:
            stateful = self.stateful
            checks.append(lambda f, e: f.stateful == stateful)
        if self.open is True:
            checks.append(lambda f, e: f.open)
        elif self.open is False:
            checks.append(lambda f, e: f.stateful and not f.open)
        if self.acked is not None:
            acked = self.acked
            checks.append(lambda f, e: f.acked == acked)
        if self.hide_closed_acked:
            checks.append(lambda f, e: not (f.stateful and not f.open and f.acked))
        return checks

    def _nested_checks(self) -> list[Callable[[IncidentFacts, str | None], bool]]:
        """The checks on sets (tags, event types) and on the nested specs, after the cheap ones."""
        checks: list[Callable[[IncidentFacts, str | None], bool]] = []
        for key, values in self.tags:
            wanted = frozenset((key, value) for value in values)
            checks.append(_any_tag_of(wanted))
        if event_types := self.event_types:
            checks.append(
                lambda f, e: (
                    (e in event_types)
                    if e is not None
                    else not event_types.isdisjoint(f.event_types)
                )
            )
        if self.any:
            alternatives = tuple(spec._check for spec in self.any)
            checks.append(lambda f, e: any(check(f, e) for check in alternatives))
        if self.all_:
            every = tuple(spec._check for spec in self.all_)
            checks.append(lambda f, e: all(check(f, e) for check in every))
        if self.not_ is not None:
            negated = self.not_._check
            checks.append(lambda f, e: not negated(f, e))
        return checks

    def q(self) -> Q:
        """The same filter as a ``Q`` over :class:`~fleetwatch.incidents.models.Incident`.

        Every condition on related rows is an ``EXISTS`` or ``IN`` subquery, never a join, so
        no incident is returned twice and the plan stays an index probe per condition.
        """
        if self.is_empty:
            return NOTHING
        return self._related_q(self._fields_q(Q()))

    def _fields_q(self, q: Q) -> Q:
        """``q`` ANDed with the conditions on the incident's own fields, source and tags."""
        if self.source_ids:
            q &= Q(source_id__in=sorted(self.source_ids))
        if self.source_types:
            q &= Q(
                source_id__in=SourceSystem.objects.filter(
                    type_id__in=sorted(self.source_types)
                ).values("pk")
            )
        if self.tags:
            q &= tags_q((key, value) for key, values in self.tags for value in sorted(values))
        if self.open is not None:
            q &= OPEN if self.open else CLOSED
        if self.acked is not None:
            q &= acked_q() if self.acked else ~acked_q()
        if self.stateful is not None:
            q &= Q(end_time__isnull=not self.stateful)
        if self.maxlevel is not None:
            q &= Q(level__lte=self.maxlevel)
        return q

    def _related_q(self, q: Q) -> Q:
        """``q`` ANDed with the conditions on events, acknowledgements and the nested specs."""
        if self.event_types:
            q &= Q(
                Exists(
                    Event.objects.filter(incident=OuterRef("pk"), type__in=sorted(self.event_types))
                )
            )
        if self.hide_closed_acked:
            q &= ~(CLOSED & acked_q())
        if self.any:
            any_q = NOTHING
            for spec in self.any:
                any_q |= spec.q()
            q &= any_q
        for spec in self.all_:
            q &= spec.q()
        if self.not_ is not None:
            q &= ~self.not_.q()
        return q


def _never(facts: IncidentFacts, event_type: str | None) -> bool:
    return False


def _any_tag_of(wanted: frozenset[Tag]) -> Callable[[IncidentFacts, str | None], bool]:
    """A check: the incident has one of ``wanted`` (a function, so each check binds its own)."""
    return lambda f, e: not wanted.isdisjoint(f.tags)


EMPTY = FilterSpec()
#: Matches no row (``pk IN ()`` short-circuits to an empty result without a query).
NOTHING = Q(pk__in=[])
OPEN = Q(end_time__isnull=False, end_time__gt=Now())
CLOSED = Q(end_time__isnull=False, end_time__lte=Now())


def acked_q() -> Q:
    """Has an unexpired acknowledgement: the definition ``IncidentQuerySet.acked`` uses."""
    return Q(Exists(Acknowledgement.active_for(OuterRef("pk"))))


def tags_q(tags: Iterable[Tag]) -> Q:
    """Same key ⇒ any of its values; different keys ⇒ all of them (Argus's SQL tag semantics,
    and the incident list's ``tags=``).

    The tags' ids are looked up first (one small query on the unique ``(key, value)`` index):
    with the ids in the SQL the planner knows from its statistics how many incidents carry
    each tag. Joined to the tag table instead it assumed the average for every tag, and drove
    a two-tag filter from a tag on every incident: 1.4 s a page at 100,000 incidents, 18 s at
    1,000,000. With the fast SQL on PostgreSQL, a tag on many incidents is then matched
    in the form that suits their number (``fastsql.plans.tag_form``). (The incident list's
    own ``tags=`` pages read the tag's relations in page order instead: ``tag_pages``.)
    """
    return tags_plan_q(tags_plan(tags))


#: A resolved ``tags=``: per tag key, its tags' ids and how their incidents are matched.
TagsPlan = tuple[tuple[tuple[int, ...], plans.TagForm], ...]
#: Per tag key of a ``tags=`` (in the order given), the ids of its stored tags; none stored
#: for a key means that nothing matches.
TagIds = dict[str, tuple[int, ...]]
#: The plan of a ``tags=`` of which some key has no stored tag: nothing matches.
MATCHES_NOTHING: TagsPlan = (((), ("none", ())),)


def stored_tag_ids(tags: Iterable[Tag], *, shares: bool = False) -> tuple[TagIds, dict[int, float]]:
    """The ids of the stored tags among ``tags``, per key (one query), and with ``shares``
    (PostgreSQL with the fast SQL on; else none) each one's estimated share of all tag
    relations, from the planner's statistics in the same query."""
    by_key: dict[str, list[str]] = defaultdict(list)
    for key, value in tags:
        by_key[key].append(value)
    if not by_key:
        return {}, {}
    ids_by_key: dict[str, list[int]] = {key: [] for key in by_key}
    found_shares = {}
    for pk, key, share in _tag_ids(by_key, shares):
        ids_by_key[key].append(pk)
        if share is not None:
            found_shares[pk] = share
    return {key: tuple(sorted(ids)) for key, ids in ids_by_key.items()}, found_shares


def tags_plan(tags: Iterable[Tag]) -> TagsPlan:
    """``tags_q`` as plain data (its queries run here)."""
    return tag_forms(stored_tag_ids(tags)[0])


def tag_forms(ids_by_key: TagIds) -> TagsPlan:
    """The ``tags_plan`` of tags already looked up (``stored_tag_ids``)."""
    plan = []
    for tag_ids in ids_by_key.values():
        if not tag_ids:
            return MATCHES_NOTHING
        relations = IncidentTagRelation.objects.filter(tag_id__in=tag_ids).order_by()
        if fastsql.postgresql():
            form = plans.tag_form(relations, Incident.objects.order_by())
        else:
            form = ("exists", ())
        plan.append((tag_ids, form))
    return tuple(plan)


def _tag_ids(by_key: Mapping[str, list[str]], shares: bool) -> list[tuple[int, str, float | None]]:
    """``(id, key, share)`` of the stored tags among ``by_key``'s (``stored_tag_ids``); plain
    SQL with the fast SQL on (``fastsql.tags``: the ORM compiled this lookup at more than it
    cost to run)."""
    if fastsql.enabled():
        pairs = {(key, value) for key, values in by_key.items() for value in values}
        keys, wanted_values = {key for key, _ in pairs}, {value for _, value in pairs}
        if shares and fastsql.postgresql():
            rows = find_tags_with_shares(keys, wanted_values)
        else:
            rows = [(pk, key, value, None) for pk, key, value in find_tags(keys, wanted_values)]
        return [(pk, key, share) for pk, key, value, share in rows if (key, value) in pairs]
    wanted = Q()
    for key, values in by_key.items():
        wanted |= Q(key=key, value__in=values)
    return [(pk, key, None) for pk, key in TagRow.objects.filter(wanted).values_list("pk", "key")]


def tags_plan_q(plan: TagsPlan) -> Q:
    """The ``Q`` of a ``tags_plan``."""
    q = Q()
    for tag_ids, form in plan:
        relations = IncidentTagRelation.objects.filter(tag_id__in=tag_ids).order_by()
        q &= plans.tag_form_q(form, relations)
    return q


def union(specs: Iterable[FilterSpec]) -> FilterSpec:
    """The filters of a notification profile: an incident matching any of them matches.

    No filters (or only empty ones) match nothing. The result works in SQL and in memory
    like any other spec, so a profile's listing and its notifications agree.
    """
    return FilterSpec(any=tuple(specs))


def intersection(specs: Iterable[FilterSpec]) -> FilterSpec:
    """Every one of ``specs`` must match (planned maintenance's filters, as Argus's).

    No filters, or any empty one, match nothing: a maintenance must say what it silences.
    """
    return FilterSpec(all_=tuple(specs))


# -- parsing ---------------------------------------------------------------------------------


def parse_filter(blob: object) -> FilterSpec:
    """Validate a stored filter blob; ValidationError naming each bad key (dotted path inside
    ``any``/``not``: ``any.0.tags``)."""
    errors: dict[str, list[str]] = {}
    spec = _parse(blob, "", 1, errors)
    if errors:
        raise ValidationError(errors)
    return spec


def _parse(blob: object, path: str, depth: int, errors: dict[str, list[str]]) -> FilterSpec:
    where = path.rstrip(".") or "filter"
    if not isinstance(blob, Mapping):
        errors.setdefault(where, []).append("A filter must be a JSON object.")
        return EMPTY
    if depth > MAX_DEPTH:
        errors.setdefault(where, []).append(f"Filters may nest at most {MAX_DEPTH} levels deep.")
        return EMPTY
    for key in blob:
        if key not in KNOWN_KEYS:
            errors.setdefault(f"{path}{key}", []).append("Unknown filter key.")
    values: dict[str, Any] = {}

    def fail(key: str, message: str) -> None:
        errors.setdefault(f"{path}{key}", []).append(message)

    values["source_ids"] = _parse_source_ids(blob, fail)
    values["source_types"] = _parse_source_types(blob, fail)
    values["tags"] = _parse_tags(blob, fail)
    values.update(_parse_tristates(blob, fail))
    if (maxlevel := _parse_maxlevel(blob, fail)) is not None:
        values["maxlevel"] = maxlevel
    values["event_types"] = _parse_event_types(blob, fail)
    hide = blob.get("hide_closed_acked")
    if hide is not None and not isinstance(hide, bool):
        fail("hide_closed_acked", "Must be true or false.")
    values["hide_closed_acked"] = bool(hide)
    if (any_ := _parse_any(blob, path, depth, errors, fail)) is not None:
        values["any"] = any_
    if blob.get("not") is not None:
        values["not_"] = _nested(blob["not"], f"{path}not.", depth, errors)
    return FilterSpec(**values)


Fail = Callable[[str, str], None]


def _parse_source_ids(blob: Mapping[str, Any], fail: Fail) -> frozenset[int]:
    ids = _list(blob, "sourceSystemIds", fail)
    for item in ids:
        if not isinstance(item, int) or isinstance(item, bool) or not 1 <= item <= MAX_ID:
            fail("sourceSystemIds", f"{item!r} is not a valid source system id.")
    return frozenset(i for i in ids if isinstance(i, int))


def _parse_source_types(blob: Mapping[str, Any], fail: Fail) -> frozenset[str]:
    types = _list(blob, "source_types", fail)
    for item in types:
        if not isinstance(item, str) or not item.strip():
            fail("source_types", f"{item!r} is not a source type name.")
        elif "\x00" in item:
            fail("source_types", NUL_MESSAGE)
    return frozenset(t.strip().lower() for t in types if isinstance(t, str))


def _parse_tags(blob: Mapping[str, Any], fail: Fail) -> tuple[tuple[str, frozenset[str]], ...]:
    tags: dict[str, set[str]] = defaultdict(set)
    for item in _list(blob, "tags", fail):
        try:
            key, value = parse_tag(item)
        except ValueError as exc:
            fail("tags", f"{item!r}: {exc}")
        else:
            tags[key].add(value)
    return tuple(sorted((k, frozenset(v)) for k, v in tags.items()))


def _parse_tristates(blob: Mapping[str, Any], fail: Fail) -> dict[str, bool | None]:
    """The valid ones of ``open``, ``acked``, ``stateful`` (an invalid one is left out)."""
    values: dict[str, bool | None] = {}
    for key in TRISTATE_KEYS:
        flag = blob.get(key)
        if flag is not None and not isinstance(flag, bool):
            fail(key, "Must be true, false or null.")
        else:
            values[key] = flag
    return values


def _parse_maxlevel(blob: Mapping[str, Any], fail: Fail) -> int | None:
    maxlevel = blob.get("maxlevel")
    if maxlevel is None:
        return None
    if isinstance(maxlevel, bool) or not isinstance(maxlevel, int):
        fail("maxlevel", "A whole number is required.")
    elif not min(Level.values) <= maxlevel <= max(Level.values):
        fail("maxlevel", f"Must be between {min(Level.values)} and {max(Level.values)}.")
    else:
        return maxlevel
    return None


def _parse_event_types(blob: Mapping[str, Any], fail: Fail) -> frozenset[str]:
    event_types = _list(blob, "event_types", fail)
    for item in event_types:
        if item not in EVENT_TYPES:
            fail("event_types", f'"{item}" is not a valid choice.')
    return frozenset(t for t in event_types if t in EVENT_TYPES)


def _parse_any(
    blob: Mapping[str, Any], path: str, depth: int, errors: dict[str, list[str]], fail: Fail
) -> tuple[FilterSpec, ...] | None:
    """The ``any`` alternatives, or None when absent or invalid."""
    if blob.get("any") is None:
        return None
    items = blob["any"]
    if not isinstance(items, list) or not items:
        fail("any", "Must be a non-empty list of filters.")
    elif len(items) > MAX_LIST:
        fail("any", f"At most {MAX_LIST} filters.")
    else:
        return tuple(
            _nested(item, f"{path}any.{n}.", depth, errors) for n, item in enumerate(items)
        )
    return None


def _nested(blob: object, path: str, depth: int, errors: dict[str, list[str]]) -> FilterSpec:
    before = len(errors)
    spec = _parse(blob, path, depth + 1, errors)
    if spec.is_empty and len(errors) == before:
        errors.setdefault(path.rstrip("."), []).append(
            "An empty filter here would mean nothing; give at least one condition."
        )
    return spec


def _list(blob: Mapping[str, Any], key: str, fail: Callable[[str, str], None]) -> list[Any]:
    value = blob.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        fail(key, "Must be a list.")
        return []
    if len(value) > MAX_LIST:
        fail(key, f"At most {MAX_LIST} items.")
        return []
    return value


# -- facts -----------------------------------------------------------------------------------


def facts_for(
    incidents: Iterable[Incident | int], *, with_event_types: bool = True
) -> dict[int, IncidentFacts]:
    """Facts of the given incidents (objects or pks), fresh from the database, in three
    queries however many there are: the incidents with their state, their tags, and the
    types of their events.

    ``with_event_types=False`` skips the third query, for matching *events* (where
    ``event_types`` asks about the event's own type, never the incident's history).
    """
    pks = sorted({i if isinstance(i, int) else i.pk for i in incidents})
    if not pks:
        return {}
    # django-stubs can't see the fields with_state() annotates (is_open, is_acked).
    rows = (
        Incident.objects.filter(pk__in=pks)  # type: ignore[misc]
        .with_state()
        .values_list(
            "pk", "source_id", "source__type_id", "end_time", "level", "is_open", "is_acked"
        )
        .order_by()
    )
    tags: dict[int, set[Tag]] = defaultdict(set)
    for pk, key, value in IncidentTagRelation.objects.filter(incident_id__in=pks).values_list(
        "incident_id", "tag__key", "tag__value"
    ):
        tags[pk].add((key, value))
    event_types: dict[int, set[str]] = defaultdict(set)
    if with_event_types:
        for pk, type_ in (
            Event.objects.filter(incident_id__in=pks)
            .values_list("incident_id", "type")
            .order_by()
            .distinct()
        ):
            event_types[pk].add(type_)
    return {
        pk: IncidentFacts(
            pk=pk,
            source_id=source_id,
            source_type=source_type,
            tags=frozenset(tags[pk]),
            open=bool(is_open),
            acked=bool(is_acked),
            stateful=end_time is not None,
            level=level,
            event_types=frozenset(event_types[pk]),
        )
        for pk, source_id, source_type, end_time, level, is_open, is_acked in rows
    }
