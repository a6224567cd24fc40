"""What every vendor emulator declares; the shared app (``app.py``) does the rest."""

import json
import random
import threading
from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import Fleet


def loads_json(raw: bytes | str) -> object:
    """``json.loads``, except that a document nested too deeply for the parser (``[[[[…``)
    is a ValueError like any other invalid JSON; ``json`` raises RecursionError for it."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("the JSON document is nested too deeply") from None


class ControlError(ValueError):
    """A control-API scenario action was wrong; ``field`` names the offending field."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


class VendorEmulator(ABC):
    """One vendor API over a shared fleet and clock.

    The scenario advances in fixed ticks of simulated time. ``on_tick`` gets an RNG seeded by
    (seed, vendor, tick number), so what happens at a given simulated time depends only on the
    seed and on control-API interventions, never on when requests arrive. ``on_tick`` must cost
    O(changes), not O(fleet): a clock jump of a day replays every tick.
    """

    name: str = ""
    tick_seconds: float = 60.0

    def __init__(self, fleet: Fleet, clock: SimClock, seed: int) -> None:
        self.fleet = fleet
        self.clock = clock
        self.seed = seed
        self.lock = threading.RLock()
        self._ticks_done = 0

    # --- the simulated timeline -------------------------------------------------------------
    def sync(self) -> datetime:
        """Run every tick up to the clock's now; returns now."""
        now = self.clock.now()
        due = int(self.clock.elapsed() // self.tick_seconds)
        with self.lock:
            while self._ticks_done < due:
                self._ticks_done += 1
                at = self.clock.epoch + timedelta(seconds=self._ticks_done * self.tick_seconds)
                self.on_tick(at, random.Random(f"{self.seed}:{self.name}:{self._ticks_done}"))
        return now

    def on_tick(self, at: datetime, rng: random.Random) -> None:  # noqa: B027
        """Let the fleet change at simulated time ``at`` (default: nothing happens)."""

    # --- what each vendor declares ----------------------------------------------------------
    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The vendor API's own routes."""

    @abstractmethod
    def error_response(self, request: Request, status: int, message: str) -> Response:
        """An error in this vendor's own shape (used for injected 5xx and unknown paths)."""

    @abstractmethod
    def rate_limited_response(self, request: Request, retry_after: float) -> Response:
        """The vendor's answer when the client is over its rate limit."""

    @abstractmethod
    def ground_truth(self) -> dict:
        """What is open right now, with vendor ids, for tests to compare a connector against."""

    @abstractmethod
    def apply(self, action: str, params: dict) -> dict:
        """Run a scenario action from the control API; raise ControlError on bad input."""

    @abstractmethod
    def revoke_credentials(self) -> None:
        """Expire every token or session issued so far."""

    @abstractmethod
    def credentials(self) -> dict:
        """The demo credentials a client uses against this emulator."""

    @abstractmethod
    def rate_limit_config(self) -> dict:
        """The current rate-limit settings."""

    @abstractmethod
    def configure_rate_limit(self, settings: dict) -> dict:
        """Change the rate limits (ControlError on bad input); returns the new settings."""

    def actions(self) -> dict[str, str]:
        """Scenario action names and what they take, for the control API's index."""
        return {}

    def fleet_records(self) -> list[dict]:
        """Every record this vendor serves, each naming its physical device:
        ``{"id", "name", "macs", "device"}`` (``GET /_emulator/fleet``)."""
        return []

    def physical_devices(self) -> dict[str, dict]:
        """The physical devices behind the records: ``{device: {"hostname", "macs"}}``."""
        return self.fleet.physical_devices()
