"""The hook bench/emulators.py uses to load-test this emulator without knowing OAuth details."""

from typing import TYPE_CHECKING

from fleetwatch.emulators.metaaccess.auth import CLIENT_ID, CLIENT_SECRET

if TYPE_CHECKING:
    import httpx

TOKEN_PATH = "/o/oauth/token"  # also in emulator.py; kept here to avoid importing Starlette


def bench_auth(client: "httpx.Client", base_url: str) -> dict:
    """Fetch a token with the demo credentials (the token endpoint is not rate-limited) and
    return the httpx request kwargs every benchmarked call needs. Tokens live one simulated
    hour: on a 401, call this again."""
    response = client.post(
        base_url.rstrip("/") + TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    response.raise_for_status()
    return {"params": {"access_token": response.json()["access_token"]}}


#: What a benchmark sends: ``kwargs = BENCH["auth"](client, url)``, run each ``setup`` request
#: against the control API once, then repeat
#: ``client.request(BENCH["method"], url + BENCH["path"], json=BENCH["json"], **kwargs)``.
#: The setup switches off the strict 10 requests/minute limit, which would otherwise turn
#: almost every benchmarked call into a 429.
BENCH: dict = {
    "vendor": "metaaccess",
    "method": "POST",
    "path": "/o/api/v3/devices/status_changed",
    "json": {"age": 86400, "verbose": 1, "page": 1, "limit": 50},
    "auth": bench_auth,
    "setup": [("PUT", "/_emulator/ratelimit", {"enabled": False})],
    "expect_status": 200,
}
