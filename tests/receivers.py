"""Real receivers for the delivery and console tests: an SMTP server (aiosmtpd) and an HTTP
webhook receiver, both on loopback, recording what arrives. Fixtures, imported by the
conftest.py of each package that uses them."""

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """aiosmtpd handler keeping every message (parsed) it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.connections = 0  # EHLOs: one per SMTP session

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        pairs = zip(self.messages, self.envelopes, strict=True)
        return [mail for mail, (_, rcpt) in pairs if address in rcpt]

    def wait(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server on loopback; the hub's e-mail settings point at it."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    settings.DEFAULT_FROM_EMAIL = "hub@fleetwatch.test"
    settings.SMS_GATEWAY_ADDRESS = "sms@gateway.test"
    try:
        yield mailbox
    finally:
        controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Status codes to answer, in order; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])
    # The first ``hold`` requests get no answer until ``release`` is set (a sender stuck
    # mid-request, e.g. to be killed there); they are recorded when they arrive.
    hold: int = 0
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook_receiver(settings):
    """A real HTTP server on loopback recording each POST; ``statuses`` sets its answers."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            if len(receiver.requests) <= receiver.hold:
                receiver.release.wait(60)
            statuses = receiver.statuses
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
            payload = b'{"ok": true}' if status < 300 else b'{"error": "try later"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Request-Id", f"rcv-{len(receiver.requests)}")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
