"""``search=`` in every form ``fleetwatch.incidents.search`` can choose gives the same pages.

The reference is the search with the fast SQL off (``FLEETWATCH_FAST_SQL=false``: on
PostgreSQL the index form with the whole text, on SQLite the plain walk); each form is forced
through the decisions of ``fastsql.plans`` and walked page by page, forward and back, through
the compiled page path and through the filterset. On SQLite every form is the plain walk.
"""

from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from page_helpers import walk_both_ways

from fleetwatch.fastsql import plans
from fleetwatch.incidents.models import Event, Incident
from fleetwatch.incidents.search import SearchPlan, search_q, text_parts

V2 = "/api/v2/incidents/"
TS = "2026-11-21T12:00:00Z"
#: A filter the compiled page path does not take and every incident passes: the filterset.
FILTERSET = "start_time__lte=2999-01-01T00:00:00Z"
SPECIALS = ["", " 100% loss", " disk_usage high", " path C:\\temp full", " Café navé", " CAFÉ"]
EVENTS = {2: "ticket TKT-7772", 9: "ticket TKT-7779", 16: "Ticket tkt-7786", 5: "pigeon 100% _x_"}


def _description(n: int) -> str:
    state = "LOST" if n % 3 == 0 else "flap"
    return f"link {state} on host-{4200 + 3 * n} at site-{n % 5}{SPECIALS[n % 6]}"


def _post(source_api, first: int, count: int) -> list[int]:
    items = [
        {
            "start_time": f"2026-11-21T{10 + n // 60:02d}:{n % 60:02d}:00Z",
            "source_incident_id": f"S-{n}",
            "description": _description(n),
            "tags": [{"tag": f"site=s{n % 2}"}],
        }
        for n in range(first, first + count)
    ]
    response = source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
    assert response.status_code == 201, response.content
    return [row["pk"] for row in response.json()["results"]]


@pytest.fixture
def hub(source_api):
    """24 incidents, newest last; four with an event that says something of its own."""
    pks = _post(source_api, 0, 24)
    for n, text in EVENTS.items():
        response = source_api.post(
            f"{V2}{pks[n]}/events/", {"type": "OTH", "timestamp": TS, "description": text}
        )
        assert response.status_code == 201, response.content
    return pks


#: Text → the incidents (n) it finds, where every database agrees (ASCII case only).
ASCII = {
    "host-42": lambda n: True,
    "host-420": lambda n: n < 4,
    "HOST-4242": lambda n: n == 14,
    "lost": lambda n: n % 3 == 0,
    "LOST on host-42": lambda n: n % 3 == 0,
    "site-3": lambda n: n % 5 == 3,
    "k f": lambda n: n % 3 != 0,
    "tkt-77": lambda n: n in (2, 9, 16),
    "TKT-7779": lambda n: n == 9,
    "ticket": lambda n: n in (2, 9, 16),
    "nowhere": lambda n: False,
    "%": lambda n: n % 6 == 1 or n == 5,
    "100%": lambda n: n % 6 == 1 or n == 5,
    "_": lambda n: n % 6 == 2 or n == 5,
    "disk_u": lambda n: n % 6 == 2,
    "\\": lambda n: n % 6 == 3,
    "c:\\TEMP": lambda n: n % 6 == 3,
    "x_": lambda n: n == 5,
}
#: Texts whose matches depend on the database's case folding (SQLite folds ASCII only).
OTHER = ["café", "CAFÉ", "é", "navé", "Ticket TKT"]


def _query(text: str) -> str:
    return f"search={quote(text, safe='')}"


#: The decisions of ``fastsql.plans`` that force each form (``selective_parts``: which of
#: two or more parts the index condition asks for; none: the whole text).
FORMS = {
    "gather": {"few_matches": True, "parts": None},
    "gather, first part": {"few_matches": True, "parts": 0},
    "gather, last part": {"few_matches": True, "parts": -1},
    "hash": {"few_matches": False, "hash_events": True, "parts": -1},
    "probe": {"few_matches": False, "hash_events": False},
}
#: What the page query of ``host-4242`` says in each form on PostgreSQL.
SIGNS = {
    "gather": ["= ANY(ARRAY(SELECT", "LIKE UPPER('%host-4242%')"],
    "gather, first part": ["= ANY(ARRAY(SELECT", "STRPOS(", "LIKE UPPER('%host-%')"],
    "gather, last part": ["= ANY(ARRAY(SELECT", "STRPOS(", "LIKE UPPER('%-4242%')"],
    "hash": ['"incidents_incident"."id" IS NULL', "STRPOS(", "LIKE UPPER('%-4242%')"],
    "probe": ["EXISTS(SELECT", "STRPOS("],
}


def _force(monkeypatch, form: str) -> None:
    """Make ``fastsql.plans`` decide for ``form`` whatever the estimates."""
    decisions = dict(FORMS[form])
    which = decisions.pop("parts", None)

    def parts(estimates):
        positions = range(len(estimates))
        return () if which is None or len(positions) < 2 else (positions[which],)

    monkeypatch.setattr(plans, "selective_parts", parts)
    for name, answer in decisions.items():
        monkeypatch.setattr(plans, name, lambda *args, answer=answer: answer)


