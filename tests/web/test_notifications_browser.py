"""The notification pages in a real browser (Chromium through Playwright): edit and delete, a
destination's "send test" against a real SMTP server on loopback, the delivery log; each page
checked with axe-core."""

import pytest
from browser_helpers import axe_violations, screenshot
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Event, Incident
from fleetwatch.notifications.models import Delivery, Destination, Filter

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_edit_and_delete_a_filter(page, live_server, login, enduser):
    Filter.objects.create(user=enduser, name="critical", filter={"maxlevel": 1})
    login(page)
    page.goto(live_server.url + "/notifications/")
    page.get_by_role("link", name="Edit filter critical").click()
    assert page.get_by_label("Level at most").input_value() == "1"
    violations = axe_violations(page)
    assert violations == [], violations
    page.get_by_label("Filter name").fill("high")
    page.get_by_label("Level at most").select_option("2")
    page.get_by_role("button", name="Save filter").click()
    assert "Filter high saved." in page.get_by_role("status").inner_text()
    assert Filter.objects.get(user=enduser).filter == {"maxlevel": 2}
    page.get_by_role("link", name="Edit filter high").click()
    page.get_by_role("button", name="Delete filter high").click()
    assert "Filter high deleted." in page.get_by_role("status").inner_text()
    assert not Filter.objects.filter(user=enduser).exists()


def test_edit_time_slot_shows_an_error_then_saves(page, live_server, login, enduser):
    login(page)
    page.goto(live_server.url + "/notifications/")
    page.get_by_role("link", name="All the time", exact=True).click()
    violations = axe_violations(page)
    assert violations == [], violations
    page.get_by_label("Time slot name").fill("")
    page.get_by_label("Time slot name").evaluate("e => e.removeAttribute('required')")
    page.get_by_role("button", name="Save time slot").click()
    assert "name:" in page.get_by_role("alert").inner_text()
    page.get_by_label("Time slot name").fill("Weekdays")
    for day in ("Sat", "Sun"):
        page.get_by_label(day, exact=True).uncheck()
    page.get_by_role("button", name="Save time slot").click()
    assert "Time slot Weekdays saved." in page.get_by_role("status").inner_text()
    row = page.get_by_role("row", name="Weekdays")
    assert row.get_by_role("cell").nth(5).inner_text() == "—"  # Saturday


def test_send_test_email(page, live_server, login, enduser, smtp_sink):
    login(page)
    page.goto(live_server.url + "/notifications/")
    page.get_by_role("button", name="Send test to email").click()
    status = page.get_by_role("status").inner_text()
    assert "A test message was sent to alice@example.org." in status
    smtp_sink.wait(1)
    assert smtp_sink.to("alice@example.org")[0]["Subject"] == "[Fleetwatch] Test message"


def test_delivery_log(page, live_server, login, enduser, source):
    destination = Destination.objects.get(user=enduser, managed=True)
    now = timezone.now()
    outcomes = [
        ("sent", ""),
        ("failed", "SMTPRecipientsRefused: 550 no such user"),
        ("pending", ""),
    ]
    for n, (description, (status, error)) in enumerate(
        zip(["Freezer B12 warm", "Door 4 held open", "Printer offline"], outcomes, strict=True)
    ):
        incident = Incident.objects.create(
            source=source, start_time=now, end_time=INFINITY, description=description, level=n + 1
        )
        event = Event.objects.create(
            incident=incident, actor=source.user, timestamp=now, type=Event.Type.INCIDENT_START
        )
        Delivery.objects.create(
            event=event,
            destination=destination,
            media="email",
            status=status,
            attempts=1 if status != "failed" else 8,
            last_error=error,
            sent_at=now if status == "sent" else None,
            message={"incident": {"pk": incident.pk, "description": description}},
        )
    login(page)
    page.goto(live_server.url + "/notifications/")
    page.get_by_role("link", name="Delivery log").click()
    assert page.locator("tbody tr").count() == 3
    violations = axe_violations(page)
    assert violations == [], violations
    screenshot(page, "deliveries")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Show").click()
    assert page.locator("tbody tr").count() == 1
    assert "550 no such user" in page.locator("tbody").inner_text()
    page.locator("tbody a").first.click()
    section = page.get_by_role("region", name="Notifications sent")
    assert "Failed" in section.inner_text()
    violations = axe_violations(page)
    assert violations == [], violations


@pytest.mark.parametrize("path", ["/notifications/deliveries/", "destination", "timeslot"])
def test_new_pages_fit_360_px_and_pass_axe(page, live_server, login, enduser, path):
    if path == "destination":
        path = f"/notifications/destinations/{Destination.objects.get(user=enduser).pk}/"
    elif path == "timeslot":
        path = f"/notifications/timeslots/{enduser.timeslots.get().pk}/"
    login(page)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(live_server.url + path)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{path} scrolls sideways at 360 px ({width} px)"
    violations = axe_violations(page)
    assert violations == [], violations
