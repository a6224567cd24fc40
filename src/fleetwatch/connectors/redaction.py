"""Secrets never reach a log: a logging filter that ``settings.LOGGING`` puts on every logger
that may see a vendor request.

httpx logs every request's URL at INFO ("HTTP Request: POST https://…?access_token=…"), and
MetaAccess wants its token in the query string. Whatever level an operator picks, the filter
redacts secret-looking query parameters and every credential or cached token of the request
being sent (``secrets_in_use``, set by the HTTP layer around each request).

This module imports nothing from Django: the settings name it before Django is set up.
A filter on a logger sees only records created on that logger, not its children's, so the
settings list every logger by name (``LOGGERS``, and each vendor's own).
"""

import logging
import re
from contextlib import contextmanager
from contextvars import ContextVar

from fleetwatch import vendors

_SECRETS: ContextVar[frozenset[str]] = ContextVar("fleetwatch_secrets", default=frozenset())
_SECRET_PARAM = re.compile(
    r"(?i)\b((?:access_|refresh_|id_)?token|client_secret|secret|password|passwd|pass|"
    r"session(?:_?id)?|api_?key|sig(?:nature)?)=([^&\s\"'<>]+)"
)
REDACTED = "[redacted]"

#: Every logger that may see a request or a secret: httpx/httpcore, the shared connector
#: layer, and each vendor's own ``fleetwatch.connectors.<vendor>``.
LOGGERS: tuple[str, ...] = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "fleetwatch.connectors",
    *(v.logger for v in vendors.VENDORS),
)


def redact(text: str, secrets: frozenset[str] = frozenset()) -> str:
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


@contextmanager
def secrets_in_use(secrets: frozenset[str]):
    """While a request is sent: these values are redacted from every log record."""
    token = _SECRETS.set(secrets)
    try:
        yield
    finally:
        _SECRETS.reset(token)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (and traceback) with the secrets taken out."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _SECRETS.get()
        message = record.getMessage()
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        return True


def with_redaction(config: dict) -> dict:
    """``config`` (a ``LOGGING`` dict) with the ``redact_secrets`` filter on every logger in
    ``LOGGERS``, whatever else it configures for them (their levels are kept)."""
    config = {**config}
    config["filters"] = {
        **config.get("filters", {}),
        "redact_secrets": {"()": "fleetwatch.connectors.redaction.RedactSecrets"},
    }
    loggers = {**config.get("loggers", {})}
    for name in LOGGERS:
        entry = {**loggers.get(name, {})}
        entry["filters"] = [*entry.get("filters", []), "redact_secrets"]
        loggers[name] = entry
    config["loggers"] = loggers
    return config
