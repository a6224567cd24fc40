"""The compiled list path (``incidents/api/compiled.py``) against the filterset it stands for.

Each query is asked twice: as it is (the compiled path) and with a filter the compiled path
does not take and that every incident passes (``start_time__lte`` far in the future), which
sends it through the filterset — the reference. Pages, links and 400s must be the same.
"""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from page_helpers import walk_pages

from fleetwatch import fastsql
from fleetwatch.incidents.api.compiled import COMPILED_FILTERS
from fleetwatch.incidents.events import acknowledge
from fleetwatch.incidents.ingest import parse_incident, upsert_incidents
from fleetwatch.incidents.models import Incident

V2 = "/api/v2/incidents/"
REFERENCE = "start_time__lte=2999-01-01T00:00:00Z"


def _add(source, sid, minutes, *, level=3, end="infinity", ticket="", tags=()):
    draft = parse_incident(
        {
            "start_time": (timezone.now() - timedelta(minutes=minutes)).isoformat(),
            "end_time": end,
            "source_incident_id": sid,
            "level": level,
            "ticket_url": ticket,
            "tags": [{"tag": tag} for tag in tags],
        }
    )
    (result,) = upsert_incidents(source, source.user, [draft])
    return result.incident


@pytest.fixture
def hub(source, make_source):
    """Incidents of two sources across every compiled filter's values."""
    other = make_source("zino1", "zino")
    sites, problems = ["site=a", "site=b", "site=c"], ["problem=x", "problem=y"]
    now = timezone.now()
    for n in range(18):
        incident = _add(
            source if n % 3 else other,
            f"c-{n}",
            minutes=100 - n,
            level=1 + n % 5,
            end=None if n % 7 == 0 else "infinity",
            ticket="https://t.example/1" if n % 4 == 0 else "",
            tags=[sites[n % 3], problems[n % 2]] if n % 5 else [sites[n % 3]],
        )
        if n % 6 == 1:
            incident.end_time = now - timedelta(minutes=1)
            incident.save(update_fields=["end_time"])
        if n % 4 == 1:
            acknowledge(incident, incident.source.user)
    return {"source": source.pk, "other": other.pk}


def _values(hub):
    boolean = ["", "true", "false", "1", "0"]
    return {
        "open": boolean,
        "acked": boolean,
        "stateful": boolean,
        "ticket": boolean,
        "end_time__isnull": boolean,
        "level__lte": ["", "1", "3", "5"],
        "tags": [
            "",
            "site=a",
            "site=a,site=b",
            "site=b,problem=x",
            "problem=x,site=b",
            "site=a,site=b,problem=y",
            "site=c,problem=x,problem=y",
            "site=c,site=zzz",
            "site=zzz",
            "nokey=x",
        ],
        "source__id__in": ["", str(hub["source"]), f"{hub['other']},{hub['source']}", "999"],
        "source__name__in": ["", "zino1", "nav1,zino1", "nobody"],
        "source__type__in": ["", "nav", "zino,nav", "none"],
    }


