"""A destination's "send test": one made-up message through the destination's real medium,
sent by the same code as real deliveries (``Medium.send``: SMTP, SMS-as-email, webhooks).

Shared by the console's button and ``POST /api/v2/notificationprofiles/destinations/<pk>/test/``.
The outcome is a short sentence for a person: a failure is summarised (the exception's kind
and first line, cut short, with the destination's secrets blanked), never a stack trace.
Each user may send ``TEST_LIMIT`` tests per ``TEST_WINDOW`` seconds, so the button cannot be
used to flood someone's inbox or webhook.
"""

import logging
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from fleetwatch.connectors.ratelimit import take_allowance
from fleetwatch.notifications.media import get_medium
from fleetwatch.notifications.models import Destination

log = logging.getLogger("fleetwatch.notifications.testsend")

TEST_LIMIT = 5
TEST_WINDOW = 60
SUMMARY_LENGTH = 200


class TooManyTests(Exception):
    """The user sent ``TEST_LIMIT`` tests within the current window."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many test messages; try again in {retry_after} s.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class TrialOutcome:
    sent: bool
    detail: str


def summarise_error(text: str, secrets: tuple[str, ...] = ()) -> str:
    """The first line of an error, at most ``SUMMARY_LENGTH`` characters, secrets blanked:
    what a delivery log or a test button shows (the full text stays in ``last_error``)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > SUMMARY_LENGTH:
        first = first[: SUMMARY_LENGTH - 1] + "…"
    return first


def sample_message(destination: Destination) -> dict[str, Any]:
    """A message shaped like ``render.render_message``'s, saying it is a test."""
    now = timezone.now()
    hub = settings.FRONTEND_URL.rstrip("/")
    label = destination.label or destination.media
    subject = "[Fleetwatch] Test message"
    text = (
        f"This is a test of your notification destination {label}, sent at "
        f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S %Z}.\nIf you read this, it works.\n"
    )
    return {
        "subject": subject,
        "text": text,
        "html": f"<html><body><h2>{subject}</h2><p>{text}</p></body></html>",
        "short": "Fleetwatch test message: this destination works.",
        "delivery_id": "test",
        "event": {
            "pk": None,
            "type": "TEST",
            "type_name": "Test message",
            "timestamp": now.isoformat(),
            "description": "A test message from the destination settings.",
            "actor": "",
        },
        "incident": {"pk": 0, "url": hub + "/", "description": "Test message", "test": True},
    }


def _take_token(user_pk: int) -> None:
    """Count one test against the user's allowance, shared by every worker (in the database:
    ``take_allowance``); ``TooManyTests`` when it is used up."""
    wait = take_allowance(f"destination-test:{user_pk}", TEST_LIMIT, TEST_WINDOW)
    if wait > 0:
        raise TooManyTests(max(1, math.ceil(wait)))


def send_test(destination: Destination) -> TrialOutcome:
    """Send a test message to ``destination`` now (raises ``TooManyTests``); the caller has
    checked that the requesting user owns it."""
    _take_token(destination.user_id)
    medium = get_medium(destination.media)
    if medium is None:
        return TrialOutcome(False, f"The medium {destination.media!r} is not installed.")
    try:
        medium.send(sample_message(destination), destination.settings)
    except Exception as exc:  # every failure is the destination's or the server's, reported
        secrets = tuple(str(destination.settings.get(k, "")) for k in medium.secret_fields)
        summary = summarise_error(f"{type(exc).__name__}: {exc}", secrets)
        log.info("test message to destination %s failed: %s", destination.pk, summary)
        return TrialOutcome(False, f"The test message could not be sent: {summary}")
    return TrialOutcome(True, f"A test message was sent to {display_address(destination)}.")


def display_address(destination: Destination) -> str:
    """Where a destination sends, for people: the address, or for a medium with secrets (a
    webhook, whose URL may carry a token) the host only."""
    medium = get_medium(destination.media)
    if medium is None:
        return ""
    address = medium.address(destination.settings)
    if medium.secret_fields:
        address = address.split("//", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    return address
