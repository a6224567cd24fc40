"""``search=`` in both of its query forms, the filters that resolve ids first, the trigram
indexes, and the API with the fast SQL switched off (``FLEETWATCH_FAST_SQL=false``)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fleetwatch import fastsql
from fleetwatch.fastsql import pg_copy, pg_create, plans
from fleetwatch.fastsql import tokens as fast_tokens

V2 = "/api/v2/incidents/"
TS = "2026-11-21T12:00:00Z"


def _post_many(source_api, count: int = 30) -> list[int]:
    """Incidents "Router N down" (every third also "closet"), and events "pigeon N"."""
    items = [
        {
            "start_time": f"2026-11-21T12:{n:02d}:00Z",
            "source_incident_id": f"S-{n}",
            "description": f"Router {n} down" + (" in the closet" if n % 3 == 0 else ""),
            "level": 1 + n % 5,
            "tags": [{"tag": f"site=s{n % 4}"}, {"tag": "kind=router"}],
        }
        for n in range(count)
    ]
    body = source_api.post(f"{V2}bulk/", {"incidents": items}, format="json").json()
    pks = [r["pk"] for r in body["results"]]
    for n in (4, 9):
        response = source_api.post(
            f"{V2}{pks[n]}/events/",
            {"type": "OTH", "timestamp": TS, "description": f"Pigeon {n} nests here"},
            format="json",
        )
        assert response.status_code == 201, response.content
    return pks


def _walk(api, query: str) -> list[int]:
    """Every pk of a filtered list, page by page (page_size 7), in order."""
    seen, url = [], f"{V2}?page_size=7&{query}"
    while url:
        body = api.get(url).json()
        seen += [row["pk"] for row in body["results"]]
        url = body["next"]
    return seen


SEARCHES = {
    "closet": lambda n: n % 3 == 0,
    "ROUTER 1": lambda n: str(n).startswith("1"),
    "pigeon": lambda n: n in (4, 9),
    "PIGEON 9": lambda n: n == 9,
    "nowhere": lambda n: False,
    "%": lambda n: False,  # LIKE wildcards are text here
    "_": lambda n: False,
}


@pytest.mark.parametrize("form", ["index", "walk"])
def test_search_gives_the_same_pages_in_either_form(api, source_api, monkeypatch, form):
    """Both forms (chosen on PostgreSQL by the planner's estimate) give the same rows."""
    pks = _post_many(source_api)
    monkeypatch.setattr(plans, "few_matches", lambda *args: form == "index")
    newest_first = list(reversed(range(len(pks))))
    for word, matches in SEARCHES.items():
        expected = [pks[n] for n in newest_first if matches(n)]
        query = f"search={word.replace('%', '%25').replace(' ', '%20')}"
        assert _walk(api, query) == expected, word
        assert _walk(api, f"{query}&level__lte=2") == [
            pk
            for pk, n in zip(expected, [n for n in newest_first if matches(n)], strict=True)
            if 1 + n % 5 <= 2
        ]


@pytest.mark.parametrize(
    ("form", "gather", "hash_"), [("gather", 10, 1000), ("hash", 0, 10**12), ("probe", 0, 0)]
)
def test_tag_and_source_filters_resolve_ids_first(
    api, source_api, source, make_source, monkeypatch, form, gather, hash_
):
    """Every form a tag filter takes on PostgreSQL (by how many incidents carry the tag)
    gives the same pages; SQLite has one form. (The forms serve the filterset and a list page
    whose every tag key has several values; other tag pages walk the tag's own order,
    ``incidents/tag_pages.py``, whatever these say.)"""
    monkeypatch.setattr(plans, "TAG_BALANCE", gather)
    monkeypatch.setattr(plans, "TAG_HASH_BALANCE", hash_)
    pks = _post_many(source_api, 12)
    newest_first = list(reversed(range(12)))
    assert _walk(api, "tags=site%3Ds1") == [pks[n] for n in newest_first if n % 4 == 1]
    assert _walk(api, "tags=site%3Ds1,site%3Ds2,kind%3Drouter") == [
        pks[n] for n in newest_first if n % 4 in (1, 2)
    ]
    # every key with several tags: the incidents' own order is walked, in this form
    assert _walk(api, "tags=site%3Ds1,site%3Ds2") == [
        pks[n] for n in newest_first if n % 4 in (1, 2)
    ]
    assert _walk(api, "tags=site%3Ds1,kind%3Dswitch") == []  # a key with no such tag
    assert _walk(api, "tags=site%3Dnowhere") == []
    make_source("other", "zino")
    assert _walk(api, f"source__type__in={source.type_id}") == [pks[n] for n in newest_first]
    assert _walk(api, "source__type__in=zino") == []
    assert _walk(api, "source__name__in=other,nav1&open=true") == [pks[n] for n in newest_first]
    assert _walk(api, "source__name__in=nobody") == []


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("name", ["nav1"]),
        ("name", ["other", "nav1", "nobody"]),
        ("name", ["NAV1"]),  # names match exactly
        ("type_id", ["zino"]),
        ("type_id", ["nav", "zino"]),
        ("type_id", ["nothing"]),
        ("type_id", []),
    ],
)
def test_source_ids_by_plain_sql_are_the_orms(source, make_source, field, values):
    from fleetwatch.fastsql.sources import find_source_ids
    from fleetwatch.incidents.models import SourceSystem

    make_source("other", "zino")
    make_source("third", "zino")
    orm = sorted(
        SourceSystem.objects.filter(**{f"{field}__in": values}).values_list("pk", flat=True)
    )
    with CaptureQueriesContext(connection) as queries:
        assert find_source_ids(field, values) == orm
    assert len(queries) == (1 if values else 0)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigram indexes are PostgreSQL's"
)
@pytest.mark.django_db
def test_search_indexes_exist_and_serve_the_search_expression():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE indexname LIKE '%%_trgm' AND tablename LIKE 'incidents_%%'"
        )
        indexes = dict(cursor.fetchall())
    assert set(indexes) == {"incident_description_trgm", "event_description_trgm"}
    assert all("gin_trgm_ops" in d and "upper(description)" in d for d in indexes.values())


