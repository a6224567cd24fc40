"""The delivery tests' real receivers (SMTP, webhook): shared with the console's tests."""

from receivers import smtp_sink, webhook_receiver

__all__ = ["smtp_sink", "webhook_receiver"]
