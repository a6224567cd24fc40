"""The hook bench/emulators.py uses to load-test this emulator: how to log in, where to find
the session in the answer, and two paths to hit (no Starlette import)."""

from fleetwatch.emulators.sensaphone.auth import DEMO_PASSWORD, DEMO_USER

# For bench/emulators.py: how to log in, where to find the session, and two paths to hit.
# ``cheap`` does no work beyond the session check; ``poll`` is what a connector polls.
BENCH = {
    "login": {
        "method": "POST",
        "path": "/api/v1/login",
        "json": {
            "request_type": "create",
            "resource": "login",
            "user_name": DEMO_USER,
            "password": DEMO_PASSWORD,
        },
    },
    "session_fields": ("acctid", "session"),  # in the login answer's ``response``
    "cheap": "/api/v1/{acctid}/{session}/login/session_expiration",
    "poll": "/api/v1/{acctid}/{session}/history/event_log/begin_offset/0/record_offset/50",
}


def bench_paths(login_answer: dict) -> dict[str, str]:
    """The BENCH paths filled in from a login answer's JSON: ``{"cheap": ..., "poll": ...}``."""
    fields = {name: login_answer["response"][name] for name in BENCH["session_fields"]}
    return {name: BENCH[name].format(**fields) for name in ("cheap", "poll")}
