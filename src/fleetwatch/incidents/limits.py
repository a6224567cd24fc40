"""How much one incident, tag or source may carry: documented limits, enforced as 400s.

Without them a value the database cannot store surfaced as a 503 (which clients retry): a
PostgreSQL B-tree index entry holds at most 2,704 bytes, so a 3,000-character tag value or a
9,000-character ``source_incident_id`` or source name could not be indexed, and 40,000 tags on
one incident exceeded the 65,535 bind parameters of one statement (an incident with 10,000
tags also took 7 s to store and made every list page 7.7 MB). Lengths are in characters and
sized so that the worst case (4 UTF-8 bytes a character) still fits its index.

Every path that takes these values checks them: the API (create, PATCH/PUT, tags, upsert,
bulk, sources, source types), the connectors (through the same ingest parser) and the CLI
(``create_source``). Plain Python: no DRF, so services and workers can use it.
"""

#: Tags on one incident (create, PATCH/PUT, upsert and bulk items, ``tags/`` POST).
TAGS_PER_INCIDENT_MAX = 100
#: A tag key (``^[a-z0-9_]+$``) and a tag value, in characters; (key, value) is indexed.
TAG_KEY_MAX_LENGTH = 100
TAG_VALUE_MAX_LENGTH = 500
#: An incident's ``source_incident_id``, unique per source (indexed).
SOURCE_INCIDENT_ID_MAX_LENGTH = 500
#: A source system's name and a source type's name (indexed together / the primary key).
SOURCE_NAME_MAX_LENGTH = 200
SOURCE_TYPE_NAME_MAX_LENGTH = 100
#: A source's user name (the ``username`` column is 150 characters).
USERNAME_MAX_LENGTH = 150


def length_message(limit: int) -> str:
    """DRF's own wording for a too-long string, so every path reads the same."""
    return f"Ensure this field has no more than {limit} characters."


def too_long(value: str, limit: int) -> str | None:
    """The error for ``value`` if it is longer than ``limit`` characters, else None."""
    return length_message(limit) if len(value) > limit else None


def tag_problem(key: str, value: str) -> str | None:
    """Why the tag ``key=value`` cannot be stored, or None."""
    if len(key) > TAG_KEY_MAX_LENGTH:
        return f"The tag key may have at most {TAG_KEY_MAX_LENGTH} characters."
    if len(value) > TAG_VALUE_MAX_LENGTH:
        return f"The tag value may have at most {TAG_VALUE_MAX_LENGTH} characters."
    return None


def tag_count_problem(count: int) -> str | None:
    """Why an incident cannot have ``count`` tags, or None."""
    if count > TAGS_PER_INCIDENT_MAX:
        return f"An incident may have at most {TAGS_PER_INCIDENT_MAX} tags."
    return None
