"""The one HTTP layer every connector uses: timeouts, retries with backoff and jitter, the
shared rate limiter, 429 handling, authentication refresh, request counting.

Vendor modules call ``VendorHTTP.request`` and get parsed JSON back, or one of the errors
below. What counts as "try again" is decided here, once: transport errors and dropped
connections, 5xx, 429 and bodies that are not the JSON they claim to be.
"""

import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

import httpx
from django.utils import timezone

from fleetwatch import __version__
from fleetwatch.connectors.ratelimit import SharedRateLimiter

log = logging.getLogger("fleetwatch.connectors")

# --- secrets never reach a log ----------------------------------------------------------------
# httpx logs every request's URL at INFO ("HTTP Request: POST https://…?access_token=…"), and
# MetaAccess wants its token in the query string. Whatever log level an operator picks, the
# loggers below redact secret-looking query parameters and every credential or cached token of
# the request being sent.

_SECRETS: ContextVar[frozenset[str]] = ContextVar("fleetwatch_secrets", default=frozenset())
_SECRET_PARAM = re.compile(
    r"(?i)\b((?:access_|refresh_|id_)?token|client_secret|secret|password|passwd|pass|"
    r"session(?:_?id)?|api_?key|sig(?:nature)?)=([^&\s\"'<>]+)"
)
REDACTED = "[redacted]"
REDACTED_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "fleetwatch.connectors",
)


def redact(text: str, secrets: frozenset[str] = frozenset()) -> str:
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


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


_REDACTOR = RedactSecrets()


def install_log_redaction() -> None:
    """Put the redacting filter on every logger that may see a request (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


install_log_redaction()


class VendorError(Exception):
    """The vendor could not be polled; the message is safe to show and log (no secrets)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientError(VendorError):
    """Retries ran out on timeouts, 5xx, 429 or malformed answers."""


class AuthError(VendorError):
    """The vendor refused the credentials, even after a fresh login."""


class ClientError(VendorError):
    """The vendor refused the request itself (a 4xx that retrying will not fix)."""


class SessionExpired(Exception):
    """Raised by a vendor's body check when the body says the session is gone (HTTP 200)."""


@dataclass
class RetryPolicy:
    attempts: int = 5  # per request, for 5xx / transport / malformed answers
    rate_limited_attempts: int = 10  # 429s are waited out, up to this many times
    base_delay: float = 0.5
    max_delay: float = 30.0
    default_rate_limit_wait: float = 2.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class Request:
    """A request being built; authenticators add their header, parameter or body fields."""

    method: str
    path: str
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    json: Any = None
    data: dict | None = None


#: The longest wait any rate-limit header can impose (a vendor asking for more is asked again
#: after this long; the 429s count against ``rate_limited_attempts``).
MAX_RATE_LIMIT_WAIT = 3600.0

# A reset time given as a Unix time (GitHub style) rather than seconds from now.
_EPOCH_THRESHOLD = 1_000_000_000


def _seconds(value: object) -> float | None:
    """A finite, non-negative number of seconds, or None for anything else."""
    try:
        seconds = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _http_date_seconds(value: str) -> float | None:
    """Seconds until an HTTP date; None when it is not one. HTTP dates are always GMT, so a
    date without a usable zone (``-0000``) is read as UTC."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return max(0.0, (parsed - timezone.now()).total_seconds())


def _header(headers: httpx.Headers, *names: str) -> str | None:
    for name in names:
        if value := headers.get(name):
            return value
    return None


def rate_limit_reset_seconds(headers: httpx.Headers) -> float | None:
    """When the ``X-RateLimit-*`` / ``RateLimit-*`` headers say the budget is refilled:
    ``*-Reset`` (seconds, or a Unix time), else 7SIGNAL's ``requested tokens / replenish
    rate``; None when they do not say."""
    reset = _seconds(_header(headers, "X-RateLimit-Reset", "RateLimit-Reset"))
    if reset is not None:
        if reset >= _EPOCH_THRESHOLD:
            reset = max(0.0, reset - time.time())
        return min(reset, MAX_RATE_LIMIT_WAIT)
    replenish = _seconds(_header(headers, "X-RateLimit-Replenish-Rate", "RateLimit-Replenish-Rate"))
    requested = _seconds(
        _header(headers, "X-RateLimit-Requested-Tokens", "RateLimit-Requested-Tokens") or "1"
    )
    if replenish and requested is not None:
        return min(requested / replenish, MAX_RATE_LIMIT_WAIT)
    return None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After`` (seconds or an HTTP date), else the
    rate-limit headers (at least a second); None when nothing usable is given (the caller
    backs off). Never raises on a malformed header."""
    value = (response.headers.get("Retry-After") or "").strip()
    if value:
        seconds = _seconds(value)
        if seconds is None:
            seconds = _http_date_seconds(value)
        if seconds is not None:
            return min(seconds, MAX_RATE_LIMIT_WAIT)
    reset = rate_limit_reset_seconds(response.headers)
    return None if reset is None else max(1.0, reset)


