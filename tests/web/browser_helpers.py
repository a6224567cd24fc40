"""Helpers of the browser tests: screenshots for the README, axe-core's accessibility check."""

import os
import tempfile
from pathlib import Path

#: Where the browser tests leave a screenshot of each main page. The README's pictures in
#: docs/screenshots/ are refreshed with ``FLEETWATCH_SCREENSHOTS=docs/screenshots make
#: test-sqlite`` (or any directory); by default they go to a temporary directory, so a test run
#: leaves the working tree as it was.
SCREENSHOTS = Path(
    os.environ.get("FLEETWATCH_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / "fleetwatch-screenshots"
)
AXE = Path(__file__).with_name("axe.min.js")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2 A/AA violations on the page as it is (axe-core 4.14.1, MPL-2.0,
    vendored in tests/web/axe.min.js)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']}))"
        ".violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target)}))"
    )
    return result
