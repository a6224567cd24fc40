"""Encryption at rest for vendor credentials and cached tokens (Fernet, key from the env).

``FLEETWATCH_ENCRYPTION_KEY`` holds one or more comma-separated Fernet keys; the first
encrypts, all decrypt (so keys can be rotated). Unset, a key is generated once and kept in
``$FLEETWATCH_DATA_DIR/encryption_key`` (mode 0600) — fine for one machine, but set the
variable when several machines share the database.
"""

import json
import os
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretError(ValueError):
    """Stored secrets could not be decrypted (wrong or rotated-away key)."""


def _keys() -> list[bytes]:
    configured = os.environ.get("FLEETWATCH_ENCRYPTION_KEY", "")
    if configured:
        return [k.strip().encode() for k in configured.split(",") if k.strip()]
    path = settings.DATA_DIR / "encryption_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
    return [path.read_bytes().strip()]


@cache
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except ValueError as exc:
        raise SecretError(f"FLEETWATCH_ENCRYPTION_KEY is not a valid Fernet key: {exc}") from None


def encrypt(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretError(
            "stored secrets cannot be decrypted with FLEETWATCH_ENCRYPTION_KEY"
        ) from None
