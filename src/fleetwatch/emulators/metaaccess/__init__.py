"""OPSWAT MetaAccess emulator (docs/emulators/metaaccess.md).

``model`` holds the account state and scenario, ``auth`` the OAuth tokens, ``render`` the JSON
shapes, ``emulator`` the Starlette routes, and ``bench`` the benchmark hook.
"""

from fleetwatch.emulators.metaaccess.bench import BENCH, bench_probes
from fleetwatch.emulators.metaaccess.emulator import MetaAccessEmulator

__all__ = ["BENCH", "MetaAccessEmulator", "bench_probes"]