#: With a tag too: a compiled tag page is read in the tag's own order (``tag_pages``).
WITH_TAG = [f"{_query(text)}&tags=site%3Ds1" for text in ("host-42", "lost", "ticket", "nowhere")]


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_gives_the_pages_of_the_reference(api, hub, settings, monkeypatch, form):
    settings.FAST_SQL = False
    texts = [*ASCII, *OTHER]
    reference = {text: walk_both_ways(api, _query(text)) for text in texts}
    tagged = {query: walk_both_ways(api, query) for query in WITH_TAG}
    assert [sum(map(len, forward)) for forward, _ in tagged.values()] == [12, 4, 1, 0]
    newest_first = list(reversed(range(len(hub))))
    for text, finds in ASCII.items():
        forward, back = reference[text]
        assert [pk for page in forward for pk in page] == [
            hub[n] for n in newest_first if finds(n)
        ], text
        assert back == forward[-2::-1], text
    settings.FAST_SQL = True
    _force(monkeypatch, form)
    if connection.vendor == "postgresql":  # the form is the one forced: the test can fail
        with CaptureQueriesContext(connection) as queries:
            api.get(f"{V2}?{_query('host-4242')}")
        (page,) = [q["sql"] for q in queries if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]]
        assert all(sign in page for sign in SIGNS[form]), page
    for text in texts:
        assert walk_both_ways(api, _query(text)) == reference[text], (form, text)
        assert walk_both_ways(api, f"{_query(text)}&{FILTERSET}") == reference[text], (form, text)
    for query, pages in tagged.items():
        assert walk_both_ways(api, query) == pages, (form, query)


@pytest.mark.parametrize("form", ["gather", "hash", "probe"])
def test_search_pages_take_a_constant_number_of_queries(api, hub, source_api, monkeypatch, form):
    """First and later pages, compiled and through the filterset, with 24 and 44 incidents:
    the token, the estimate and the page with its tags (PostgreSQL: ``fastsql.rows``), or the
    token, the page and its tags."""
    _force(monkeypatch, form)
    api.get(V2)  # warm the token lookup path
    counts = []
    for _ in range(2):
        for query in (_query("host-42"), f"{_query('host-42')}&{FILTERSET}"):
            url = f"{V2}?page_size=4&{query}"
            for _ in range(2):  # the first page, then the next
                with CaptureQueriesContext(connection) as queries:
                    response = api.get(url)
                assert len(response.json()["results"]) == 4
                counts.append(len(queries))
                url = response.json()["next"]
        _post(source_api, 100, 20)
    assert counts == [3] * 8, counts


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("host-4242", ("host-", "-4242")),
        ("host4242", ("host", "4242")),
        ("TKT-77770", ("TKT-", "-77770")),
        ("ticket TKT-1", ("ticket ", " TKT-")),
        ("link lost on host-42 at site-7", ("link ", " lost ", " host-", " site-")),
        ("Host host HOST-1", ("Host ", " host ", " HOST-")),
        ("lost", ("lost",)),
        ("ab-cd 42", ()),
        ("navé123", ("nav", "123")),
        ("100%_x\\y", ("100%",)),
    ],
)
def test_text_parts_are_runs_of_three_with_their_separators(text, parts):
    assert text_parts(text) == parts
    assert all(part in text for part in parts)


def test_the_cost_model_decides_as_measured_at_a_million_incidents():
    """The bench's searches at 1,000,000 incidents, as the planner estimates them."""
    assert plans.few_matches(110, 10, 1e6)  # host-4242: ~220 incidents, gathered
    assert not plans.few_matches(252_536, 10, 1e6)  # lost: a quarter, walked
    assert plans.hash_events(252_536, 10, 1e6)  # … with its (no) events hashed
    assert not plans.few_matches(101_952, 101_852, 1e6)  # ticket: every tenth's event
    assert not plans.hash_events(101_952, 101_852, 1e6)  # … probed, not 100,000 hashed
    assert plans.few_matches(2_000, 10, 1e6) and not plans.few_matches(20_000, 10, 1e6)
    assert plans.few_matches(1, 1, 10) or not plans.few_matches(10, 1, 10)  # tiny: either


def test_selective_parts_leave_out_the_frequent_ones():
    assert plans.selective_parts([1e6, 100]) == (1,)
    assert plans.selective_parts([100, 900, 5_000]) == (0, 1)
    assert plans.selective_parts([100, 100]) == ()  # all of them: the text itself
    assert plans.selective_parts([0, 5]) == ()
    assert plans.selective_parts([]) == ()


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["plain", "100%", "a_b", "c:\\temp", "%_\\", "é"])
def test_estimated_contains_sql_is_the_orms(text):
    """``contains_estimates`` reuses the ORM's SQL with its own pattern: the same as the
    ORM compiles for that text."""
    expected = Event.objects.filter(description__icontains=text).order_by().values("pk")
    sql, params = expected.query.sql_with_params()
    assert plans._contains(Event, "description", text) == (sql, list(params))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's estimates")
def test_estimates_come_in_the_order_asked(hub):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents_incident, incidents_event")
    total, (incidents, events) = plans.contains_estimates(
        [Incident, Event], "description", ["host-42", "zzzz", ""]
    )
    assert total == Incident.objects.count() == 24
    assert incidents[0] > incidents[1] < incidents[2] == 24
    assert events[0] == events[1] < events[2] == Event.objects.count()


def _filters(node):
    yield node.get("Filter", "")
    for child in node.get("Plans", []):
        yield from _filters(child)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
@pytest.mark.parametrize(("form", "hashed"), [("hash", True), ("probe", False)])
def test_a_walk_hashes_or_probes_the_events_as_told(hub, form, hashed):
    """PostgreSQL hashed a word in every tenth incident's events on every page (98 ms at
    1,000,000 incidents): in the probe form it cannot."""
    page = Incident.objects.filter(search_q(SearchPlan(form), "ticket")).order_by("-start_time")
    sql, params = page[:101].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
    assert any("hashed SubPlan" in condition for condition in _filters(plan)) == hashed
