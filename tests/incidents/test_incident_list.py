"""GET /incidents/: every filter, strict parameter checking, pagination and query counts."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fleetwatch import fastsql
from fleetwatch.incidents.events import acknowledge
from fleetwatch.incidents.ingest import parse_incident, upsert_incidents
from fleetwatch.incidents.models import Incident

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"


@pytest.fixture
def seed(source, make_source):
    """A small, known set of incidents across two sources."""
    other = make_source("zino1", "zino")
    now = timezone.now()

    def make(src, sid, *, start, end="infinity", tags=(), level=5, ticket="", description=""):
        draft = parse_incident(
            {
                "start_time": start.isoformat(),
                "end_time": end if end in (None, "infinity") else end.isoformat(),
                "source_incident_id": sid,
                "tags": [{"tag": t} for t in tags],
                "level": level,
                "ticket_url": ticket,
                "description": description,
            }
        )
        (result,) = upsert_incidents(src, src.user, [draft])
        return result.incident.pk

    ids = {
        "open1": make(
            source,
            "o1",
            start=now - timedelta(hours=5),
            tags=["location=broomcloset", "problem=onfire"],
            level=1,
            description="fire in closet",
        ),
        "open2": make(
            source,
            "o2",
            start=now - timedelta(hours=4),
            tags=["location=understairs", "problem=onfire"],
            level=2,
        ),
        "open3": make(
            other,
            "o3",
            start=now - timedelta(hours=3),
            tags=["location=attic", "problem=onfire"],
            level=3,
            ticket="https://t.example/1",
        ),
        "closed": make(
            source,
            "c1",
            start=now - timedelta(hours=10),
            end=now - timedelta(hours=9),
            tags=["problem=flood"],
            level=4,
        ),
        "stateless": make(other, "s1", start=now - timedelta(hours=1), end=None, level=5),
    }
    acknowledge(Incident.objects.get(pk=ids["open2"]), source.user)
    acknowledge(
        Incident.objects.get(pk=ids["closed"]),
        source.user,
        timestamp=now - timedelta(hours=2),
        expiration=now - timedelta(hours=1),  # expired: not acked any more
    )
    return ids


def pks(response):
    assert response.status_code == 200, response.content
    return {i["pk"] for i in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"open1", "open2", "open3", "closed", "stateless"}),
        ("open=true", {"open1", "open2", "open3"}),
        ("open=false", {"closed"}),
        ("open=", {"open1", "open2", "open3", "closed", "stateless"}),
        ("acked=true", {"open2"}),
        ("acked=false", {"open1", "open3", "closed", "stateless"}),
        ("stateful=false", {"stateless"}),
        ("stateful=True", {"open1", "open2", "open3", "closed"}),
        ("ticket=true", {"open3"}),
        ("ticket=0", {"open1", "open2", "closed", "stateless"}),
        ("tags=problem=onfire", {"open1", "open2", "open3"}),
        ("tags=location=broomcloset,location=understairs,problem=onfire", {"open1", "open2"}),
        ("tags=location=broomcloset,problem=flood", set()),
        ("level__lte=2", {"open1", "open2"}),
        ("source_incident_id=o3", {"open3"}),
        ("end_time__isnull=true", {"stateless"}),
        ("search=closet", {"open1"}),
        ("hide_closed_acked=true", {"open1", "open2", "open3", "closed", "stateless"}),
        ("duration__gte=200", {"open1", "open2"}),
    ],
)
def test_filters(api, seed, query, expected):
    assert pks(api.get(f"{V2}?{query}")) == {seed[name] for name in expected}


def test_source_filters(api, seed, source):
    assert pks(api.get(f"{V2}?source__id__in={source.pk}")) == {
        seed["open1"],
        seed["open2"],
        seed["closed"],
    }
    assert pks(api.get(f"{V2}?source__name__in=zino1")) == {seed["open3"], seed["stateless"]}
    assert pks(api.get(f"{V2}?source__type__in=nav,zino")) == set(seed.values())


def test_id_and_time_filters(api, seed):
    assert pks(api.get(f"{V2}?id__in={seed['open1']},{seed['closed']}")) == {
        seed["open1"],
        seed["closed"],
    }
    cutoff = (timezone.now() - timedelta(hours=4, minutes=30)).isoformat().replace("+", "%2B")
    assert pks(api.get(f"{V2}?start_time__gte={cutoff}")) == {
        seed["open2"],
        seed["open3"],
        seed["stateless"],
    }


def test_v1_spec_example_query(api, seed, source):
    query = (
        f"acked=false&open=true&stateful=true&source__id__in={source.pk}"
        "&tags=location=broomcloset,location=understairs,problem=onfire"
    )
    assert pks(api.get(f"{V1}?{query}")) == {seed["open1"]}


def test_hide_closed_acked_hides_closed_and_acked(api, seed, enduser):
    acknowledge(Incident.objects.get(pk=seed["closed"]), enduser)
    assert seed["closed"] not in pks(api.get(f"{V2}?hide_closed_acked=true"))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("open=maybe", "open"),
        ("acked=yes", "acked"),
        ("page_size=abc", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=100000", "page_size"),
        ("level__lte=9", "level__lte"),
        ("level__lte=x", "level__lte"),
        ("tags=nokey", "tags"),
        ("tags=Bad=x", "tags"),
        ("id__in=1,x", "id__in"),
        ("start_time__gte=yesterday", "start_time__gte"),
        ("cursor=garbage", "cursor"),
        ("colour=red", "colour"),
        ("filter_pk=3", "filter_pk"),
    ],
)
def test_bad_query_values_are_named(api, seed, query, field):
    response = api.get(f"{V2}?{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_mine_refuses_source_filters(source_api, seed):
    response = source_api.get(f"{V2}mine/?source__id__in=1")
    assert response.status_code == 400
    assert "source__id__in" in response.json()


def test_mine_lists_own_incidents(source_api, seed):
    assert pks(source_api.get(f"{V2}mine/")) == {seed["open1"], seed["open2"], seed["closed"]}


def test_count(api, seed):
    response = api.get(f"{V2}?open=true&count")
    assert response.status_code == 200
    assert response.json() == {"count": 3, "params": {"open": "true"}}


def streamed_json(response):
    """The body of a streamed response, decoded (the test client's ``.json()`` needs
    ``content``)."""
    return json.loads(b"".join(response.streaming_content))


def test_v1_open_lists(api, seed):
    response = api.get(f"{V1}open/")
    assert response.status_code == 200
    assert {i["pk"] for i in streamed_json(response)} == {
        seed["open1"],
        seed["open2"],
        seed["open3"],
    }
    response = api.get(f"{V1}open+unacked/")
    assert {i["pk"] for i in streamed_json(response)} == {seed["open1"], seed["open3"]}


def test_open_reflects_future_end_time(api, source_api):
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    body = source_api.post(
        V2, {"start_time": "2026-01-01T00:00:00Z", "end_time": future, "tags": []}, format="json"
    ).json()
    assert body["open"] is True and body["end_time"] != "infinity"


def _make_many(source, count, same_start=False):
    base = timezone.now() - timedelta(days=1)
    drafts = [
        parse_incident(
            {
                "start_time": (base if same_start else base + timedelta(seconds=i)).isoformat(),
                "source_incident_id": f"P-{i}",
                "tags": [{"tag": f"n={i}"}, {"tag": "batch=x"}, {"tag": "bulk=y"}],
            }
        )
        for i in range(count)
    ]
    upsert_incidents(source, source.user, drafts)


@pytest.mark.parametrize("query", ["open=true", "tags=batch=x", "open=true&tags=batch=x"])
@pytest.mark.parametrize("same_start", [False, True])
def test_pagination_walks_every_incident_once(api, source, same_start, query):
    """Forward and back across pages, including ties of start_time; a tag's pages are read in
    the tag's own order (``tag_pages``), positioned by its relations' copy of the keyset."""
    _make_many(source, 23, same_start=same_start)
    seen, url, pages = [], f"{V2}?page_size=5&{query}", []
    while url:
        response = api.get(url)
        assert response.status_code == 200
        body = response.json()
        pages.append(body)
        seen.extend(i["pk"] for i in body["results"])
        url = body["next"]
        if url:
            assert query.split("=")[0] in url and "page_size=5" in url
    assert len(seen) == 23 and len(set(seen)) == 23
    assert [len(p["results"]) for p in pages] == [5, 5, 5, 5, 3]
    assert pages[0]["previous"] is None
    # Walk back from the last page with "previous".
    back, url = [], pages[-1]["previous"]
    while url:
        body = api.get(url).json()
        back = [i["pk"] for i in body["results"]] + back
        url = body["previous"]
    assert back == seen[:20]
    starts = [(i["start_time"], i["pk"]) for p in pages for i in p["results"]]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize(
    ("query", "count"),
    [
        # token lookup + incidents page (with acked/open in SQL) + tags (elsewhere than
        # PostgreSQL, where the page query renders them)
        ("open=true", 3),
        # + the tag lookup (PostgreSQL: no EXPLAIN to choose a form, whatever the sizes)
        ("tags=batch=x", 4),
        ("tags=batch=x,bulk=y&open=true", 4),
    ],
)
@pytest.mark.parametrize("size", [5, 50])
def test_list_query_count_is_constant(api, source, size, query, count):
    _make_many(source, size)
    Incident.objects.filter(source_incident_id="P-0").update(ticket_url="https://t/1")
    acknowledge(Incident.objects.get(source_incident_id="P-1"), source.user)
    api.get(V2)  # warm the token lookup path
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"{V2}?page_size={size}&{query}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == size
    # On PostgreSQL the tags come in the page query itself (fastsql.rows): one query fewer.
    expected = count - 1 if fastsql.postgresql() else count
    assert len(queries) == expected, [q["sql"] for q in queries]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "open=true",
        "open=false",
        "acked=true",
        "acked=0",
        "open=1&acked=False",
        "tags=batch=x",
        "tags=batch=x&open=false",
        "tags=bulk=y,batch=x&acked=0",
        "tags=n=1,n=2,n=4,batch=x",
    ],
)
def test_compiled_page_sql_matches_the_orm(api, source, query):
    """The compiled page SQL (no filter, open, acked, tags) gives the ORM's pages, both
    ways."""
    _make_many(source, 14)
    Incident.objects.filter(source_incident_id__in=["P-1", "P-2", "P-3"]).update(
        end_time=timezone.now() - timedelta(minutes=1)
    )
    for sid in ("P-2", "P-4", "P-5"):
        acknowledge(Incident.objects.get(source_incident_id=sid), source.user)

    def walk(extra):
        pages, url = [], f"{V2}?page_size=2&{query}{extra}"
        while url:  # forward, then back from the last page
            body = api.get(url).json()
            pages.append(body["results"])
            url = body["next"]
        url = body["previous"]
        while url:
            body = api.get(url).json()
            pages.append(body["results"])
            url = body["previous"]
        return pages

    compiled = walk("")
    # a filter outside the compiled ones (and true of every incident): the filterset path
    assert compiled == walk("&start_time__lte=2999-01-01T00:00:00Z")
    assert len(compiled) > 2


def test_compiled_page_rejects_bad_values_as_the_filterset(api):
    response = api.get(f"{V2}?open=maybe&acked=2&page_size=0")
    assert response.status_code == 400
    assert response.json() == {
        "open": ["Must be one of true, false, 1 or 0."],
        "acked": ["Must be one of true, false, 1 or 0."],
    }


def test_time_bounds_on_both_ends(api, seed):
    def at(hours):
        return (timezone.now() - timedelta(hours=hours)).isoformat().replace("+", "%2B")

    assert pks(api.get(f"{V2}?start_time__lte={at(4.5)}")) == {seed["open1"], seed["closed"]}
    # Open incidents end at "infinity", which is after every bound.
    assert pks(api.get(f"{V2}?end_time__gte={at(0)}")) == {
        seed["open1"],
        seed["open2"],
        seed["open3"],
    }
    assert pks(api.get(f"{V2}?end_time__lte={at(0)}")) == {seed["closed"]}
    assert pks(api.get(f"{V2}?end_time__isnull=false")) == set(seed.values()) - {seed["stateless"]}


def test_token_expiry_filter(api, seed, source):
    draft = parse_incident(
        {"start_time": timezone.now().isoformat(), "tags": [{"tag": "problem_type=token_expiry"}]}
    )
    (result,) = upsert_incidents(source, source.user, [draft])
    assert pks(api.get(f"{V2}?token_expiry=true")) == {result.incident.pk}
    assert pks(api.get(f"{V2}?token_expiry=false")) == set(seed.values())


def test_search_finds_event_descriptions(api, seed):
    response = api.post(
        f"{V2}{seed['open3']}/events/",
        {"type": "OTH", "timestamp": timezone.now().isoformat(), "description": "Pigeon nest"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert pks(api.get(f"{V2}?search=pigeon")) == {seed["open3"]}


@pytest.mark.parametrize("name", ["filter_pk", "notificationprofile_pk"])
def test_reserved_filters_name_the_missing_object(api, seed, name):
    response = api.get(f"{V2}?{name}=7")
    assert response.status_code == 400
    assert response.json() == {name: ["No object with id 7 exists."]}
