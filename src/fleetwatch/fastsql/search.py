"""``search=``: ask PostgreSQL's planner how many rows a word matches, to pick the query form.

A page is "the newest 100 that match". Two plans answer it, each fast where the other is slow:

- *index form* (``id IN (matching incidents UNION ALL incidents of matching events)``): the
  trigram indexes find every match, which are then sorted. Cost grows with the matches: 1-3 ms
  for a rare word, 400 ms for "lost" in a quarter of 100,000 incidents;
- *walk form* (``description LIKE … OR EXISTS (event LIKE …)``): walks the page order and
  checks each row until the page is full. Cost grows with incidents / matches: under 1 ms for
  a common word, the whole table for a rare one (374 ms at 300,000).

PostgreSQL cannot choose between them itself (an OR with a subquery can use no index), so
the planner's own row estimate for the word (one ``EXPLAIN``, ~0.2 ms; from the statistics of
the expression indexes) decides: the index form while the matches are fewer than
``sqrt(60 × incidents)`` (where both forms cost about the same: 2,400 at 100,000, 7,700 at
1,000,000), else the walk form.
"""

import math

from django.db import connection
from django.db.models import QuerySet

# Rows a walk checks per row an index match costs (measured: ~3 µs vs ~5 µs), times the page.
_BALANCE = 60


def estimated_rows(queryset: QuerySet) -> float:
    """The planner's estimate of the rows ``queryset`` returns (no rows are read)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):  # psycopg returns json already parsed; be safe
        import json

        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def few_matches(matching: QuerySet, table_rows: QuerySet) -> bool:
    """Whether ``matching`` is expected to be small enough for the index form."""
    total = estimated_rows(table_rows)
    return estimated_rows(matching) < math.sqrt(_BALANCE * max(total, 1.0))
