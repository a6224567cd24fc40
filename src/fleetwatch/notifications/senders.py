"""How each built-in medium sends a rendered message (``Delivery.message``): SMTP e-mail, SMS
as e-mail (Argus's gateway convention) and signed webhooks. Each returns the provider's
message id and raises ``SendError`` (or anything else) on failure; the delivery worker retries.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import make_msgid
from httpcore import SOCKET_OPTION, NetworkStream

from fleetwatch.connectors.addresses import forbidden_reason, resolve

log = logging.getLogger("fleetwatch.notifications.mail")

SIGNATURE_HEADER = "X-Fleetwatch-Signature"
DELIVERY_HEADER = "X-Fleetwatch-Delivery"
TIMESTAMP_HEADER = "X-Fleetwatch-Timestamp"


class SendError(Exception):
    """A send failed in a way worth retrying; the message is what ``last_error`` shows."""


class LogEmailBackend(BaseEmailBackend):
    """``EMAIL_URL`` unset: each mail is written to the log (logger
    ``fleetwatch.notifications.mail``) instead of being sent."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            log.info(
                "mail (EMAIL_URL unset, not sent) to %s: %s\n%s",
                ", ".join(message.recipients()),
                message.subject,
                message.body,
            )
        return len(email_messages)


_session = threading.local()


@contextmanager
def mail_session() -> Iterator[None]:
    """Send the mails of a batch over one SMTP connection (opened on the first mail, closed
    at the end): a new connection per mail (EHLO, STARTTLS, AUTH) cost more than the mail."""
    _session.connection, _session.active = None, True
    try:
        yield
    finally:
        connection, _session.connection, _session.active = _session.connection, None, False
        if connection is not None:
            try:
                connection.close()
            except Exception:  # the batch is done; a failing QUIT changes nothing
                log.debug("closing the SMTP connection failed", exc_info=True)


def _connection() -> BaseEmailBackend:
    """The session's open connection, else the default mailer (opened and kept in a session)."""
    connection: BaseEmailBackend | None = getattr(_session, "connection", None)
    if connection is None:
        connection = mailers.default
        if getattr(_session, "active", False):  # in a session: keep it open for the next
            connection.open()
            _session.connection = connection
    return connection


def _mail(subject: str, text: str, to: str, html: str | None = None) -> str:
    msgid = make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "fleetwatch")
    mail = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": msgid},
    )
    if html:
        mail.attach_alternative(html, "text/html")
    connection = _connection()
    try:
        connection.send_messages([mail])
    except Exception:
        # A broken connection must not fail the rest of the batch: the next mail reconnects.
        if getattr(_session, "connection", None) is connection:
            _session.connection = None
            try:
                connection.close()
            except Exception:
                pass
        raise
    return msgid


def send_email(message: dict[str, Any], address: str) -> str:
    """A text and HTML mail to ``address``; returns its Message-ID."""
    return _mail(message["subject"], message["text"], address, message["html"])


def send_sms(message: dict[str, Any], phone_number: str) -> str:
    """Argus's SMS-as-email: a mail to ``FLEETWATCH_SMS_GATEWAY_ADDRESS`` whose subject is
    ``sms <number>`` and whose body is the short text."""
    gateway = settings.SMS_GATEWAY_ADDRESS
    if not gateway:
        raise SendError("FLEETWATCH_SMS_GATEWAY_ADDRESS is not set")
    return _mail(f"sms {phone_number}", message["short"] + "\n", gateway)


# --- webhooks ---------------------------------------------------------------------------------


def webhook_body(message: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The JSON a webhook receives: the event and its incident (``generic``), or a Slack or
    Microsoft Teams incoming-webhook message."""
    incident = message["incident"]
    if fmt == "slack":
        return {
            "text": f"*{message['subject']}*\n<{incident['url']}|Open incident #{incident['pk']}>",
        }
    if fmt == "teams":
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": message["subject"],
                                "wrap": True,
                                "weight": "Bolder",
                            },
                            {"type": "TextBlock", "text": message["text"], "wrap": True},
                        ],
                        "actions": [
                            {
                                "type": "Action.OpenUrl",
                                "title": "Open incident",
                                "url": incident["url"],
                            }
                        ],
                    },
                }
            ],
        }
    return {
        "delivery_id": message.get("delivery_id"),
        "event": message["event"],
        "incident": incident,
    }


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the raw body>`` (GitHub's convention)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _WebhookBackend(httpcore.SyncBackend):
    """Connects only where webhooks may go (``FLEETWATCH_WEBHOOK_ALLOW_PRIVATE``), to exactly
    the address it checked (no DNS rebinding)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        address = check_webhook_host(host, port)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


def check_webhook_host(host: str, port: int) -> str:
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise SendError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    if not addresses:
        raise SendError(f"cannot resolve {host}")
    for address in addresses:
        reason = forbidden_reason(address, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
        if reason:
            raise SendError(
                f"refused to connect to {host}: "
                + reason.replace(
                    "FLEETWATCH_CONNECTOR_ALLOW_PRIVATE", "FLEETWATCH_WEBHOOK_ALLOW_PRIVATE"
                )
            )
    return addresses[0]


def check_webhook_url(url: str) -> str | None:
    """At configuration: why the hub may not POST to ``url`` (None: it may). A name that does
    not resolve now is accepted; every send checks the address again."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "Enter an http:// or https:// URL with a host name."
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The port is not a number between 0 and 65535."
    try:
        check_webhook_host(parts.hostname, port)
    except SendError as exc:
        message = str(exc)
        return None if message.startswith("cannot resolve") else message
    return None


_client: httpx.Client | None = None


def webhook_client() -> httpx.Client:
    """One pooled client per process (keep-alive to busy receivers)."""
    global _client
    if _client is None:
        transport = httpx.HTTPTransport(retries=0)
        transport._pool._network_backend = _WebhookBackend()
        _client = httpx.Client(
            transport=transport, timeout=settings.WEBHOOK_TIMEOUT, follow_redirects=False
        )
    return _client


def send_webhook(message: dict[str, Any], hook: dict[str, Any]) -> str:
    """POST the JSON body to ``hook["url"]``, signed when the destination has a secret; 2xx is
    success (returns the receiver's ``X-Request-Id``/``id`` if it gives one), anything else
    raises SendError."""
    body = json.dumps(webhook_body(message, hook.get("format", "generic"))).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Fleetwatch",
        DELIVERY_HEADER: str(message.get("delivery_id", "")),
        TIMESTAMP_HEADER: str(int(time.time())),
    }
    if secret := hook.get("secret"):
        headers[SIGNATURE_HEADER] = signature(secret, body)
    if urlsplit(hook["url"]).scheme not in ("http", "https"):
        raise SendError("the webhook URL is not http(s)")
    try:
        response = webhook_client().post(hook["url"], content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise SendError(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise SendError(f"HTTP {response.status_code}: {response.text[:200]}")
    request_id: str = response.headers.get("X-Request-Id", "")
    return request_id
