"""The speed tricks that bypass the ORM, in one place (README.md: each trick, the benchmark
that justifies it and the test that keeps it honest).

``FLEETWATCH_FAST_SQL=false`` (``settings.FAST_SQL``) turns every one of them off: each call
site then takes the plain ORM path, the same one SQLite takes for the PostgreSQL-only tricks.
CI runs the PostgreSQL suite both ways (``make test-postgres-orm``), so a Django upgrade that
breaks a trick fails loudly and has a known-good fallback.

The two predicates below are the only ``connection.vendor`` checks of the tricks.
"""

from django.conf import settings
from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper


def enabled() -> bool:
    """The portable tricks (plain SQL that runs on every database) are on."""
    return settings.FAST_SQL


def postgresql(connection: BaseDatabaseWrapper | None = None) -> bool:
    """The PostgreSQL tricks (COPY, sequences, CTEs, arrays, loaders) are on and apply."""
    return settings.FAST_SQL and (connection or default_connection).vendor == "postgresql"
