"""Who may decide by hand which device a vendor record belongs to: the one place this rule
lives for the console (and for any face that adopts it).

People (staff and end users) may link and unlink; a source system user may not: its token is
for posting its own incidents, not for rearranging the inventory every face reads. The API's
link/unlink endpoints and the console both ask ``may_change_links``.
"""

from typing import Any

from fleetwatch.incidents.permissions import source_of

REFUSAL = "Only people link and unlink vendor records; a source system may not."


def link_refusal(user: Any) -> str | None:
    """Why ``user`` may not link or unlink records by hand (None: it may)."""
    if not (user.is_authenticated and user.is_active):
        return "Log in to link or unlink vendor records."
    if source_of(user) is not None:
        return REFUSAL
    return None


def may_change_links(user: Any) -> bool:
    """People (staff and end users) decide links by hand; a source system does not."""
    return link_refusal(user) is None
