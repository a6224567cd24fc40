"""Where a connector's incidents link to: the vendor console page of their device or alarm.

An incident's ``details_url`` is ``<console URL>/<vendor path>``. The console URL is the
connector's ``console_url`` option; without it, ``<origin of the base URL>/console``, where
the emulators serve their console pages (so a demo's links work as they are). Against a real
vendor, set ``console_url`` to its web console: the vendor paths each module appends are
listed in docs/connectors/<vendor>.md.
"""

from urllib.parse import quote, urlsplit

OPTION = "console_url"
DEFAULT_PATH = "/console"


def console_url(options: dict, base_url: str) -> str:
    """The console root for a connector, without a trailing slash."""
    configured = options.get(OPTION)
    if isinstance(configured, str) and configured.strip():
        return configured.strip().rstrip("/")
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{DEFAULT_PATH}"


def link(console: str, *segments: object) -> str:
    """``link("https://c/console", "devices", "A/B")`` → ``https://c/console/devices/A%2FB``;
    no segments: the console's home page (``…/console/``). Every id is percent-encoded, so a
    vendor id can never change the path."""
    if not segments:
        return console + "/"
    return console + "".join("/" + quote(str(segment), safe="") for segment in segments)
