"""The hook bench/emulators.py uses to load-test this emulator without knowing OAuth details.

Wiring, in bench/emulators.py::

    from fleetwatch.emulators.metaaccess.bench import BENCH

    def prepare_metaaccess(client, credentials):
        return [Probe(**spec) for spec in BENCH["prepare"](client, credentials)]

    "metaaccess": VendorBench(prepare_metaaccess, ratelimit_off=BENCH["ratelimit_off"]),
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

TOKEN_PATH = "/o/oauth/token"  # also in emulator.py; repeated here to avoid importing Starlette


def bench_probes(client: "httpx.Client", credentials: dict) -> list[dict]:
    """Fetch one token (``client.base_url`` is the emulator; the token endpoint is not
    rate-limited) and return the requests to time as ``{label, method, path, kwargs}`` dicts.
    A token lives one simulated hour, far longer than a benchmark at speed 1."""
    response = client.post(TOKEN_PATH, data={"grant_type": "client_credentials", **credentials})
    response.raise_for_status()
    params = {"access_token": response.json()["access_token"]}
    return [
        {
            "label": "POST v3 status_changed verbose=1",
            "method": "POST",
            "path": "/o/api/v3/devices/status_changed",
            "kwargs": {"params": params, "json": {"age": 86400, "verbose": 1, "limit": 50}},
        },
        {
            "label": "POST v3 activities (24 h)",
            "method": "POST",
            "path": "/o/api/v3/activities",
            "kwargs": {"params": params, "json": {"limit": 50}},
        },
        {
            "label": "POST v3.6 devices limit=50",
            "method": "POST",
            "path": "/o/api/v3.6/devices",
            "kwargs": {"params": params, "json": {"limit": 50}},
        },
    ]


#: ``prepare(client, credentials)`` -> probe dicts; ``ratelimit_off`` is the
#: ``PUT /_emulator/ratelimit`` body that lifts the strict 10 requests/minute limit.
BENCH: dict = {"prepare": bench_probes, "ratelimit_off": {"enabled": False}}
