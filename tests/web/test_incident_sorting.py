"""The incident list's sorting over HTTP: every sortable column either way, keyset paging
through many equal keys (no row twice, none missing), header links with aria-sort, hostile
cursors, and a constant number of queries whatever the page holds."""

import base64
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Event, Incident
from fleetwatch.incidents.services import add_tag
from fleetwatch.web import listing

SORT_KEYS = {
    "start_time": lambda i: i.start_time,
    "level": lambda i: i.level,
    "source": lambda i: i.source.name,
}


@pytest.fixture
def browser_client(enduser):
    client = Client()
    client.force_login(enduser)
    return client


@pytest.fixture
def many(make_source):
    """23 incidents with few distinct keys: three start times, two levels, two sources."""
    sources = [make_source("alpha", "nav"), make_source("beta", "nav")]
    now = timezone.now().replace(microsecond=0)
    made = []
    for n in range(23):
        incident = Incident.objects.create(
            source=sources[n % 3 == 0],
            start_time=now - timedelta(minutes=n % 3),
            end_time=INFINITY if n % 2 else now,
            description=f"incident-{n}",
            level=3 if n % 4 else 1,
        )
        Event.objects.create(
            incident=incident, actor=incident.source.user, timestamp=now, type="STA"
        )
        made.append(incident)
    return made


def walk(client, query: str) -> list[int]:
    """The pks of every page from ``/?query``, following Next page cursors."""
    seen: list[int] = []
    url = f"/?{query}"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = response.context["listing"]
        assert not page.errors, page.errors
        assert len(page.rows) <= 4
        seen += [row.pk for row in page.rows]
        url = f"/?{page.query(cursor=page.next_cursor)}" if page.next_cursor else ""
        assert len(seen) < 100, "paging does not end"
    return seen


@pytest.mark.parametrize("sort", sorted(name for name in listing.SORTS if name[0] != "n"))
def test_every_sort_pages_through_equal_keys_exactly(browser_client, many, monkeypatch, sort):
    monkeypatch.setattr(listing, "PAGE_SIZE", 4)
    descending = sort.startswith("-")
    key = SORT_KEYS[sort.lstrip("-").replace("oldest", "start_time")]
    expected = [i.pk for i in sorted(many, key=lambda i: (key(i), i.pk), reverse=descending)]
    assert walk(browser_client, f"sort={sort}") == expected


def test_sort_and_filter_together(browser_client, many, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 4)
    wanted = sorted(
        (i for i in many if i.level == 1 and i.source.name == "beta"),
        key=lambda i: i.pk,
        reverse=True,
    )
    query = "sort=-source&level__lte=1&source__name__in=beta"
    assert walk(browser_client, query) == [i.pk for i in wanted]
    assert walk(browser_client, "sort=level&open=true") == [
        i.pk for i in sorted(many, key=lambda i: (i.level, i.pk)) if i.end_time == INFINITY
    ]


def test_first_cut_sort_names_still_work(browser_client, many):
    assert browser_client.get("/?sort=oldest").context["listing"].sort == "start_time"
    assert browser_client.get("/?sort=bogus").context["listing"].sort == "-start_time"


def test_headers_carry_aria_sort_and_toggle(browser_client, many):
    html = browser_client.get("/?sort=level&open=true").content.decode()
    assert 'aria-sort="ascending" data-sort="level"' in html
    assert 'aria-sort="none" data-sort="start_time"' in html
    assert 'aria-sort="none" data-sort="source"' in html
    page = browser_client.get("/?sort=level&open=true").context["listing"]
    columns = page.columns
    assert "sort=-level" in columns["level"]["query"]
    assert "open=true" in columns["level"]["query"]
    assert "sort=-start_time" in columns["start_time"]["query"]  # newest first on a click
    assert "sort=source" in columns["source"]["query"]
    html = browser_client.get("/?sort=-start_time").content.decode()
    assert 'aria-sort="descending" data-sort="start_time"' in html
    assert 'aria-label="Started, sort ascending"' in html  # the link says what it does


def test_kiosk_links_stay_on_the_wallboard(browser_client, many, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 4)
    page = browser_client.get("/?kiosk=1&sort=source").context["listing"]
    assert "kiosk=1" in page.columns["level"]["query"]
    assert "kiosk=1" in page.query(cursor=page.next_cursor)


def cursor(**values: object) -> str:
    raw = urlencode({k: str(v) for k, v in values.items()})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "sort,bad",
    [
        ("level", cursor(s="level", p=10**30, i=1)),
        ("level", cursor(s="level", p=-1, i=1)),
        ("level", cursor(s="level", p=2, i=2**70)),
        ("level", cursor(s="-start_time", p="2026-01-01T00:00:00+00:00", i=1)),
        ("source", cursor(s="source", p="a\x00b", i=1)),
        ("source", cursor(s="source", p="x" * 5000, i=1)),
        ("start_time", cursor(s="start_time", p="0001-01-01T00:00:00+05:00", i=1)),
        ("start_time", cursor(s="start_time", p="2026-01-01T00:00:00", i=1)),
        ("-start_time", "%%%"),
    ],
)
def test_hostile_cursor_is_a_form_error(browser_client, many, sort, bad):
    response = browser_client.get("/", {"sort": sort, "cursor": bad})
    assert response.status_code == 200
    assert response.context["listing"].errors == {"cursor": ["Invalid cursor."]}
    assert b"Invalid cursor." in response.content


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "query",
    ["", "sort=level", "sort=-source", "sort=start_time&level__lte=3", "tags=site%3Doslo"],
)
def test_query_count_does_not_grow_with_the_page(browser_client, make_source, query):
    source = make_source("gamma", "nav")
    now = timezone.now()

    def add(count: int) -> None:
        for n in range(count):
            incident = Incident.objects.create(
                source=source, start_time=now, end_time=INFINITY, level=1 + n % 5
            )
            add_tag(incident, ("site", "oslo"), source.user)
            add_tag(incident, ("host", f"h{n}"), source.user)
            Event.objects.create(incident=incident, actor=source.user, timestamp=now, type="STA")

    add(5)
    few = queries_for(browser_client, f"/?{query}")
    add(20)
    assert queries_for(browser_client, f"/?{query}") == few
    # session, user, rows, tags of the rows, change marker, saved filters; a tag filter adds
    # its tag lookup and, on PostgreSQL, the filter set's two plan estimates
    assert few <= 10
