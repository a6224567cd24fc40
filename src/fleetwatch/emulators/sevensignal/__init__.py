"""7SIGNAL Mobile Eye emulator (docs/emulators/7signal.md).

Laid out like every vendor emulator: ``model`` holds the catalog and the incident scenario,
``auth`` the OAuth2 tokens, ``render`` the JSON shapes, ``emulator`` the Starlette routes and
control API, and ``bench`` the benchmark hook; ``params`` parses query parameters the way the
vendor's Spring gateway does.
"""

from fleetwatch.emulators.sevensignal.bench import BENCH, bench_probes
from fleetwatch.emulators.sevensignal.emulator import SevenSignalEmulator
from fleetwatch.emulators.sevensignal.model import INCIDENT_TYPES

__all__ = ["BENCH", "INCIDENT_TYPES", "SevenSignalEmulator", "bench_probes"]
