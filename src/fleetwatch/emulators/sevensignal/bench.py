"""The hook bench/emulators.py uses to load-test this emulator without knowing OAuth details.

``BENCH["prepare"](client, credentials)`` returns the requests to time as
``{label, method, path, kwargs}`` dicts; ``BENCH["ratelimit_off"]`` is the
``PUT /_emulator/ratelimit`` body that lifts the token bucket.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

TOKEN_PATH = "/oauth2/token"  # also in emulator.py; repeated here to avoid importing Starlette


def bench_probes(client: "httpx.Client", credentials: dict) -> list[dict]:
    """OAuth2 client_credentials once (a token lives a simulated day), then a bearer token on
    small list requests."""
    response = client.post(TOKEN_PATH, data={"grant_type": "client_credentials", **credentials})
    response.raise_for_status()
    auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return [
        {
            "label": "GET /eyes/agents?perPage=10",
            "method": "GET",
            "path": "/eyes/agents",
            "kwargs": {"headers": auth, "params": {"perPage": 10}},
        },
        {
            "label": "GET /incidents/agents (24 h)",
            "method": "GET",
            "path": "/incidents/agents",
            "kwargs": {"headers": auth},
        },
    ]


BENCH: dict = {"prepare": bench_probes, "ratelimit_off": {"enabled": False}}
