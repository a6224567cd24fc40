"""The one HTTP layer every connector uses: timeouts, retries with backoff and jitter, the
shared rate limiter, 429 handling, authentication refresh, request counting.

Vendor modules call ``VendorHTTP.request`` and get parsed JSON back, or one of the errors
below. What counts as "try again" is decided here, once: transport errors and dropped
connections, 5xx, 429 and bodies that are not the JSON they claim to be.
"""

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from django.utils import timezone

from fleetwatch import __version__
from fleetwatch.connectors.ratelimit import SharedRateLimiter

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
    """A request being built; authenticators add their header, parameter or body fields."""

    method: str
    path: str
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    json: Any = None
    data: dict | None = None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` (seconds or HTTP date), else 7SIGNAL-style ``X-RateLimit-*`` headers."""
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed is not None:
                return max(0.0, (parsed - timezone.now()).total_seconds())
    headers = response.headers
    replenish = headers.get("X-RateLimit-Replenish-Rate") or headers.get("ratelimit-replenish-rate")
    requested = (
        headers.get("X-RateLimit-Requested-Tokens")
        or headers.get("ratelimit-requested-tokens")
        or "1"
    )
    try:
        if replenish and float(replenish) > 0:
            return max(1.0, float(requested) / float(replenish))
    except ValueError:
        pass
    return None


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.on_request = on_request
        self.sleep = sleep
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0
        self.client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"User-Agent": f"fleetwatch/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def send_once(self, req: Request) -> httpx.Response:
        """One paced request, counted; transport errors propagate."""
        self.limiter.acquire()
        self.requests += 1
        if self.on_request:
            self.on_request()
        return self.client.request(
            req.method,
            req.path,
            params=req.params or None,
            headers=req.headers or None,
            json=req.json,
            data=req.data,
        )

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
            try:
                response = self.send_once(req)
            except httpx.TransportError as exc:
                failures += 1
                self._give_up_or_wait(failures, f"{type(exc).__name__} on {method} {path}")
                continue
            status = response.status_code
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
