"""Plain SQL on the hot paths: a read cursor without Django's per-value timestamp wrapper.

On PostgreSQL Django loads every ``timestamptz`` through a Python loader that calls psycopg's
(C) loader and then ``replace(tzinfo=<connection time zone>)``: 400 calls for a page of 100
incidents with two tags each. When the session time zone is UTC (``USE_TZ`` and no database
``TIME_ZONE``: Django's default, and Fleetwatch's) psycopg's loader already returns the same
instants at offset 0, so a read cursor uses it directly. Rendered values are unchanged.
"""

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from fleetwatch.fastsql import postgresql


def read_cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """``connection.cursor()``; on PostgreSQL in UTC, timestamps by psycopg's own loader."""
    cursor = connection.cursor()
    if (
        postgresql(connection)
        and settings.USE_TZ
        and connection.settings_dict.get("TIME_ZONE") is None
    ):
        from django.db.backends.postgresql.psycopg_any import orig_tz_loader_cls

        cursor.cursor.adapters.register_loader("timestamptz", orig_tz_loader_cls)
    return cursor
