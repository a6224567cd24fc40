"""Time the incident list's page queries inside PostgreSQL (EXPLAIN ANALYZE), without HTTP.

    DATABASE_URL=postgresql://... python bench/incidents_pages_sql.py [--runs 5] [--plan NAME]

For each query of ``bench/incidents_api.py``'s ``PAGE_QUERIES`` it builds the first page's
SQL as the list view does (the compiled filters, ``incidents/api/compiled.py``, when the query
has only those — ``tags=`` then in the tag's own order — else the filterset; then the page of
100 + 1 rows) and reports the
database's own execution time, best and median of ``--runs``: figures a loaded machine
disturbs less than HTTP round trips. Fill the database first with ``incidents_api.py --size``.
``--plan NAME`` (repeatable, or ``all``) prints that query's plan. Reads only.
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--plan", action="append", default=[])
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection
    from django.http import QueryDict

    from fleetwatch.incidents.api.compiled import COMPILED_FILTERS, CompiledFilters
    from fleetwatch.incidents.api.serializers import incident_rows
    from fleetwatch.incidents.filtersets import IncidentFilterSet
    from fleetwatch.incidents.models import Incident

    def first_page(query: str):
        params = QueryDict(query)
        if params.keys() <= set(COMPILED_FILTERS):
            filters = CompiledFilters(params)
            start, pk = filters.position or ("start_time", "pk")
            queryset = incident_rows(filters.apply(Incident.objects.all()))
            return queryset.order_by(f"-{start}", f"-{pk}")[:101]
        filterset = IncidentFilterSet(params, queryset=Incident.objects.all())
        if not filterset.is_valid():
            sys.exit(f"{query}: {filterset.errors}")
        return incident_rows(filterset.qs).order_by("-start_time", "-pk")[:101]

    sys.path.insert(0, str(Path(__file__).parent))
    from incidents_api import PAGE_QUERIES

    if connection.vendor != "postgresql":
        sys.exit("DATABASE_URL must point at the hub's PostgreSQL")
    print(f"incidents stored: {Incident.objects.count()}")
    for name, query in PAGE_QUERIES.items():
        sql, params = first_page(query).query.sql_with_params()
        times = []
        with connection.cursor() as cursor:
            for _ in range(args.runs):
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
                times.append(cursor.fetchone()[0][0]["Execution Time"])
            if name in args.plan or "all" in args.plan:
                cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
                print("\n".join(row[0] for row in cursor.fetchall()))
        print(f"  {name:<24} best {min(times):8.2f} ms   median {statistics.median(times):8.2f} ms")


if __name__ == "__main__":
    main()
