"""Turning incident payloads into stored incidents.

- ``drafts``: parsing and validating a payload into an ``IncidentDraft`` (no database);
- ``rules``: what a draft does to a new or existing incident (create, upsert, batches);
- ``writers``: storing the result (the ORM, or the fast SQL of ``fleetwatch.fastsql``).

The names below are the package's public interface; import them from here.
"""

from fleetwatch.incidents.ingest.drafts import (
    DATETIME_MESSAGE,
    READ_ONLY_FIELDS,
    IncidentConflict,
    IncidentDraft,
    InvalidIncident,
    parse_datetime_value,
    parse_incident,
    parse_level,
    parse_tags,
)
from fleetwatch.incidents.ingest.rules import (
    UPDATABLE,
    TooManyTags,
    UpsertResult,
    create_incident,
    upsert_allowed,
    upsert_incidents,
)
from fleetwatch.incidents.ingest.writers import add_tags

__all__ = [
    "DATETIME_MESSAGE",
    "READ_ONLY_FIELDS",
    "UPDATABLE",
    "IncidentConflict",
    "IncidentDraft",
    "InvalidIncident",
    "TooManyTags",
    "UpsertResult",
    "add_tags",
    "create_incident",
    "parse_datetime_value",
    "parse_incident",
    "parse_level",
    "parse_tags",
    "upsert_allowed",
    "upsert_incidents",
]