def test_every_listed_filter_is_compiled():
    assert set(COMPILED_FILTERS) == {
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


def test_compiled_pages_match_the_filterset(api, hub):
    """Each filter alone with each value, then random combinations of up to four."""
    values = _values(hub)
    queries = [f"{name}={value}" for name, options in values.items() for value in options]
    rng = random.Random(10)
    for _ in range(60):
        names = rng.sample(sorted(values), rng.randint(2, 4))
        queries.append("&".join(f"{name}={rng.choice(values[name])}" for name in names))
    matched = 0
    for query in queries:
        compiled = walk_pages(api, query)
        assert compiled == walk_pages(api, f"{query}&{REFERENCE}"), query
        matched += any(compiled)
    assert matched > len(queries) // 2  # most queries find something: the test can fail


@pytest.mark.parametrize(
    "query",
    [
        "stateful=maybe",
        "ticket=2",
        "end_time__isnull=yes",
        "level__lte=9",
        "level__lte=0",
        "level__lte=1.5",
        "level__lte=x",
        "source__id__in=1,x",
        "source__id__in=-1",
        "source__id__in=99999999999999999999",
        "tags=nokeyvalue",
        "tags=a=b,=c",
        "open=maybe&level__lte=9&tags=x",
        "acked=2&source__id__in=x",
    ],
)
def test_compiled_filters_refuse_as_the_filterset(api, hub, query):
    compiled = api.get(f"{V2}?{query}")
    reference = api.get(f"{V2}?{query}&{REFERENCE}")
    assert compiled.status_code == reference.status_code == 400
    assert compiled.json() == reference.json()
    assert set(compiled.json()) == {part.split("=")[0] for part in query.split("&")}


def test_a_new_incident_with_a_rare_tag_shows_on_the_compiled_page(api, hub, source):
    """A new incident with the tag is on its cached page (once keyed by the tag's incident
    ids; now read from the tag's relations in page order, ``incidents/tag_pages.py``)."""
    first = walk_pages(api, "tags=site=c&level__lte=5")
    added = _add(source, "c-new", minutes=0, level=2, tags=["site=c"])
    again = walk_pages(api, "tags=site=c&level__lte=5")
    assert again[0][0] == added.pk
    assert {pk for page in again for pk in page} == {pk for page in first for pk in page} | {
        added.pk
    }


@pytest.mark.parametrize(
    "query",
    [
        "level__lte=2",
        "stateful=true&ticket=false&end_time__isnull=false",
        "source__id__in={source}&open=true",
        "source__type__in=nav",
        "tags=site=a",
        "tags=site=a,problem=x&acked=false",
    ],
)
def test_filtered_page_queries_are_constant(api, hub, source, query):
    """The same queries on a first (compiling) and a later request, for 5 and 15 more
    incidents: the compiled path runs no query of its own beyond the filterset's (for
    ``tags=`` fewer: no ``EXPLAIN`` to choose a form, ``incidents/tag_pages.py``)."""
    url = f"{V2}?page_size=10&{query.format(**hub)}"
    api.get(V2)  # warm the token lookup path
    compiled, reference = [], []
    for size in (5, 15):
        for n in range(size):
            _add(source, f"q-{size}-{n}", minutes=n, level=1, tags=["site=a", "problem=x"])
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries:
                assert api.get(url).status_code == 200
            compiled.append(len(queries))
            assert not [q for q in queries if q["sql"].startswith("EXPLAIN")]
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"{url}&{REFERENCE}").status_code == 200
        reference.append(len(queries))
    assert len(set(compiled)) == len(set(reference)) == 1, (compiled, reference)
    if "tags" in query:  # token, tag lookup, page, the page's tags (PostgreSQL: in the page)
        assert compiled[0] == (3 if fastsql.postgresql() else 4)
        assert reference[0] >= compiled[0]
    else:
        assert compiled[0] == reference[0]


def test_closed_incidents_keep_their_pages(api, hub):
    """Sanity of the fixture: the filters above really split the incidents."""
    assert Incident.objects.closed().exists() and Incident.objects.open().exists()
    assert Incident.objects.acked().exists() and Incident.objects.stateless().exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_is_acked_is_probed_per_row_however_many_acks(api, source):
    """Hashing every acked incident scanned the whole event table on each page; with many
    acks and few page rows each row's acks must be probed (``with_state``)."""
    from fleetwatch.incidents.api.serializers import incident_rows

    for n in range(60):
        incident = _add(source, f"a-{n}", minutes=n)
        acknowledge(incident, source.user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    page = incident_rows(Incident.objects.all()).order_by("-start_time", "-pk")[:3]
    sql, params = page.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]

    def subplans(node):
        for child in node.get("Plans", []):
            if child.get("Parent Relationship") == "SubPlan":
                yield child
            yield from subplans(child)

    (acked,) = subplans(plan)
    assert acked["Actual Loops"] == 3


def test_the_compiled_pages_drop_the_least_recently_used(api, hub, monkeypatch):
    """Past ``MAX_COMPILED`` the oldest unused page goes, not every page: many distinct
    searches must not make the unfiltered page recompile."""
    from fleetwatch.fastsql import pages

    if not fastsql.enabled():
        pytest.skip("the compiled pages are a fast-SQL trick")
    monkeypatch.setattr(pages, "_compiled", {})
    monkeypatch.setattr(pages, "MAX_COMPILED", 3)
    assert api.get(f"{V2}?page_size=5").status_code == 200
    (cache,) = pages._compiled.values()
    unfiltered = next(iter(cache))
    compiled_once = cache[unfiltered]
    for word in ("alpha", "bravo", "charlie", "delta"):
        assert api.get(f"{V2}?page_size=5").status_code == 200  # used again: kept
        assert api.get(f"{V2}?page_size=5&search={word}").status_code == 200
        assert len(cache) <= 3
    assert cache[unfiltered] is compiled_once  # never dropped and compiled again
