"""The one HTTP layer every connector uses: timeouts, retries with backoff and jitter, the
shared rate limiter, 429 handling, the authentication flow, request counting.

Vendor modules call ``VendorHTTP.request`` and get parsed JSON back, or one of the errors
below. What counts as "try again" is decided here, once: transport errors and dropped
connections, 5xx, 429 and bodies that are not the JSON they claim to be.

Authentication is a flow the layer drives, like httpx's ``Auth.auth_flow``: the
authenticator (``auth.py``) is a generator that yields the requests to send — a token or
login request when it has none, then the request with its credential — and receives each
:class:`Answer`; on a refusal it decides what comes next (refresh, log in again) and never
calls back into ``request``. ``transport=`` takes any httpx transport, so a vendor module's
parsing can be tested against ``httpx.MockTransport`` without sockets.
"""

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.utils import timezone

from fleetwatch import __version__
from fleetwatch.connectors.redaction import REDACTED, RedactSecrets, redact, secrets_in_use

__all__ = ["REDACTED", "RedactSecrets", "redact"]  # re-exported: the redaction lives apart

log = logging.getLogger("fleetwatch.connectors")


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
    """A request to send; authenticators add their header, parameter or body fields to a
    copy (:meth:`copy`), so a request sent again after a new login carries the new one.

    ``accept``: non-2xx statuses the caller handles itself (MetaAccess's 413 "past the last
    page"). ``check``: inspects a parsed body and may raise SessionExpired (Sensaphone's
    "session expired" inside an HTTP 200)."""

    method: str
    path: str
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    json: Any = None
    data: dict | None = None
    accept: tuple[int, ...] = ()
    check: Callable[[Any], None] | None = None

    def copy(self) -> "Request":
        return Request(
            self.method,
            self.path,
            dict(self.params),
            dict(self.headers),
            self.json,
            dict(self.data) if self.data is not None else None,
            self.accept,
            self.check,
        )


@dataclass
class Answer:
    """What the vendor answered one request, after retries: the status, the parsed JSON
    (None for an error status the caller did not accept), and whether it refused the
    credential (401/403 not accepted, or a body check that raised SessionExpired)."""

    status: int
    body: Any
    response: httpx.Response
    refused: bool = False
    session_expired: bool = False

    @property
    def ok(self) -> bool:
        return not self.refused and self.status < 400


AuthFlow = Generator[Request, Answer, None]


class NoLimit:
    """A limiter that never waits (unit tests against a MockTransport; no database)."""

    waited = 0.0

    def acquire(self) -> float:
        return 0.0

    def block_until(self, until: datetime) -> None:
        pass

    def sent(self) -> None:
        pass

    def completed(self) -> bool:
        return False


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


