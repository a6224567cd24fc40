"""CPU cost of matching one event against many notification profiles, in memory.

    python bench/notification_matching.py [PROFILES]

Builds PROFILES (default 1000) profile snapshots, each with two filters (one with ``any`` and
``not``) and a weekday plus a past-midnight weekend recurrence, in three time zones, then
times ``match_event`` for an event no profile wants and for one every profile wants. No
database: loading the snapshots is a constant 4 + 2 queries (tests/notifications/
test_matching.py), and matching costs none.
"""

import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from datetime import time as clock
from zoneinfo import ZoneInfo

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
os.environ.setdefault("FLEETWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fw-data-"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="fw-metrics-"))

import django

django.setup()

from fleetwatch.incidents.filterblob import IncidentFacts, parse_filter  # noqa: E402
from fleetwatch.notifications.matching import ProfileSpec, match_event  # noqa: E402
from fleetwatch.notifications.schedule import Recurrence  # noqa: E402


def profiles(n: int) -> list[ProfileSpec]:
    rng = random.Random(1)
    zones = [ZoneInfo(name) for name in ("Europe/Oslo", "UTC", "America/New_York")]
    weekdays = Recurrence(frozenset({1, 2, 3, 4, 5}), clock(0), clock(0))
    weekend_nights = Recurrence(frozenset({6, 7}), clock(22), clock(6))
    specs = []
    for pk in range(1, n + 1):
        own = parse_filter(
            {
                "sourceSystemIds": [rng.randint(1, 20)],
                "tags": [f"host=h{rng.randint(1, 50)}"],
                "maxlevel": 3,
            }
        )
        shared = parse_filter(
            {"any": [{"tags": ["site=x"]}, {"source_types": ["nav"]}], "not": {"acked": True}}
        )
        specs.append(
            ProfileSpec(pk, pk, rng.choice(zones), (weekdays, weekend_nights), (own, shared), (pk,))
        )
    return specs


def main(n: int) -> None:
    snapshot = profiles(n)
    when = datetime(2026, 11, 30, 10, tzinfo=UTC)
    for label, source_type in (("no profile matches", "zino"), ("every profile matches", "nav")):
        facts = IncidentFacts(1, 30, source_type, frozenset({("host", "h7")}), True, False, True, 2)
        rounds = 50
        started = time.perf_counter()
        for _ in range(rounds):
            matches = match_event("STA", when, facts, snapshot, [])
        per_event = (time.perf_counter() - started) / rounds * 1000
        print(f"{n} profiles, {label} ({len(matches)} matches): {per_event:.2f} ms per event")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