def exhausted_wait(response: httpx.Response, default: float) -> float | None:
    """A successful answer that spends the last of the budget (``X-RateLimit-Remaining: 0``):
    the seconds until the budget is refilled (``default`` when the headers do not say), so the
    next request does not earn a 429."""
    remaining = _seconds(_header(response.headers, "X-RateLimit-Remaining", "RateLimit-Remaining"))
    if remaining is None or remaining >= 1:
        return None
    reset = rate_limit_reset_seconds(response.headers)
    return default if reset is None else reset


class VendorHTTP:
    """One vendor base URL, one credential: every request goes through ``request``."""

    def __init__(
        self,
        base_url: str,
        *,
        limiter: SharedRateLimiter,
        retry: RetryPolicy | None = None,
        timeout: float = 15.0,
        on_request: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.on_request = on_request
        self.sleep = sleep
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0
        self.secrets: frozenset[str] = frozenset()  # redacted from every log line we cause
        self.client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"User-Agent": f"fleetwatch/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def send_once(self, req: Request) -> httpx.Response:
        """One paced request, counted; transport errors propagate."""
        self.limiter.acquire()
        self.requests += 1
        if self.on_request:
            self.on_request()
        secrets = _SECRETS.set(self.secrets)
        try:
            return self.client.request(
                req.method,
                req.path,
                params=req.params or None,
                headers=req.headers or None,
                json=req.json,
                data=req.data,
            )
        finally:
            _SECRETS.reset(secrets)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        data: dict | None = None,
        auth=None,
        accept: tuple[int, ...] = (),
        check: Callable[[Any], None] | None = None,
    ) -> tuple[int, Any]:
        """Send with retries; returns ``(status, parsed JSON)``.

        ``accept`` lists non-2xx statuses the caller handles itself (MetaAccess's 413 "past the
        last page"). ``check`` inspects a parsed body and may raise SessionExpired.
        """
        failures = rate_limits = 0
        refreshed = False
        while True:
            req = Request(method, path, dict(params or {}), {}, json, dict(data) if data else None)
            if auth is not None:
                auth.apply(req, self)
                self.secrets |= auth.secret_values()
            try:
                response = self.send_once(req)
            except httpx.TransportError as exc:
                failures += 1
                self._give_up_or_wait(failures, f"{type(exc).__name__} on {method} {path}")
                continue
            status = response.status_code
            if (
                status != 429
                and (spent := exhausted_wait(response, self.retry.default_rate_limit_wait))
                is not None
            ):
                # The answer spent the last of the budget: no request (from any worker) before
                # the vendor refills it, rather than learning that from a 429.
                self.limiter.block_until(timezone.now() + timedelta(seconds=spent))
            if status == 429:
                rate_limits += 1
                self.rate_limited += 1
                wait = retry_after_seconds(response)
                if wait is None:
                    wait = self.retry.default_rate_limit_wait * 2 ** min(rate_limits - 1, 5)
                self.limiter.block_until(timezone.now() + timedelta(seconds=wait))
                if rate_limits >= self.retry.rate_limited_attempts:
                    raise TransientError(f"rate limited {rate_limits} times on {path}", 429)
                log.info("rate limited on %s; waiting %.1f s", path, wait)
                continue
            if status in (401, 403) and status not in accept:
                if auth is not None and not refreshed:
                    refreshed = True
                    auth.invalidate(self)
                    continue
                raise AuthError(f"{status} from {method} {path}: credentials refused", status)
            if status >= 500:
                failures += 1
                self._give_up_or_wait(failures, f"{status} from {method} {path}", status)
                continue
            if status >= 400 and status not in accept:
                raise ClientError(f"{status} from {method} {path}: {response.text[:200]}", status)
            try:
                body = response.json() if response.content else None
            except ValueError:
                failures += 1
                self._give_up_or_wait(failures, f"malformed JSON from {method} {path}", status)
                continue
            if check is not None:
                try:
                    check(body)
                except SessionExpired:
                    if auth is None or refreshed:
                        raise AuthError(f"session refused on {path}") from None
                    refreshed = True
                    auth.invalidate(self)
                    continue
            return status, body

    def _give_up_or_wait(self, failures: int, what: str, status: int | None = None) -> None:
        if failures >= self.retry.attempts:
            raise TransientError(f"{what} (gave up after {failures} attempts)", status)
        delay = self.retry.backoff(failures)
        self.retries += 1
        log.info("%s; retry %d in %.2f s", what, failures, delay)
        self.sleep(delay)
