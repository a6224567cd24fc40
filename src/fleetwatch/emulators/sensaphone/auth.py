"""Sensaphone.net's login: the demo account's users and the sessions a login hands out.

A session is the pair (``acctid``, ``session``) every later call carries; it lives
``SESSION_SECONDS`` of simulated time. Free of HTTP (``bench`` imports the demo login from
here without Starlette).
"""

import hashlib
from dataclasses import dataclass

from fleetwatch.emulators.sensaphone.model import User

SESSION_SECONDS = 86_400
MAX_SESSIONS = 10_000
DEMO_USER = "demo@fleetwatch.local"
DEMO_PASSWORD = "demo-password"
USERS = [
    ("Demo User", DEMO_USER),
    ("Alice Facilities", "alice@fleetwatch.local"),
    ("Bob Night Shift", "bob@fleetwatch.local"),
    ("Carol Plant Manager", "carol@fleetwatch.local"),
]


@dataclass(slots=True)
class Session:
    token: str
    acctid: int
    user: User
    login_timestamp: int
    expires_at: int


def login_ok(user_name: str, password: str) -> bool:
    """The one demo login; the user name is matched case-insensitively, as e-mail is."""
    return demo_user(user_name) and password == DEMO_PASSWORD


def demo_user(user_name: str) -> bool:
    return user_name.strip().casefold() == DEMO_USER


class SessionStore:
    """Sessions by token, oldest forgotten first beyond ``MAX_SESSIONS``; tokens are derived
    from the seed and a login counter, so a replayed test sees the same tokens."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._sessions: dict[str, Session] = {}
        self._logins = 0

    def create(self, acctid: int, user: User, now: int) -> Session:
        self._logins += 1
        token = hashlib.sha256(f"sensaphone-session:{self.seed}:{self._logins}".encode())
        session = Session(token.hexdigest()[:35], acctid, user, now, now + SESSION_SECONDS)
        if len(self._sessions) >= MAX_SESSIONS:  # forget the oldest (dicts keep order)
            del self._sessions[next(iter(self._sessions))]
        self._sessions[session.token] = session
        return session

    def get(self, token: str) -> Session | None:
        return self._sessions.get(token)

    def drop(self, session: Session) -> None:
        self._sessions.pop(session.token, None)

    def revoke_all(self) -> None:
        self._sessions.clear()
