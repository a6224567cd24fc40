"""The console's incident pages over HTTP (Django's test client): login, filters, paging,
live-update poll, bulk actions, detail actions, CSRF."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Acknowledgement, Event, Incident


@pytest.fixture
def browser_client(enduser):
    client = Client()
    client.force_login(enduser)
    return client


@pytest.fixture
def make_incident(source):
    def make(description="Door open", level=3, open=True, **extra):
        now = timezone.now()
        incident = Incident.objects.create(
            source=source,
            start_time=extra.pop("start_time", now),
            end_time=INFINITY if open else now,
            description=description,
            level=level,
            **extra,
        )
        Event.objects.create(
            incident=incident, actor=source.user, timestamp=now, type=Event.Type.INCIDENT_START
        )
        return incident

    return make


def test_root_sends_anonymous_visitor_to_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


def test_login_page_and_failed_login(enduser):
    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert b"didn't match" in response.content
    response = client.post("/login/", {"username": "alice", "password": "secret-pass-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_csrf_less_post_is_refused(enduser, make_incident):
    incident = make_incident()
    client = Client(enforce_csrf_checks=True)
    client.force_login(enduser)
    response = client.post(f"/incidents/{incident.pk}/close/", {})
    assert response.status_code == 403
    assert Incident.objects.get(pk=incident.pk).end_time == INFINITY


def test_logout(browser_client):
    assert browser_client.post("/logout/").status_code == 302
    assert browser_client.get("/").status_code == 302


def test_list_shows_badges_and_filters_through_the_filterset(browser_client, make_incident):
    make_incident("Freezer warm", level=1)
    make_incident("Printer jam", level=5, open=False)
    page = browser_client.get("/").content.decode()
    assert "Freezer warm" in page and "Printer jam" in page
    assert 'class="badge level-1"' in page and "state-closed" in page
    page = browser_client.get("/?open=true&level__lte=2").content.decode()
    assert "Freezer warm" in page and "Printer jam" not in page
    page = browser_client.get("/?search=printer").content.decode()
    assert "Freezer warm" not in page and "Printer jam" in page


def test_bad_filter_is_shown_not_a_500(browser_client, make_incident):
    make_incident()
    response = browser_client.get("/?tags=nokeyvalue&start_time__gte=yesterday")
    assert response.status_code == 200
    assert b"The filter is not valid" in response.content
    assert b"tags" in response.content and b"start_time__gte" in response.content


def test_cursor_paging(browser_client, make_incident, monkeypatch):
    from fleetwatch.web import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    now = timezone.now()
    for n in range(5):
        make_incident(f"incident-{n}", start_time=now - timedelta(minutes=n))
    seen = []
    url = "/"
    while url:
        response = browser_client.get(url)
        context = response.context
        seen += [row.description for row in context["listing"].rows]
        cursor = context["listing"].next_cursor
        url = f"/?cursor={cursor}" if cursor else None
    assert seen == [f"incident-{n}" for n in range(5)]
    assert browser_client.get("/?cursor=garbage").context["listing"].errors


def poll_url(client) -> str:
    context = client.get("/").context
    return f"/incidents/changed/?marker={context['marker']}&key={context['poll_key']}"


def test_poll_is_204_until_something_changes(browser_client, make_incident, enduser):
    incident = make_incident()
    url = poll_url(browser_client)
    response = browser_client.get(url)
    assert response.status_code == 204
    Acknowledgement.objects.create(
        event=Event.objects.create(
            incident=incident, actor=enduser, timestamp=timezone.now(), type="ACK"
        )
    )
    response = browser_client.get(url)
    assert response.status_code == 200
    assert b"state-acked" in response.content


def test_poll_unchanged_costs_two_queries(
    browser_client, make_incident, django_assert_max_num_queries
):
    make_incident()
    url = poll_url(browser_client)
    with django_assert_max_num_queries(1):  # MAX(event.id): no session, no user row
        assert browser_client.get(url).status_code == 204


def test_poll_refused_without_key_or_login(browser_client, make_incident):
    make_incident()
    url = poll_url(browser_client)
    assert Client().get("/incidents/changed/?marker=0").status_code == 403
    assert Client().get(url.replace("key=", "key=x")).status_code == 403
    # A key whose session logged out: "nothing changed" at most, never the list.
    browser_client.post("/logout/")
    assert browser_client.get(url).status_code == 204
    assert browser_client.get(url.replace("marker=", "marker=0")).status_code == 403


@pytest.mark.parametrize("action", ["ack", "close"])
def test_bulk_actions(browser_client, make_incident, action):
    first, second, third = make_incident(), make_incident(), make_incident()
    response = browser_client.post(
        "/incidents/bulk/", {"action": action, "ids": [first.pk, second.pk]}
    )
    assert response.status_code == 302
    rows = Incident.objects.with_state().in_bulk([first.pk, second.pk, third.pk])
    flag = "is_acked" if action == "ack" else "is_open"
    expected = action == "ack"
    assert getattr(rows[first.pk], flag) is expected and getattr(rows[second.pk], flag) is expected
    assert getattr(rows[third.pk], flag) is not expected


def test_bulk_reopen_and_ticket(browser_client, make_incident):
    closed = make_incident(open=False)
    browser_client.post("/incidents/bulk/", {"action": "reopen", "ids": [closed.pk]})
    assert Incident.objects.get(pk=closed.pk).open
    browser_client.post(
        "/incidents/bulk/",
        {"action": "ticket", "ids": [closed.pk], "ticket_url": "https://t.example.org/9"},
    )
    assert Incident.objects.get(pk=closed.pk).ticket_url == "https://t.example.org/9"
    response = browser_client.post(
        "/incidents/bulk/",
        {"action": "ticket", "ids": [closed.pk], "ticket_url": "not a url"},
        follow=True,
    )
    assert b"Enter a valid URL" in response.content
    assert Incident.objects.get(pk=closed.pk).ticket_url == "https://t.example.org/9"


def test_bulk_refusal_is_reported(browser_client, make_incident):
    incident = make_incident(open=False)
    response = browser_client.post(
        "/incidents/bulk/", {"action": "close", "ids": [incident.pk]}, follow=True
    )
    assert f"Incident {incident.pk}:".encode() in response.content


def test_kiosk_mode_has_no_chrome(browser_client, make_incident):
    make_incident("On the wall")
    page = browser_client.get("/?kiosk=1").content.decode()
    assert "On the wall" in page and 'class="kiosk"' in page
    assert "Log out" not in page and 'name="ids"' not in page


def test_detail_and_actions(browser_client, make_incident, enduser):
    incident = make_incident("Freezer warm", metadata={"room": "B12"})
    page = browser_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Freezer warm" in page and "B12" in page and "Incident start" in page
    url = f"/incidents/{incident.pk}/"
    future = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    browser_client.post(url + "ack/", {"description": "on it", "expiration": future})
    ack = Acknowledgement.objects.get(event__incident=incident)
    assert ack.event.description == "on it" and ack.expiration is not None
    browser_client.post(url + "comment/", {"description": "called the vendor"})
    browser_client.post(url + "ticket/", {"ticket_url": "https://t.example.org/1"})
    browser_client.post(url + "close/", {"description": "fixed"})
    incident.refresh_from_db()
    assert not incident.open and incident.ticket_url == "https://t.example.org/1"
    page = browser_client.get(url).content.decode()
    for text in ("called the vendor", "Acknowledge", "Close", "Incident change"):
        assert text in page
    browser_client.post(url + "reopen/", {})
    assert Incident.objects.get(pk=incident.pk).open


def test_detail_refusals_are_messages(browser_client, make_incident):
    incident = make_incident()
    url = f"/incidents/{incident.pk}/"
    past = "2001-01-01T00:00"
    response = browser_client.post(url + "ack/", {"expiration": past}, follow=True)
    assert response.status_code == 200 and b"expiration" in response.content
    response = browser_client.post(url + "reopen/", {}, follow=True)
    assert response.status_code == 200 and b"msg-error" in response.content
    assert browser_client.get("/incidents/999999/").status_code == 404
    assert browser_client.post(url + "explode/", {}).status_code == 404


def test_save_filter_bar_as_named_filter(browser_client, make_incident, enduser, source):
    from fleetwatch.notifications.models import Filter

    make_incident("Freezer warm", level=1)
    make_incident("Printer jam", level=5)
    back = "open=true&level__lte=2&source__name__in=nav1&sort=newest"
    response = browser_client.post("/incidents/save-filter/", {"name": "crit", "back": back})
    stored = Filter.objects.get(user=enduser, name="crit")
    assert stored.filter == {"open": True, "maxlevel": 2, "sourceSystemIds": [source.pk]}
    assert response["Location"] == f"/?filter_pk={stored.pk}"
    rows = browser_client.get(response["Location"]).context["listing"].rows
    assert [row.description for row in rows] == ["Freezer warm"]
    response = browser_client.post(
        "/incidents/save-filter/", {"name": "s", "back": "search=jam"}, follow=True
    )
    assert b"A saved filter cannot hold this" in response.content
    assert not Filter.objects.filter(name="s").exists()


@pytest.mark.django_db(transaction=True)
def test_the_poll_survives_a_connection_the_database_dropped(make_incident):
    """The poll's one query is also the request's connection health check (Django's own
    ``SELECT 1`` is skipped): a connection the server closed is replaced, not a 500."""
    from django.db import connection

    from fleetwatch.web import listing

    if connection.vendor != "postgresql":
        pytest.skip("a server-side disconnect needs PostgreSQL")
    incident = make_incident()
    expected = Event.objects.filter(incident=incident).order_by("-id").first().pk
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert listing.change_marker() == expected
