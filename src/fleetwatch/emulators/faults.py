"""Fault injection: what the next N requests (or the next S seconds) suffer."""

import threading
import time
from dataclasses import asdict, dataclass, field

KINDS = {
    "http_500": "answer 500 in the vendor's error shape",
    "http_503": "answer 503 in the vendor's error shape",
    "slow": "delay the response by `delay` seconds (default 2), then answer normally",
    "timeout": "hold the request for `delay` seconds (default 30) and then drop it",
    "malformed_json": "answer 200 with a body that is not JSON",
    "truncated_json": "answer 200 with the real body cut in half (valid HTTP, invalid JSON)",
    "rate_limit": "answer 429 with the vendor's rate-limit signals, Retry-After `delay` seconds "
    "(default 5) where the vendor sends one (a 429 storm)",
    "drop_connection": "send the status line and headers, then close the connection",
    "expire_credentials": "revoke every token/session now (applied at once, not per request)",
}


#: ``delay`` when a fault does not give one (2 s for the other kinds). ``rate_limit``'s is the
#: Retry-After it asks for: tests shorten it to keep 429 storms from costing real seconds.
DEFAULT_DELAYS = {"timeout": 30.0, "rate_limit": 5.0}


class FaultError(ValueError):
    """A control-API request named a fault wrongly; the message says which field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Fault:
    id: int
    kind: str
    remaining: int | None  # requests left, or None for a time span
    until: float | None  # monotonic deadline, or None for a count
    path: str  # only requests whose path starts with this are affected
    delay: float
    applied: int = 0
    created: float = field(default_factory=time.monotonic)

    def active(self, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        return self.remaining is None or self.remaining > 0

    def public(self) -> dict:
        data = asdict(self)
        data.pop("created")
        now = time.monotonic()
        data["until"] = None if self.until is None else round(max(0.0, self.until - now), 3)
        data["seconds_left"] = data.pop("until")
        return data


class FaultInjector:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, spec: dict) -> Fault:
        kind = spec.get("kind")
        if kind not in KINDS:
            raise FaultError("kind", f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
        count, seconds = spec.get("count"), spec.get("seconds")
        if count is not None and (
            not isinstance(count, int) or isinstance(count, bool) or count < 1
        ):
            raise FaultError("count", "count must be a positive integer")
        if seconds is not None and (
            not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0
        ):
            raise FaultError("seconds", "seconds must be a positive number")
        if count is None and seconds is None:
            count = 1
        default_delay = DEFAULT_DELAYS.get(kind, 2.0)
        delay = spec.get("delay", default_delay)
        if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 600:
            raise FaultError("delay", "delay must be a number of seconds between 0 and 600")
        path = spec.get("path", "/")
        if not isinstance(path, str) or not path.startswith("/"):
            raise FaultError("path", "path must be a string starting with '/'")
        unknown = set(spec) - {"kind", "count", "seconds", "delay", "path"}
        if unknown:
            raise FaultError(sorted(unknown)[0], "unknown field")
        with self._lock:
            fault = Fault(
                id=self._next_id,
                kind=kind,
                remaining=count,
                until=None if seconds is None else time.monotonic() + seconds,
                path=path,
                delay=float(delay),
            )
            self._next_id += 1
            if kind != "expire_credentials":
                self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The fault this request suffers, if any (consumes one from a counted fault)."""
        now = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if f.active(now)]
            for fault in self._faults:
                if path.startswith(fault.path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.applied += 1
                    return fault
        return None

    def list(self) -> list[dict]:
        now = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if f.active(now)]
            return [f.public() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
