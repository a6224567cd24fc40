"""Every console page, filled with awkward content (long unbroken words, tags, a ticket, an
acknowledgement, a failing connector, form errors), checked in Chromium: axe-core finds no
WCAG 2 A/AA or best-practice violation, the page body never scrolls sideways at 360 px, the
wallboard fills 1920 px, and the sort controls work from the keyboard alone."""

import pytest
from browser_helpers import axe_violations, screenshot
from django.utils import timezone

from fleetwatch.connectors import services as connectors
from fleetwatch.connectors.models import ConnectorState
from fleetwatch.incidents import services
from fleetwatch.incidents.models import INFINITY, Event, Incident

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONG_WORD = "x" * 90
LONG_URL = "https://tickets.example.org/" + "a" * 120


@pytest.fixture
def rich(source, superuser):
    """Incidents that stretch a layout: a long unbroken description, long tags, a ticket URL,
    an acknowledgement, metadata; and a connector that keeps failing."""
    now = timezone.now()
    made = []
    for n, level in enumerate([1, 2, 3, 4, 5]):
        incident = Incident.objects.create(
            source=source,
            start_time=now - timezone.timedelta(minutes=n),
            end_time=INFINITY if n % 2 == 0 else (now if n == 1 else None),
            description=f"Freezer {n} {LONG_WORD}" if n == 0 else f"Door {n} held open",
            level=level,
            details_url=LONG_URL,
            ticket_url=LONG_URL if n == 0 else "",
            metadata={"serial": LONG_WORD, "room": "B12"},
        )
        Event.objects.create(
            incident=incident, actor=source.user, timestamp=now, type=Event.Type.INCIDENT_START
        )
        services.add_tag(incident, ("host", f"r{n}-{LONG_WORD}"), source.user)
        services.add_tag(incident, ("site", "oslo"), source.user)
        made.append(incident)
    services.acknowledge(made[0], superuser, description=f"on my way {LONG_WORD}")
    connector = connectors.create_connector(
        name="wifi",
        vendor="7signal",
        base_url="http://127.0.0.1:9/" + "p" * 80,
        credentials={"client_id": "id", "client_secret": "never-shown-secret"},
    )
    ConnectorState.objects.filter(connector=connector).update(
        last_error=f"connection refused {LONG_WORD}",
        last_error_at=now,
        consecutive_failures=3,
        requests_total=17,
    )
    return made


def pages(incidents: list[Incident]) -> list[str]:
    return [
        "/",
        "/?sort=level&open=true",
        "/?kiosk=1",
        "/?tags=not-a-tag",
        f"/incidents/{incidents[0].pk}/",
        f"/incidents/{incidents[3].pk}/",
        "/sources/",
        "/connectors/add/",
        "/notifications/",
        "/account/",
    ]


def check_widths(page, url: str) -> None:
    for width in (360, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{url} scrolls sideways at {width} px ({scroll} px)"


@pytest.mark.parametrize("index", range(10))
def test_page_passes_axe_and_fits_phone_and_wallboard(
    page, live_server, login, superuser, rich, index
):
    login(page, "root")
    url = live_server.url + pages(rich)[index]
    page.goto(url)
    violations = axe_violations(page)
    assert violations == [], violations
    if "/connectors/add/" in url:
        screenshot(page, "connector-form")
    check_widths(page, url)
    page.goto(url)
    violations = axe_violations(page)  # at 1920 px: what the wallboard shows
    assert violations == [], violations


def test_login_page_and_its_error_pass_axe_and_fit(page, live_server, enduser):
    page.goto(live_server.url + "/login/")
    assert axe_violations(page) == []
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").wait_for()
    violations = axe_violations(page)
    assert violations == [], violations
    check_widths(page, live_server.url + "/login/")


def test_connector_form_with_errors_passes_axe_and_fits(page, live_server, login, superuser):
    login(page, "root")
    page.goto(live_server.url + "/connectors/add/")
    page.get_by_label("Name", exact=True).fill("wifi")
    page.get_by_label("Base URL").fill("http://127.0.0.1:9/")
    page.get_by_label("Options (JSON, optional)").fill("{not json")
    page.get_by_role("button", name="Add connector").click()
    page.get_by_role("alert").wait_for()
    violations = axe_violations(page)
    assert violations == [], violations
    page.set_viewport_size({"width": 360, "height": 900})
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= 360, f"the connector form scrolls sideways at 360 px ({scroll} px)"


def test_messages_on_the_wallboard_pass_axe(page, live_server, login, superuser, rich):
    """A message left by an action (here: a bulk acknowledge) shows on the next page, which
    may be the dark wallboard."""
    login(page, "root")
    page.get_by_label(f"Select incident {rich[4].pk}").check()
    page.get_by_label("Action").select_option("close")
    page.evaluate("document.querySelector('#bulk input[name=back]').value = 'kiosk=1'")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**kiosk=1**")
    assert page.locator(".messages").count() == 1
    violations = axe_violations(page)
    assert violations == [], violations


def test_wallboard_uses_the_whole_screen(page, live_server, login, superuser, rich):
    login(page, "root")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(live_server.url + "/?kiosk=1")
    table = page.locator("table.incidents").bounding_box()
    assert table is not None and table["width"] >= 1800
    assert page.locator("header.top").count() == 0
    # long words elsewhere in the table must not squeeze a header onto two lines
    heights = {
        name: page.locator(f"th[data-sort={name}] a").bounding_box()["height"]
        for name in ("level", "start_time", "source")
    }
    assert heights["source"] == heights["level"] == heights["start_time"], heights
    screenshot(page, "kiosk")


def test_sort_from_the_keyboard_alone(page, live_server, login, superuser, rich):
    login(page, "root")
    header = page.locator("th[data-sort=level]")
    assert header.get_attribute("aria-sort") == "none"
    page.locator("body").focus()
    for _ in range(60):  # Tab through the page until the Level header's link has focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('th')?.dataset.sort") == "level":
            break
    else:
        pytest.fail("the Level sort link cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=level**")
    assert page.locator("th[data-sort=level]").get_attribute("aria-sort") == "ascending"
    levels = page.locator("tbody tr .badge[class*=level-]").all_inner_texts()
    assert levels[0] == "Critical" and levels[-1] == "Information"
    page.get_by_role("link", name="Level, sort descending").press("Enter")
    page.wait_for_url("**sort=-level**")
    assert page.locator("th[data-sort=level]").get_attribute("aria-sort") == "descending"
    assert page.locator("tbody tr .badge[class*=level-]").first.inner_text() == "Information"
    screenshot(page, "incidents-sorted")
    # The filter bar's Sort select works from the keyboard too (phones hide the header).
    page.get_by_label("Sort", exact=True).select_option("-source")
    page.get_by_role("button", name="Filter", exact=True).press("Enter")
    page.wait_for_url("**sort=-source**")
    assert page.locator("th[data-sort=source]").get_attribute("aria-sort") == "descending"
