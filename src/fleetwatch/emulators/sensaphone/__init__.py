"""Sensaphone.net emulator (``fleetwatch emulate sensaphone``); see docs/emulators/sensaphone.md.

Laid out like every vendor emulator: ``model`` holds the simulated account (readings, alarms,
power, connectivity, logs), ``auth`` the login and sessions, ``render`` the device and zone
shapes, ``emulator`` the Starlette routes and control API, and ``bench`` the benchmark hook;
``history`` holds the History API's filters and queries.
"""

from fleetwatch.emulators.sensaphone.bench import BENCH, bench_paths
from fleetwatch.emulators.sensaphone.emulator import (
    CODE_INVALID,
    CODE_LOGIN,
    CODE_NOT_FOUND,
    CODE_OK,
    CODE_SESSION,
    SensaphoneEmulator,
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
