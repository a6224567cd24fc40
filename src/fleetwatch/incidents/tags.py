"""Tags travel as ``"key=value"`` strings; the key is ``^[a-z0-9_]+$``."""

import re

from fleetwatch.incidents.limits import tag_problem
from fleetwatch.incidents.models import TAG_KEY_MESSAGE
from fleetwatch.incidents.validation import NUL_MESSAGE

KEY_RE = re.compile(r"^[a-z0-9_]+$")
TAG_FORMAT_MESSAGE = (
    'Enter a valid key-value construct: "key=value", where key and value are strings. '
    "The key can consist of lowercase letters, numbers and underscores."
)


def parse_tag(text: object) -> tuple[str, str]:
    """``"host=a=b"`` → ``("host", "a=b")`` (split on the first ``=``); ValueError otherwise."""
    if not isinstance(text, str) or "=" not in text:
        raise ValueError(TAG_FORMAT_MESSAGE)
    if "\x00" in text:
        raise ValueError(NUL_MESSAGE)
    key, _, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not KEY_RE.match(key):
        raise ValueError(TAG_KEY_MESSAGE)
    if not value:
        raise ValueError("The tag value may not be empty.")
    if problem := tag_problem(key, value):
        raise ValueError(problem)
    return key, value


def format_tag(key: str, value: str) -> str:
    return f"{key}={value}"
