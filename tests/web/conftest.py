"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Playwright's sync API runs an event loop in the test thread; Django's async-safety check would
then refuse database access from the test itself, hence DJANGO_ALLOW_ASYNC_UNSAFE (tests only).
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(live_server):
    def do(page, username: str = "alice", password: str = "secret-pass-123") -> None:
        page.goto(live_server.url + "/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(live_server.url + "/")

    return do


# The real SMTP and webhook receivers of the delivery tests ("send test").
from receivers import smtp_sink, webhook_receiver  # noqa: E402

__all__ = ["smtp_sink", "webhook_receiver"]
