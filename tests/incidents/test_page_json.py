"""Incident rows written as JSON by PostgreSQL (``fastsql.rows``) give the bytes the plain ORM
path renders, over deliberately awkward data: every list page, both versions, the detail GET,
the DRF (indented) path, a page that orjson cannot encode, another time zone. On SQLite both
runs take the plain path (the test then checks that the switch changes nothing there)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fleetwatch import fastsql
from fleetwatch.incidents.api.serializers import ListRendering
from fleetwatch.incidents.events import acknowledge
from fleetwatch.incidents.models import (
    INFINITY,
    Acknowledgement,
    Incident,
    IncidentTagRelation,
    Tag,
)

AWKWARD_TEXT = 'q"b\\s/ \x01\x08\x0c\t\n\r\x1f\x7f é 😀 \u2028\u2029 \ufeff end'
FUTURE = datetime(2999, 1, 2, 3, 4, 5, tzinfo=UTC)


def _tag(incident, key, value, user, added):
    tag, _ = Tag.objects.get_or_create(key=key, value=value)
    IncidentTagRelation.objects.create(tag=tag, incident=incident, added_by=user, added_time=added)


@pytest.fixture
def awkward(make_source, make_user):
    """Incidents with every shape the renderer must get right; returns their pks."""
    based = make_source("based", "nav", base_url="https://nav.example/base/")
    plain = make_source('søurce ☃ \u2028 "x"', "zino")
    other_user = make_user("tagger ü")
    now = timezone.now().replace(microsecond=0)
    cases = [
        # (source, details_url, end_time, metadata)
        (based, "tr.php?id=1", None, {}),
        (based, "https://abs.example/x", INFINITY, {"b": 1, "a": [1.5, 1e-7, 0.1, 1e16]}),
        (based, "show?u=http://x", now - timedelta(hours=1, microseconds=-7), {"é": {"d": {}}}),
        (based, "", FUTURE, {"n": None, "t": True, "s": AWKWARD_TEXT, "l": []}),
        (plain, "relative/only", now - timedelta(days=3), {"u64": 2**64 - 1, "i": 2**63}),
        (plain, "/rooted?q=ü", None, {"neg": -0.0, "exp": 1.5e300, "f": 0.30000000000000004}),
        (plain, AWKWARD_TEXT, INFINITY, {"long": 12345678901234567890123.5, "x": [[[]]]}),
        (based, "../up", FUTURE - timedelta(microseconds=1), [None, {"k": None}]),
        (based, "ok", INFINITY, 10**30),  # beyond orjson: that page takes DRF's encoder
        (plain, "", INFINITY, "just a string"),
        (based, "p/q:/r", None, {}),
        (based, 'rel/é ☃ \u2028 "q" \\ \x01', INFINITY, {}),
    ]
    pks = []
    for n, (source, details, end, metadata) in enumerate(cases):
        incident = Incident.objects.create(
            source=source,
            start_time=now - timedelta(hours=n, microseconds=n * 37),
            end_time=end,
            source_incident_id=f"{AWKWARD_TEXT} {n}" if n % 2 else "",
            details_url=details,
            description=AWKWARD_TEXT if n % 3 == 0 else f"plain {n}",
            level=1 + n % 5,
            ticket_url="https://t.example/ü" if n % 4 == 0 else "",
            metadata=metadata,
        )
        pks.append(incident.pk)
        if n % 3 != 1:  # some without tags
            _tag(incident, "host", f"r{n}", source.user, now)
            _tag(incident, "note", 'a=b="c" ☃ \u2028', other_user, now + timedelta(microseconds=n))
            _tag(incident, "a", AWKWARD_TEXT, source.user, now - timedelta(seconds=1))
    oldest = Incident.objects.create(
        source=based, start_time=datetime(999, 1, 1, tzinfo=UTC), details_url="x", metadata={}
    )
    pks.append(oldest.pk)
    acknowledge(Incident.objects.get(pk=pks[1]), based.user)
    expired = acknowledge(
        Incident.objects.get(pk=pks[3]), based.user, expiration=now + timedelta(hours=1)
    )
    Acknowledgement.objects.filter(pk=expired.pk).update(expiration=now - timedelta(hours=1))
    return pks


QUERIES = ["", "open=true", "stateful=false", "level__lte=3&ticket=false", "search=plain"]
ACCEPTS = ["application/json", "application/json; indent=2"]


def _walk(api, version, query, accept):
    """Every page's bytes, forward with ``next`` then back with ``previous``."""
    bodies, url = [], f"/api/{version}/incidents/?page_size=3&{query}"
    while url:
        response = api.get(url, HTTP_ACCEPT=accept)
        assert response.status_code == 200, response.content
        bodies.append(response.content)
        body = response.json()
        url = body["next"]
    url = body["previous"]
    while url:
        response = api.get(url, HTTP_ACCEPT=accept)
        bodies.append(response.content)
        url = response.json()["previous"]
    return bodies


