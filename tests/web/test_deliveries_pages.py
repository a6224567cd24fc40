"""A destination's "send test" (console and API) against real receivers on loopback, the
delivery log page and an incident's notifications: who sees what, paging, filters, bad input,
and a constant number of queries."""

import pytest
from django.test import Client
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Event, Incident
from fleetwatch.notifications import testsend
from fleetwatch.notifications.models import Delivery, Destination
from receivers import free_port


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice(enduser):
    return logged_in(enduser)


@pytest.fixture
def mail_destination(enduser):
    return Destination.objects.get(user=enduser, managed=True)


# --- send test -------------------------------------------------------------------------------


def test_send_test_email_through_smtp(alice, mail_destination, smtp_sink):
    response = alice.post(f"/notifications/destinations/{mail_destination.pk}/test/", follow=True)
    assert "A test message was sent to alice@example.org." in response.text
    smtp_sink.wait(1)
    [mail] = smtp_sink.to("alice@example.org")
    assert mail["Subject"] == "[Fleetwatch] Test message"


def test_send_test_failure_is_summarised(alice, mail_destination, settings):
    port = free_port()  # nothing listens there
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }
    response = alice.post(f"/notifications/destinations/{mail_destination.pk}/test/", follow=True)
    assert response.status_code == 200
    assert "The test message could not be sent: ConnectionRefusedError" in response.text
    assert "Traceback" not in response.text


def test_send_test_webhook_signed_and_error_hides_the_secret(enduser, alice, webhook_receiver):
    hook = Destination.objects.create(
        user=enduser,
        media="webhook",
        label="hook",
        settings={"url": webhook_receiver.url, "secret": "topsecret-123"},
    )
    alice.post(f"/notifications/destinations/{hook.pk}/test/")
    [received] = webhook_receiver.requests
    assert received.headers["X-Fleetwatch-Signature"].startswith("sha256=")
    assert received.json()["event"]["type"] == "TEST"
    webhook_receiver.statuses = [500]
    response = alice.post(f"/notifications/destinations/{hook.pk}/test/", follow=True)
    assert "could not be sent: SendError: HTTP 500" in response.text
    assert "topsecret-123" not in response.text


def test_send_test_is_rate_limited_per_user(alice, mail_destination, smtp_sink, make_user):
    url = f"/notifications/destinations/{mail_destination.pk}/test/"
    for _ in range(testsend.TEST_LIMIT):
        assert alice.post(url).status_code == 302
    response = alice.post(url)
    assert response.status_code == 429 and "Too many test messages" in response.text
    smtp_sink.wait(testsend.TEST_LIMIT)
    assert len(smtp_sink.messages) == testsend.TEST_LIMIT
    bob = make_user("bob", email="bob@example.org")
    bobs = Destination.objects.get(user=bob, managed=True)
    assert logged_in(bob).post(f"/notifications/destinations/{bobs.pk}/test/").status_code == 302


def test_send_test_api(api, client_for, make_user, mail_destination, smtp_sink):
    url = f"/api/v2/notificationprofiles/destinations/{mail_destination.pk}/test/"
    response = api.post(url)
    assert response.status_code == 200
    assert response.json() == {
        "sent": True,
        "detail": "A test message was sent to alice@example.org.",
    }
    other = client_for(make_user("bob", email="bob@example.org"))
    assert other.post(url).status_code == 404
    for _ in range(testsend.TEST_LIMIT - 1):
        api.post(url)
    response = api.post(url)
    assert response.status_code == 429 and "Retry-After" in response.headers
    schema = api.get("/api/v2/schema/?format=json").json()
    assert "/api/v2/notificationprofiles/destinations/{id}/test/" in schema["paths"]


# --- the delivery log ------------------------------------------------------------------------


@pytest.fixture
def incident(source):
    return Incident.objects.create(
        source=source, start_time=timezone.now(), end_time=INFINITY, description="Freezer warm"
    )


@pytest.fixture
def deliver(incident):
    def make(destination, count=1, status="sent", error="", target=None):
        target = target or incident
        events = Event.objects.bulk_create(
            Event(
                incident=target,
                actor=target.source.user,
                timestamp=timezone.now(),
                type=Event.Type.OTHER,
            )
            for _ in range(count)
        )
        return Delivery.objects.bulk_create(
            Delivery(
                event=event,
                destination=destination,
                media=destination.media,
                status=status,
                attempts=2,
                last_error=error,
                message={"incident": {"pk": target.pk, "description": target.description}},
            )
            for event in events
        )

    return make


