"""Trigram indexes for ``search=`` (PostgreSQL only; SQLite searches by scanning, correctly).

``search`` is ``UPPER(description) LIKE UPPER('%word%')`` on incidents and events (Django's
``icontains``); a GIN ``gin_trgm_ops`` index on that expression answers it without reading the
table. pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
"""

from django.db import migrations

INDEXES = {
    "incident_description_trgm": "incidents_incident",
    "event_description_trgm": "incidents_event",
}


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin ((UPPER("description"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