def _everything(api, pks):
    bodies = []
    for version in ("v1", "v2"):
        for accept in ACCEPTS:
            for query in QUERIES:
                bodies.append(_walk(api, version, query, accept))
            for pk in pks:
                bodies.append(
                    api.get(f"/api/{version}/incidents/{pk}/", HTTP_ACCEPT=accept).content
                )
    return bodies


def test_json_rows_render_the_bytes_of_the_plain_path(api, awkward, settings):
    assert ListRendering("v2").json == fastsql.postgresql()
    fast = _everything(api, awkward)
    settings.FAST_SQL = False
    assert not ListRendering("v2").json
    plain = _everything(api, awkward)
    assert fast == plain
    text = b"".join(b for page in fast for b in (page if isinstance(page, list) else [page]))
    # the data is as awkward as intended: joined URLs, infinity, UTC, microseconds, escapes
    for expected in (
        b'"https://nav.example/base/tr.php?id=1"',
        b'"https://nav.example/up"',
        b'"https://nav.example/base/p/q:/r"',
        b'"https://nav.example/base/rel/\xc3\xa9 \xe2\x98\x83 ',
        b'"show?u=http://x"',
        b'"relative/only"',
        b'"infinity"',
        b'"0999-01-01T00:00:00Z"',
        b'.999999Z"',
        b"\\u0001\\b\\f\\t\\n\\r\\u001f\x7f",
        b"\\u2028",
        b'"metadata":1000000000000000000000000000000',
        b'"tags":[]',
    ):
        assert expected in text, expected


def test_json_rows_in_another_time_zone_are_rendered_by_python(api, awkward, settings):
    """``render_datetime`` follows the current time zone with Python's zone database: outside
    UTC the plain rows are rendered, whatever the database."""
    settings.TIME_ZONE = "Asia/Kathmandu"
    assert not ListRendering("v2").json
    body = api.get(f"/api/v2/incidents/{awkward[0]}/").json()
    assert body["start_time"].endswith("+05:45")
    fast = _everything(api, awkward)
    settings.FAST_SQL = False
    assert fast == _everything(api, awkward)


@pytest.mark.skipif(not fastsql.postgresql(), reason="the JSON rows are a PostgreSQL trick")
def test_json_rows_take_one_query_compiled_once(api, awkward, monkeypatch):
    """A page and the detail GET: the token lookup and the rows, with the ORM compiling
    nothing once each query's SQL is kept (the detail's compile was 1 ms of its 2.5)."""
    urls = ("/api/v2/incidents/?page_size=5", f"/api/v2/incidents/{awkward[2]}/")
    for url in urls:
        api.get(url)  # token lookup warmed, SQL compiled

    def compile_refused(*args, **kwargs):
        raise AssertionError("the ORM compiled a query")

    monkeypatch.setattr(SQLCompiler, "as_sql", compile_refused)
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(url).status_code == 200
        assert len(queries) == 2, [q["sql"] for q in queries]  # token lookup + rows
    monkeypatch.undo()
    assert api.get("/api/v2/incidents/999999999/").status_code == 404