@pytest.fixture
def tricks_forbidden(monkeypatch, settings):
    """FAST_SQL off, and every trick made to fail if it were still called."""
    settings.FAST_SQL = False

    def forbidden(*args, **kwargs):
        raise AssertionError("a fast-SQL trick ran with FLEETWATCH_FAST_SQL=false")

    for module, name in [
        (pg_create, "create_in_one_statement"),
        (pg_copy, "copy_rows"),
        (pg_copy, "store_new_incidents"),
        (pg_copy, "store_events"),
        (fast_tokens, "find_drf_token"),
        (plans, "few_matches"),
        (plans, "contains_estimates"),
        (plans, "tag_form"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    from fleetwatch.fastsql import pages, rows, sources, tags

    monkeypatch.setattr(pages, "run_compiled", forbidden)
    monkeypatch.setattr(pages, "run_compiled_get", forbidden)
    monkeypatch.setattr(rows, "columns", forbidden)
    monkeypatch.setattr(rows, "render", forbidden)
    monkeypatch.setattr(sources, "find_source_ids", forbidden)
    monkeypatch.setattr(tags, "find_tags", forbidden)
    monkeypatch.setattr(tags, "find_tags_with_shares", forbidden)
    monkeypatch.setattr(tags, "incident_tag_rows", forbidden)
    # The modules that imported a trick by name get the forbidden one too.
    from fleetwatch.incidents import filterblob, filtersets
    from fleetwatch.incidents.api import serializers
    from fleetwatch.incidents.ingest import writers

    monkeypatch.setattr(filtersets, "find_source_ids", forbidden)
    monkeypatch.setattr(serializers, "incident_tag_rows", forbidden)
    monkeypatch.setattr(writers, "find_tags", forbidden)
    monkeypatch.setattr(filterblob, "find_tags", forbidden)
    monkeypatch.setattr(filterblob, "find_tags_with_shares", forbidden)


def test_the_api_works_with_the_fast_sql_off(tricks_forbidden, api, source_api):
    assert not fastsql.enabled() and not fastsql.postgresql()
    created = source_api.post(
        V2,
        {"start_time": TS, "source_incident_id": "F-1", "tags": [{"tag": "a=1"}]},
        format="json",
    )
    assert created.status_code == 201, created.content
    pks = _post_many(source_api, 20)
    again = source_api.post(
        f"{V2}upsert/",
        {"start_time": TS, "source_incident_id": "F-1", "level": 2, "tags": [{"tag": "b=2"}]},
        format="json",
    )
    assert again.status_code == 200 and again.json()["level"] == 2
    assert [t["tag"] for t in again.json()["tags"]] == ["a=1", "b=2"]
    assert len(_walk(api, "")) == 21 and len(_walk(api, "open=true")) == 21
    assert _walk(api, "search=closet") == [pks[n] for n in reversed(range(20)) if n % 3 == 0]
    only = [created.json()["pk"]]
    assert _walk(api, "tags=a%3D1,b%3D2&level__lte=2&stateful=true&ticket=false") == only
    assert _walk(api, "tags=kind%3Drouter,site%3Ds1") == [
        pks[n] for n in reversed(range(20)) if n % 4 == 1
    ]
    assert _walk(api, "source__type__in=nav,other") == _walk(api, "")
    detail = api.get(f"{V2}{only[0]}/")
    assert detail.status_code == 200 and detail.json()["tags"][0]["tag"] == "a=1"
    duplicate = source_api.post(
        V2, {"start_time": TS, "source_incident_id": "F-1", "tags": []}, format="json"
    )
    assert duplicate.status_code == 400 and "existing_incident" in duplicate.json()


def test_token_lookup_is_one_query_with_the_fast_sql_off(tricks_forbidden, api, source):
    from fleetwatch.accounts.authentication import find_drf_token

    api.get(V2)  # the token exists
    key = api.token
    with CaptureQueriesContext(connection) as queries:
        token = find_drf_token(key)
        assert token.user.auth_token is token
        assert getattr(token.user, "source_system", None) is None
    assert len(queries) == 1
    assert find_drf_token("0" * 40) is None
