"""Steering PostgreSQL's plan for filtered list pages, from the planner's own row estimates.

A page is "the newest 100 incidents that match". Two plans answer it, each fast where the
other is slow:

- *gather*: find every match through an index, then sort them. Cost grows with the matches;
- *walk*: read incidents in page order (``incident_page_order``) and check each row until the
  page is full. Cost grows with incidents / matches (how far apart the matches are).

For ``search=`` PostgreSQL cannot choose between them itself (``description LIKE … OR EXISTS
(event LIKE …)`` can use no index, and a form that gathers through the indexes cannot walk);
for a tag it can, but it walks with an index probe per row (4 µs) rather than one hash of the
tag's incidents (under 1 µs a row), and gathers through random incident lookups. So the
caller builds both forms and asks here, from ``EXPLAIN`` (~0.1-0.3 ms, from the statistics,
reading no rows), which one costs less.

Search (``incidents/search.py``): one ``EXPLAIN`` (``contains_estimates``) estimates the
incidents, the text's matches in descriptions and in events, and those of the text's parts.
A cost model in µs measured at 1,000,000 incidents (``GATHER_US`` …) chooses gather or walk
(``few_matches``), for a walk whether the incidents of the matching events are hashed or the
events of each walked row probed (``hash_events``), and ``selective_parts`` the parts that the
trigram index condition asks for. Measured at 1,000,000 incidents (database CPU of the page
query, warm; before → after): a rare word (``host-4242``, 220 matches) 13.7 → 1.8 ms — the
whole text's index condition read the posting lists of ``hos``, ``ost`` and ``st `` that
every incident has —, a word only in events 0.8 → 0.2 ms, a common word 0.7 → 0.5 ms, a word
in every tenth incident's events 122 → 2.0 ms (100,000 event rows hashed for every page →
the walked rows' events probed). A tag on 1 incident in 300 at 1,000,000: 130 ms with
PostgreSQL's own walk, 27 ms hashed.

The incident list's ``tags=`` pages no longer come here when a tag key has one tag: they read
the tag's relations in page order (``incidents/tag_pages.py``, 0.8-1.2 ms in the database at
1,000,000, no ``EXPLAIN``). The tag forms serve the filterset's ``tags`` (the list with
filters the compiled path does not take, the console, stored filters) and list pages whose
every tag key has several values.
"""

import math
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.db.models.sql import Query

#: The search cost model, in µs of database CPU, measured at 1,000,000 incidents (warm, load
#: 1-4, so ±50 %): a gathered match (its heap page read, its text rechecked, the sort)
#: 2.5-4.5; a walked row with the events' matches hashed 0.45-0.8, probing them per row
#: instead 1.9; an event match put in that hash 1.0.
GATHER_US = 4.0
WALK_HASHED_US = 0.45
WALK_PROBED_US = 1.9
HASH_US = 1.0
#: Rows on a page (the API's page of 100, plus the one that says there is a next page).
PAGE_ROWS = 101
#: A piece of a search text estimated at more than this many times the rows of its rarest
#: piece is left out of the index condition (``selective_parts``): the planner's estimates are
#: either its floor (a piece absent from the statistics' sample) or at least ~1 % of the rows.
PART_SPREAD = 10
#: Cost of one gathered match over the cost of one walked row, times the page (100): a tag
#: walk probes a hash (~1 µs) against a random incident lookup (5-40 µs).
TAG_BALANCE = 10
#: A hash of a tag's incidents pays off against an index probe per walked row (4 µs against
#: under 1 µs) until building it costs more than the probes it saves.
TAG_HASH_BALANCE = 1000
#: ``contains_estimates``' SQL per (vendor, model, field: "" for all rows); None: the ORM
#: compiles it each time.
_contains_sql: dict[tuple[str, str, str], str | None] = {}
#: A text with every character ``icontains`` escapes.
_PROBE = "p%_\\"


def estimated_rows(queryset: QuerySet[Any]) -> float:
    """The planner's estimate of the rows ``queryset`` returns (no rows are read)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return float(plan[0]["Plan"]["Plan Rows"])


def _limits(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``Limit`` nodes of a plan, in the order of the statement's branches."""
    found = [node] if node["Node Type"] == "Limit" else []
    for child in node.get("Plans", []):
        found += _limits(child)
    return found


def _like(text: str) -> str:
    """The parameter Django's ``icontains`` passes for ``text``: a LIKE pattern."""
    return f"%{connection.ops.prep_for_like_query(text)}%"


def _contains(model: type[Model], field: str, text: str) -> tuple[str, list[Any]]:
    """``SELECT pk FROM <model> WHERE <field> icontains <text>``: compiled by the ORM once per
    model and field (~0.16 ms each time otherwise), then run with ``text``'s pattern — reused
    only if the ORM passes the pattern computed here for a text with every escaped character."""
    key = (connection.vendor, model._meta.label, field)
    if key not in _contains_sql:
        sql, params = _contains_query(model, field, _PROBE).sql_with_params()
        _contains_sql[key] = sql if list(params) == [_like(_PROBE)] else None
    reused = _contains_sql[key]
    if reused is None:
        sql, params = _contains_query(model, field, text).sql_with_params()
        return sql, list(params)
    return reused, [_like(text)]


def _contains_query(model: type[Model], field: str, text: str) -> Query:
    lookup = {f"{field}__icontains": text}
    return model._default_manager.filter(**lookup).order_by().values("pk").query


