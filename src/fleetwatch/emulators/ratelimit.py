"""Rate limiters keyed by credential, on real (monotonic) time: clients wait real seconds."""

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until one more request would be allowed (0 when allowed)


class TokenBucket:
    """Spring Cloud Gateway style: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.configure(rate, burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def configure(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst = float(rate), int(burst)

    def hit(self, key: str, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                tokens -= 1
                self._buckets[key] = (tokens, now)
                return Decision(True, int(tokens), 0.0)
            self._buckets[key] = (tokens, now)
            return Decision(False, 0, (1 - tokens) / self.rate)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class SlidingWindow:
    """At most ``limit`` requests in any ``window`` seconds (OPSWAT's "10/min")."""

    def __init__(self, limit: int, window: float) -> None:
        self.configure(limit, window)
        self._hits: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def configure(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit, self.window = int(limit), float(window)

    def hit(self, key: str, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = [t for t in self._hits.get(key, []) if t > now - self.window]
            if len(hits) < self.limit:
                hits.append(now)
                self._hits[key] = hits
                return Decision(True, self.limit - len(hits), 0.0)
            self._hits[key] = hits
            return Decision(False, 0, max(0.0, hits[0] + self.window - now))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; round up so a client that obeys it is never early."""
    return str(max(1, math.ceil(seconds)))