def test_log_shows_own_deliveries_staff_all(alice, enduser, make_user, superuser, deliver):
    mine = Destination.objects.get(user=enduser, managed=True)
    bob = make_user("bob", email="bob@example.org")
    deliver(mine, error="SMTPRecipientsRefused: {'a@b': (550, b'no')}\nsecond line")
    deliver(Destination.objects.get(user=bob, managed=True), status="failed", error="bobs-error")
    page = alice.get("/notifications/deliveries/").text
    assert "Freezer warm" in page and "SMTPRecipientsRefused" in page
    assert "second line" not in page and "bobs-error" not in page
    staff_page = logged_in(superuser).get("/notifications/deliveries/").text
    assert "bobs-error" in staff_page and "(bob)" in staff_page
    failed = logged_in(superuser).get("/notifications/deliveries/?status=failed").text
    assert "bobs-error" in failed and "SMTPRecipientsRefused" not in failed


@pytest.mark.parametrize(
    "query",
    [
        "status=nonsense",
        "media=pigeon",
        "cursor=!!!",
        "cursor=bm90LWEtY3Vyc29y",
        # "0001-01-01T00:00:00+05:00|1": before year 1 in UTC
        "cursor=MDAwMS0wMS0wMVQwMDowMDowMCswNTowMHwx",
    ],
)
def test_log_bad_input_is_a_form_error(alice, query):
    response = alice.get(f"/notifications/deliveries/?{query}")
    assert response.status_code == 400
    assert 'role="alert"' in response.text and query.split("=")[0] + ":" in response.text


def test_log_pages_by_cursor_newest_first(alice, enduser, deliver, monkeypatch):
    from fleetwatch.web import deliveries

    monkeypatch.setattr(deliveries, "PAGE_SIZE", 4)
    mine = Destination.objects.get(user=enduser, managed=True)
    made = deliver(mine, count=10)
    seen: list[int] = []
    url = "/notifications/deliveries/"
    while url:
        response = alice.get(url)
        rows = response.context["page"].rows
        assert len(rows) <= 4
        seen += [row.pk for row in rows]
        query = response.context["page"].next_query
        url = f"/notifications/deliveries/?{query}" if query else ""
    expected = sorted(made, key=lambda d: (d.created, d.pk), reverse=True)
    assert seen == [d.pk for d in expected]


def test_log_queries_do_not_grow_with_rows(alice, enduser, deliver, django_assert_num_queries):
    mine = Destination.objects.get(user=enduser, managed=True)
    deliver(mine, count=3)
    with django_assert_num_queries(3):  # session, user, the page
        alice.get("/notifications/deliveries/")
    deliver(mine, count=30, status="failed", error="boom")
    with django_assert_num_queries(3):
        response = alice.get("/notifications/deliveries/")
    assert len(response.context["page"].rows) == 33


# --- an incident's notifications --------------------------------------------------------------


def test_incident_shows_its_notifications(alice, enduser, make_user, superuser, incident, deliver):
    mine = Destination.objects.get(user=enduser, managed=True)
    mine.label = "my mail"
    mine.save()
    bob = make_user("bob", email="bob@example.org")
    bobs = Destination.objects.get(user=bob, managed=True)
    bobs.label = "bob mail"
    bobs.save()
    deliver(mine)
    deliver(bobs, status="failed")
    page = alice.get(f"/incidents/{incident.pk}/").text
    section = page[page.index("Notifications sent") :]
    assert "email: my mail" in section and "bob mail" not in section
    staff_page = logged_in(superuser).get(f"/incidents/{incident.pk}/").text
    assert "bob mail" in staff_page and "my mail" in staff_page


def test_incident_notifications_cost_one_query(
    alice, enduser, incident, deliver, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    mine = Destination.objects.get(user=enduser, managed=True)
    deliver(mine, count=2)
    with CaptureQueriesContext(connection) as few:
        alice.get(f"/incidents/{incident.pk}/")
    deliver(mine, count=20)
    with CaptureQueriesContext(connection) as many:
        response = alice.get(f"/incidents/{incident.pk}/")
    assert len(response.context["deliveries"]) == 22
    assert len(many.captured_queries) == len(few.captured_queries)
    delivery_queries = [q for q in many.captured_queries if "notifications_delivery" in q["sql"]]
    assert len(delivery_queries) == 1
