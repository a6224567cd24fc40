"""Steering PostgreSQL's plan for filtered list pages, from the planner's own row estimates.

A page is "the newest 100 incidents that match". Two plans answer it, each fast where the
other is slow:

- *gather*: find every match through an index, then sort them. Cost grows with the matches;
- *walk*: read incidents in page order (``incident_page_order``) and check each row until the
  page is full. Cost grows with incidents / matches (how far apart the matches are).

For ``search=`` PostgreSQL cannot choose between them itself (``description LIKE … OR EXISTS
(event LIKE …)`` can use no index, and the index form ``id IN (… UNION ALL …)`` cannot walk);
for a tag it can, but it walks with an index probe per row (4 µs) rather than one hash of the
tag's incidents (under 1 µs a row), and gathers through random incident lookups. So the
caller builds both forms and asks here, with one ``EXPLAIN`` per query (~0.2 ms, from the
statistics, reading no rows), whether the matches are few: fewer than
``sqrt(balance × incidents)``, where both plans cost about the same.

Measured at 100,000 and 1,000,000 incidents (loaded 2-core machine, best of 5 in the database):
search for a rare word 256 → 1.9 ms and 380 → 16 ms, a word only in events 216 → 0.2 ms and
890 → 1.7 ms, a common word 0.4-0.5 ms either way (the index form alone: 430 ms at 100,000);
a tag on 1 incident in 300 at 1,000,000: 130 ms with PostgreSQL's own walk, 27 ms hashed.

The incident list's ``tags=`` pages no longer come here when a tag key has one tag: they read
the tag's relations in page order (``incidents/tag_pages.py``, 0.8-1.2 ms in the database at
1,000,000, no ``EXPLAIN``). The tag forms serve the filterset's ``tags`` (the list with
filters the compiled path does not take, the console, stored filters) and list pages whose
every tag key has several values.
"""

import math
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

#: Cost of one gathered match over the cost of one walked row, times the page (100): a search
#: walk checks LIKE and probes events per row (~3 µs) against a trigram match and a lookup
#: (~5 µs); a tag walk probes a hash (~1 µs) against a random incident lookup (5-40 µs).
SEARCH_BALANCE = 60
TAG_BALANCE = 10
#: A hash of a tag's incidents pays off against an index probe per walked row (4 µs against
#: under 1 µs) until building it costs more than the probes it saves.
TAG_HASH_BALANCE = 1000


def estimated_rows(queryset: QuerySet[Any]) -> float:
    """The planner's estimate of the rows ``queryset`` returns (no rows are read)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return float(plan[0]["Plan"]["Plan Rows"])


def few_matches(
    matching: QuerySet[Any], table_rows: QuerySet[Any], balance: int = SEARCH_BALANCE
) -> bool:
    """Whether ``matching`` is expected to be small enough to gather rather than walk."""
    total = estimated_rows(table_rows)
    return estimated_rows(matching) < math.sqrt(balance * max(total, 1.0))


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
