"""``EMAIL_URL`` → Django's ``MAILERS`` setting (read by ``fleetwatch.settings``; no Django
needed).

``smtp://user:pass@host:587?starttls=1`` (STARTTLS), ``smtps://user:pass@host:465``
(implicit TLS), ``smtp://host:1025`` (plain, e.g. a local sink); ``?timeout=S`` (default 10).
Unset: mail is written to the log. A small parser rather than dj-email-url because that one
spells the options ``tls``/``ssl`` where the hub documents ``starttls``, and has not been
released since 2022.
"""

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LOG_BACKEND = "fleetwatch.notifications.senders.LogEmailBackend"
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
TRUE = {"1", "true", "yes", "on"}


def parse_email_url(url: str) -> dict[str, Any]:
    """The ``MAILERS["default"]`` entry (``BACKEND``, ``OPTIONS``) for ``url``; ValueError
    names what is wrong."""
    if not url:
        return {"BACKEND": LOG_BACKEND, "OPTIONS": {}}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError("EMAIL_URL: the scheme must be smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("EMAIL_URL: a host is required")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("EMAIL_URL: the port is not a number") from None
    query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout"}
    if unknown:
        raise ValueError(f"EMAIL_URL: unknown option(s) {', '.join(sorted(unknown))}")
    starttls = query.get("starttls", "").lower() in TRUE
    if scheme == "smtps" and starttls:
        raise ValueError("EMAIL_URL: smtps:// is implicit TLS; starttls does not apply")
    try:
        timeout = float(query.get("timeout", "10"))
    except ValueError:
        raise ValueError("EMAIL_URL: timeout is not a number") from None
    return {
        "BACKEND": SMTP_BACKEND,
        "OPTIONS": {
            "host": parts.hostname,
            "port": port or (465 if scheme == "smtps" else (587 if starttls else 25)),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": scheme == "smtps",
            "use_tls": starttls,
            "timeout": timeout,
        },
    }