def _all_sql(model: type[Model]) -> str:
    """``SELECT pk FROM <model>``, compiled by the ORM once."""
    key = (connection.vendor, model._meta.label, "")
    sql = _contains_sql.get(key)
    if sql is None:
        sql, params = model._default_manager.order_by().values("pk").query.sql_with_params()
        if params:
            raise ValueError(f"{model._meta.label}: its default manager filters")
        _contains_sql[key] = sql
    return sql


def contains_estimates(
    models: Sequence[type[Model]], field: str, texts: Sequence[str]
) -> tuple[float, list[list[float]]]:
    """From one ``EXPLAIN`` (no rows read): the planner's estimate of the rows of the first of
    ``models``, and for each model, of its rows whose ``field`` contains each of ``texts``.

    The statement is ``(q1 LIMIT 1) UNION ALL (q2 LIMIT 1) …``: each branch's estimate is the
    rows of the node under its ``Limit``, whole even when PostgreSQL would run the union in
    parallel (a ``Limit`` keeps its branch in one process; a branch without one could report
    the rows of one worker)."""
    branches = [f"({_all_sql(models[0])} LIMIT 1)"]
    params: list[Any] = []
    for model in models:
        for text in texts:
            sql, branch_params = _contains(model, field, text)
            branches.append(f"({sql} LIMIT 1)")
            params += branch_params
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {' UNION ALL '.join(branches)}", params)
        plan = cursor.fetchone()[0]
    limits = _limits(plan[0]["Plan"])
    if len(limits) != len(branches):
        raise ValueError(f"{len(branches)} branches explained as {len(limits)} limits")
    rows = [float(limit["Plans"][0]["Plan Rows"]) for limit in limits]
    per_model = [rows[1 + n * len(texts) : 1 + (n + 1) * len(texts)] for n in range(len(models))]
    return rows[0], per_model


def _walked_rows(matches: float, total: float) -> float:
    """Rows a walk in page order reads to fill a page when ``matches`` of ``total`` match."""
    return min(total, PAGE_ROWS * total / max(matches, 1.0))


def _walk_us(matches: float, event_matches: float, total: float) -> float:
    walked = _walked_rows(matches, total)
    hashed = event_matches * HASH_US + walked * WALK_HASHED_US
    return min(hashed, walked * WALK_PROBED_US)


def few_matches(matches: float, event_matches: float, total: float) -> bool:
    """Whether gathering ``matches`` (of which ``event_matches`` through events) costs less
    than walking the page order of ``total`` incidents to a page of them (estimates)."""
    return matches * GATHER_US < _walk_us(matches, event_matches, total)


def hash_events(matches: float, event_matches: float, total: float) -> bool:
    """Whether a walk should hash the incidents of the ``event_matches`` events that match
    rather than probe each walked incident's events: hashing costs per matching event, the
    probes per walked row (a word in every tenth incident's events: 100,000 events hashed on
    every page, 98 ms at 1,000,000 incidents, against 2.3 ms probing the 1,000 rows walked)."""
    walked = _walked_rows(matches, total)
    return event_matches * HASH_US + walked * WALK_HASHED_US <= walked * WALK_PROBED_US


def selective_parts(estimates: Sequence[float]) -> tuple[int, ...]:
    """The positions of the parts whose estimate is within ``PART_SPREAD`` of the rarest's,
    or none when that is all of them (the whole text is then as selective and no dearer)."""
    if not estimates:
        return ()
    rarest = max(min(estimates), 1.0)
    kept = tuple(n for n, rows in enumerate(estimates) if rows <= PART_SPREAD * rarest)
    return () if len(kept) == len(estimates) else kept


def hashed_in(ids: QuerySet[Any]) -> Q:
    """``pk IN (ids)`` that PostgreSQL evaluates as a hashed subplan while walking the page
    order: the ``OR pk IS NULL`` (never true) keeps it from turning the IN into a join, where
    it would probe an index per row or gather through random lookups instead."""
    return Q(pk__in=ids) | Q(pk__isnull=True)


#: How a tag's incidents are matched: their ids gathered, a hash of them walked, an index
#: probe per walked row (``Exists``), or nothing (a key none of whose values exists).
TagForm = tuple[str, tuple[int, ...]]


def tag_form(relations: QuerySet[Any], incidents: QuerySet[Any]) -> TagForm:
    """How to match the incidents with one of the tag relations in ``relations``, as suits how
    many there are: few (at most ``sqrt(TAG_BALANCE × incidents)``, fetched to know): their
    ids, gathered; more: a hash of them, walked; most (a hash would cost more than probing):
    an index probe per walked row. Plain data, so a compiled page can be keyed by it."""
    total = max(estimated_rows(incidents), 1.0)
    expected = estimated_rows(relations)
    gather_max = int(math.sqrt(TAG_BALANCE * total))
    if expected <= 2 * gather_max:  # likely few: fetch them (at most gather_max + 1) to know
        ids = tuple(relations.values_list("incident_id", flat=True)[: gather_max + 1])
        if len(ids) <= gather_max:
            return "ids", ids
    if expected < math.sqrt(TAG_HASH_BALANCE * total):
        return "hash", ()
    return "exists", ()


def tag_form_q(form: TagForm, relations: QuerySet[Any]) -> Q:
    """The ``Q`` of a ``tag_form`` (``relations``: the same tag relations it was chosen for)."""
    kind, ids = form
    if kind == "ids":
        return Q(pk__in=ids)
    if kind == "hash":
        return hashed_in(relations.values("incident_id"))
    if kind == "none":
        return Q(pk__in=[])
    return Q(Exists(relations.filter(incident=OuterRef("pk"))))
