"""The console in a real browser (Chromium through Playwright): log in, filter, acknowledge,
bulk-close, see an incident posted through the API appear without reloading, CSRF, axe-core."""

import httpx
import pytest
from browser_helpers import axe_violations, screenshot
from django.utils import timezone
from rest_framework.authtoken.models import Token

from fleetwatch.incidents.models import INFINITY, Event, Incident

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def incidents(source):
    now = timezone.now()
    made = []
    for n, (description, level) in enumerate(
        [("Freezer B12 warm", 1), ("Door 4 held open", 3), ("Printer offline", 5)]
    ):
        incident = Incident.objects.create(
            source=source,
            start_time=now - timezone.timedelta(minutes=n),
            end_time=INFINITY,
            description=description,
            level=level,
            details_url="https://vendor.example.org/devices/42",
        )
        Event.objects.create(
            incident=incident, actor=source.user, timestamp=now, type=Event.Type.INCIDENT_START
        )
        made.append(incident)
    return made


def test_failed_login_then_login(page, live_server, enduser):
    page.goto(live_server.url + "/")
    assert "/login/" in page.url
    screenshot(page, "login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("Your username and password")
    page.get_by_label("Password").fill("secret-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("heading", name="Incidents").is_visible()


def test_filter_ack_and_bulk_close(page, live_server, login, enduser, incidents):
    login(page)
    rows = page.locator("tbody tr")
    assert rows.count() == 3
    screenshot(page, "incidents")
    page.get_by_label("Search").fill("freezer")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.wait_for_url("**search=freezer**")
    assert rows.count() == 1
    page.get_by_role("link", name="Freezer B12 warm").click()
    page.get_by_label("Note").fill("on my way")
    page.get_by_role("button", name="Acknowledge").click()
    assert page.get_by_role("status").inner_text() == "Acknowledged."
    assert page.locator(".state-acked").count() == 1
    assert "on my way" in page.locator(".timeline").inner_text()
    screenshot(page, "incident-detail")
    page.goto(live_server.url + "/")
    page.get_by_label(f"Select incident {incidents[1].pk}").check()
    page.get_by_label(f"Select incident {incidents[2].pk}").check()
    page.get_by_label("Action").select_option("close")
    page.get_by_role("button", name="Apply").click()
    assert "Closed 2 incident(s)." in page.get_by_role("status").inner_text()
    assert page.locator("tbody .state-closed").count() == 2
    assert {i.pk for i in Incident.objects.closed()} == {incidents[1].pk, incidents[2].pk}


def test_new_incident_appears_without_reload(page, live_server, login, enduser, source, incidents):
    login(page)
    page.evaluate("window.notReloaded = true")
    token, _ = Token.objects.get_or_create(user=source.user)
    response = httpx.post(
        live_server.url + "/api/v2/incidents/",
        json={
            "start_time": timezone.now().isoformat(),
            "end_time": "infinity",
            "description": "Pump station 3 flooded",
            "level": 2,
            "tags": [],
        },
        headers={"Authorization": f"Token {token.key}"},
    )
    assert response.status_code == 201, response.text
    page.get_by_role("link", name="Pump station 3 flooded").wait_for(timeout=3000)
    assert page.evaluate("window.notReloaded") is True
    # An acknowledgement through the API shows too, still without a reload.
    pk = response.json()["pk"]
    user_token, _ = Token.objects.get_or_create(user=enduser)
    response = httpx.post(
        live_server.url + f"/api/v2/incidents/{pk}/acks/",
        json={"timestamp": timezone.now().isoformat(), "description": "seen"},
        headers={"Authorization": f"Token {user_token.key}"},
    )
    assert response.status_code == 201, response.text
    page.locator(f'tr[data-incident="{pk}"] .state-acked').wait_for(timeout=3000)
    assert page.evaluate("window.notReloaded") is True


def test_csrf_less_post_is_refused(page, live_server, login, enduser, incidents):
    login(page)
    response = page.request.post(
        live_server.url + "/incidents/bulk/",
        form={"action": "close", "ids": str(incidents[0].pk)},
        headers={"Origin": live_server.url},
    )
    assert response.status == 403
    assert Incident.objects.get(pk=incidents[0].pk).open


def test_kiosk_and_small_screen(page, live_server, login, enduser, incidents):
    login(page)
    page.goto(live_server.url + "/?kiosk=1")
    assert page.locator("tbody tr").count() == 3
    screenshot(page, "kiosk")
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(live_server.url + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways at 360 px ({width} px)"
    screenshot(page, "incidents-360px")


@pytest.mark.parametrize(
    "path", ["/login/", "/", "/?kiosk=1", "incident", "/sources/", "/account/"]
)
def test_axe_finds_nothing(page, live_server, login, enduser, incidents, path):
    if path != "/login/":
        login(page)
    if path == "incident":
        path = f"/incidents/{incidents[0].pk}/"
    page.goto(live_server.url + path)
    violations = axe_violations(page)
    assert violations == [], violations
    if path == "/account/":
        page.get_by_role("button", name="Create a login token").click()
        page.get_by_label("Phone number (international, +47 …)").fill("+47 909 09 090")
        page.get_by_role("button", name="Add phone number").click()
        assert "+4790909090" in page.content()
        screenshot(page, "account")


def test_axe_check_does_find_problems(page):
    """The check above is not vacuous: an unlabelled input is reported."""
    page.set_content('<html lang="en"><title>t</title><main><input></main></html>')
    assert "label" in {violation["id"] for violation in axe_violations(page)}


def test_add_connector(page, live_server, login, superuser, emulator):
    server = emulator("7signal", seed=1, devices=5)
    login(page, "root")
    page.get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Add a connector").click()
    assert axe_violations(page) == []
    page.get_by_label("Name", exact=True).fill("wifi")
    page.get_by_label("Vendor").select_option("7signal")
    page.get_by_label("Base URL").fill(server.url)
    page.get_by_label("client_id").fill("fleetwatch-demo")
    page.get_by_label("client_secret").fill("demo-secret")
    page.get_by_role("button", name="Add connector").click()
    assert "Connector wifi added." in page.get_by_role("status").inner_text()
    page.get_by_role("button", name="Test wifi").click()
    assert "Test of wifi passed" in page.get_by_role("status").inner_text()
    assert "demo-secret" not in page.content()
    violations = axe_violations(page)
    assert violations == [], violations
    screenshot(page, "sources")


def test_profile_with_timeslot_and_filter_and_preview(page, live_server, login, enduser, incidents):
    login(page)
    page.get_by_role("link", name="Notifications").click()
    page.get_by_label("Filter name").fill("critical")
    page.get_by_label("Level at most").select_option("1")
    preview = page.locator("#preview")
    preview.get_by_text("Matches 1 incident").wait_for(timeout=3000)
    assert "Freezer B12 warm" in preview.inner_text()
    assert "Printer offline" not in preview.inner_text()
    page.get_by_role("button", name="Save filter").click()
    assert "Filter critical saved." in page.get_by_role("status").inner_text()
    page.get_by_label("Time slot name").fill("office")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        page.get_by_label(day, exact=True).check()
    page.get_by_role("button", name="Save time slot").click()
    assert "Time slot office saved." in page.get_by_role("status").inner_text()
    page.get_by_label("Profile name").fill("day shift")
    page.get_by_label("Time slot", exact=True).select_option(label="office")
    page.get_by_label("critical").check()
    page.get_by_role("button", name="Save profile").click()
    assert "Profile day shift saved." in page.get_by_role("status").inner_text()
    violations = axe_violations(page)
    assert violations == [], violations
    screenshot(page, "notifications")
    page.get_by_role("link", name="Incidents it matches").click()
    assert page.locator("tbody tr").count() == 1


@pytest.mark.parametrize(
    "path", ["/login/", "incident", "/sources/", "/notifications/", "/account/", "/?kiosk=1"]
)
def test_every_page_fits_360_px(page, live_server, login, superuser, incidents, path):
    login(page, "root")
    page.set_viewport_size({"width": 360, "height": 740})
    if path == "/login/":
        page.context.clear_cookies()
    if path == "incident":
        path = f"/incidents/{incidents[0].pk}/"
    page.goto(live_server.url + path)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{path} scrolls sideways at 360 px ({width} px)"