def http_date(value: str | None) -> datetime | None:
    """An HTTP ``Date`` header as an aware datetime; None when missing or unreadable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def error_answer(status: int, response: httpx.Response) -> Answer:
    """A 4xx the caller does not accept, with its JSON body when it has one (a token
    endpoint's RFC 6749 error, for the auth flow to read)."""
    body = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
    return Answer(status, body, response)


def checked_answer(req: Request, status: int, body: Any, response: httpx.Response) -> Answer:
    """A parsed answer, refused as an expired session when ``req.check`` says so."""
    if req.check is not None:
        try:
            req.check(body)
        except SessionExpired:
            return Answer(status, body, response, refused=True, session_expired=True)
    return Answer(status, body, response)


class VendorHTTP:
    """One vendor base URL, one credential: every request goes through ``request``.

    ``limiter`` None: no pacing (unit tests). ``transport``: an httpx transport to use
    instead of the network (``httpx.MockTransport`` in unit tests)."""

    def __init__(
        self,
        base_url: str,
        *,
        limiter=None,
        retry: RetryPolicy | None = None,
        timeout: float = 15.0,
        on_request: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter if limiter is not None else NoLimit()
        self.retry = retry or RetryPolicy()
        self.on_request = on_request
        self.sleep = sleep
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0
        self.secrets: frozenset[str] = frozenset()  # redacted from every log line we cause
        #: where retries and waits are logged (the vendor's own logger, set by its connector)
        self.log = log
        #: the vendor's answer to the last request sent (its headers: ``vendor_date``)
        self.last_response: httpx.Response | None = None
        self.client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"User-Agent": f"fleetwatch/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def vendor_date(self) -> datetime | None:
        """The vendor's clock as its last answer's ``Date`` header gives it (None: not sent)."""
        if self.last_response is None:
            return None
        return http_date(self.last_response.headers.get("Date"))

    def send_once(self, req: Request) -> httpx.Response:
        """One paced request, counted; transport errors propagate."""
        self.limiter.acquire()
        self.requests += 1
        if self.on_request:
            self.on_request()
        with secrets_in_use(self.secrets):
            response = self.client.request(
                req.method,
                req.path,
                params=req.params or None,
                headers=req.headers or None,
                json=req.json,
                data=req.data,
            )
        self.last_response = response
        return response

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
        """Send with retries (and ``auth``'s flow); returns ``(status, parsed JSON)``.

        ``accept`` lists non-2xx statuses the caller handles itself (MetaAccess's 413 "past
        the last page"). ``check`` inspects a parsed body and may raise SessionExpired.
        Raises AuthError when the credential is still refused once the flow has done what
        it can, ClientError for another 4xx, TransientError when retries run out.
        """
        req = Request(
            method, path, dict(params or {}), {}, json, dict(data) if data else None, accept, check
        )
        answer = self.exchange(req) if auth is None else self.drive(auth, req)
        if answer.refused:
            if answer.session_expired:
                raise AuthError(f"session refused on {path}")
            raise AuthError(
                f"{answer.status} from {method} {path}: credentials refused", answer.status
            )
        if answer.status >= 400 and answer.status not in accept:
            raise ClientError(
                f"{answer.status} from {method} {path}: {answer.response.text[:200]}",
                answer.status,
            )
        return answer.status, answer.body

    def drive(self, auth, req: Request) -> Answer:
        """Run ``auth.auth_flow(req)``: send each request it yields, hand it the answer; the
        last answer is the one to the caller's request."""
        flow = auth.auth_flow(req)
        try:
            outgoing = next(flow)
            while True:
                self.secrets |= auth.secret_values()
                answer = self.exchange(outgoing)
                self.secrets |= auth.secret_values()
                try:
                    outgoing = flow.send(answer)
                except StopIteration:
                    return answer
        finally:
            flow.close()

    def exchange(self, req: Request) -> Answer:
        """One request to an answer the caller (or the auth flow) can act on: transport
        errors, 5xx, 429 and malformed JSON are retried or waited out here; every other
        status is answered as it came."""
        failures = rate_limits = 0
        method, path = req.method, req.path
        while True:
            try:
                response = self.send_once(req)
            except httpx.TransportError as exc:
                failures += 1
                self._give_up_or_wait(failures, f"{type(exc).__name__} on {method} {path}")
                continue
            status = response.status_code
            if status == 429:
                rate_limits += 1
                self._wait_out_rate_limit(response, rate_limits, path)
                continue
            self._hold_off_if_spent(response)
            if status in (401, 403) and status not in req.accept:
                return Answer(status, None, response, refused=True)
            if status >= 500:
                failures += 1
                self._give_up_or_wait(failures, f"{status} from {method} {path}", status)
                continue
            if status >= 400 and status not in req.accept:
                return error_answer(status, response)
            try:
                body = response.json() if response.content else None
            except ValueError:
                failures += 1
                self._give_up_or_wait(failures, f"malformed JSON from {method} {path}", status)
                continue
            return checked_answer(req, status, body, response)

    def _hold_off_if_spent(self, response: httpx.Response) -> None:
        """The answer spent the last of the budget: no request (from any worker) before the
        vendor refills it, rather than learning that from a 429."""
        spent = exhausted_wait(response, self.retry.default_rate_limit_wait)
        if spent is not None:
            self.limiter.block_until(timezone.now() + timedelta(seconds=spent))

    def _wait_out_rate_limit(self, response: httpx.Response, rate_limits: int, path: str) -> None:
        """A 429: hold every request off for Retry-After (else a doubling default); raise
        TransientError once ``rate_limited_attempts`` are spent."""
        self.rate_limited += 1
        wait = retry_after_seconds(response)
        if wait is None:
            wait = self.retry.default_rate_limit_wait * 2 ** min(rate_limits - 1, 5)
        self.limiter.block_until(timezone.now() + timedelta(seconds=wait))
        if rate_limits >= self.retry.rate_limited_attempts:
            raise TransientError(f"rate limited {rate_limits} times on {path}", 429)
        self.log.info("rate limited on %s; waiting %.1f s", path, wait)

    def _give_up_or_wait(self, failures: int, what: str, status: int | None = None) -> None:
        if failures >= self.retry.attempts:
            raise TransientError(f"{what} (gave up after {failures} attempts)", status)
        delay = self.retry.backoff(failures)
        self.retries += 1
        self.log.info("%s; retry %d in %.2f s", what, failures, delay)
        self.sleep(delay)
