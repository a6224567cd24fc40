"""The vendor console pages a hub incident links to (its ``details_url``).

Each real vendor has a web console with a page per device or alarm; the emulators serve a
plain HTML stand-in under ``/console/`` so a link the connector builds can be followed (and
tested) end to end. The page layout is shared here; each vendor's ``emulator`` module declares
its console routes and what its pages show. Unknown ids are a 404 page, never a 500.
"""

import html
from collections.abc import Iterable

from starlette.responses import HTMLResponse

CONSOLE_PREFIX = "/console"


def _cell(value: object) -> str:
    if value is None or value == "":
        return "&mdash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "<br>".join(html.escape(str(item)) for item in value) or "&mdash;"
    return html.escape(str(value))


def page(
    vendor: str,
    title: str,
    fields: Iterable[tuple[str, object]],
    links: Iterable[tuple[str, str]] = (),
    status_code: int = 200,
) -> HTMLResponse:
    """One console page: a heading, a table of fields and a list of links (href, label)."""
    rows = "\n".join(
        f"<tr><th>{html.escape(name)}</th><td>{_cell(value)}</td></tr>" for name, value in fields
    )
    items = "\n".join(
        f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>' for href, label in links
    )
    body = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · {html.escape(vendor)} console (emulated)</title></head>\n"
        f"<body><p>{html.escape(vendor)} console (Fleetwatch emulator)</p>\n"
        f"<h1>{html.escape(title)}</h1>\n<table>\n{rows}\n</table>\n"
        + (f"<ul>\n{items}\n</ul>\n" if items else "")
        + "</body></html>\n"
    )
    return HTMLResponse(body, status_code=status_code)


def not_found(vendor: str, what: str) -> HTMLResponse:
    """The console's answer for an id it does not know."""
    return page(vendor, "Not found", [("What", what)], [(f"{CONSOLE_PREFIX}/", "Home")], 404)
