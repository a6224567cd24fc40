"""A simulated clock: real time scaled by ``speed`` plus manual jumps."""

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated "now" = ``epoch`` + elapsed real seconds × ``speed`` + manual offset.

    Emulators read the clock on every request; the scenario is a pure function of the seed
    and the simulated time, so the same seed replays the same timeline at any speed.
    """

    def __init__(self, epoch: datetime | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if epoch is None:
            epoch = datetime.now(UTC).replace(second=0, microsecond=0)
        if epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        self.epoch = epoch.astimezone(UTC)
        self.speed = speed
        self._started = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        """Simulated seconds since the epoch."""
        with self._lock:
            return (time.monotonic() - self._started) * self.speed + self._offset

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.elapsed())

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def as_dict(self) -> dict:
        return {
            "epoch": self.epoch.isoformat(),
            "now": self.now().isoformat(),
            "elapsed_seconds": round(self.elapsed(), 3),
            "speed": self.speed,
        }
