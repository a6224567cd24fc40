"""Sensaphone.net emulator (``fleetwatch emulate sensaphone``); see docs/emulators/sensaphone.md.

``emulator`` is the HTTP layer, ``timeline`` the simulated account (readings, alarms, power,
connectivity, logs) and ``history`` the History API's filters and queries. ``BENCH`` tells
the benchmark how to log in and which paths to hit.
"""

from fleetwatch.emulators.sensaphone.emulator import (
    BENCH,
    CODE_INVALID,
    CODE_LOGIN,
    CODE_NOT_FOUND,
    CODE_OK,
    CODE_SESSION,
    SensaphoneEmulator,
    bench_paths,
)

__all__ = [
    "BENCH",
    "CODE_INVALID",
    "CODE_LOGIN",
    "CODE_NOT_FOUND",
    "CODE_OK",
    "CODE_SESSION",
    "SensaphoneEmulator",
    "bench_paths",
]
