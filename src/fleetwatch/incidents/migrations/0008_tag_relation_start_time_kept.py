"""The tag relations' ``start_time`` made NOT NULL, indexed as the tag's page order, and kept
equal to the incident's by a trigger on both databases.

- Fill what 0007 left (relations added by writers of the old code while it ran), in this
  migration's transaction, so the NOT NULL that follows cannot fail on them.
- ``tag_page_order`` ``(tag_id, start_time DESC, incident_id DESC)``: a tag's incidents in the
  list's order, one index range (``incidents/tag_pages.py``).
- A trigger after an UPDATE of an incident's ``start_time`` sets its relations'. Every writer
  of relations gives the incident's ``start_time`` itself (measured: a trigger filling it on
  INSERT cost 3-4 µs a row, +30-40 % on a COPY of relations), but an incident's
  ``start_time`` has no writer in the code that could also write its relations: no API path
  changes it (PATCH refuses it, upsert never updates it); the admin's incident form and a
  plain ``UPDATE`` can, and the trigger keeps those right. It fires only when ``start_time``
  is in the UPDATE's SET list and changed (``bulk_update`` of other fields never runs it).

SQLite: Django alters a table there by re-making it (create, copy, drop, rename). Re-making
``incidents_incident`` drops this trigger with it, and re-making the relation table fails
("error in trigger … no such table") while the trigger names it: a later migration that
alters either table on SQLite must drop the trigger first and create it again after
(``drop_trigger``/``create_trigger`` below). ``tests/incidents/test_tag_pages.py`` checks
that the trigger works on the migrated database.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

TRIGGER = "incident_start_time_to_tag_relations"
UPDATE_RELATIONS = (
    'UPDATE "incidents_incidenttagrelation" SET "start_time" = NEW."start_time" '
    'WHERE "incident_id" = NEW."id"'
)
CREATE = {
    "postgresql": [
        f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {UPDATE_RELATIONS}; RETURN NULL; END $$",
        f'CREATE TRIGGER "{TRIGGER}" AFTER UPDATE OF "start_time" ON "incidents_incident" '
        f'FOR EACH ROW WHEN (OLD."start_time" IS DISTINCT FROM NEW."start_time") '
        f"EXECUTE FUNCTION {TRIGGER}()",
    ],
    "sqlite": [
        f'CREATE TRIGGER "{TRIGGER}" AFTER UPDATE OF "start_time" ON "incidents_incident" '
        f'FOR EACH ROW WHEN OLD."start_time" IS NOT NEW."start_time" '
        f"BEGIN {UPDATE_RELATIONS}; END",
    ],
}
DROP = {
    "postgresql": [
        f'DROP TRIGGER IF EXISTS "{TRIGGER}" ON "incidents_incident"',
        f"DROP FUNCTION IF EXISTS {TRIGGER}()",
    ],
    "sqlite": [f'DROP TRIGGER IF EXISTS "{TRIGGER}"'],
}


def fill_rest(apps, schema_editor) -> None:
    Incident = apps.get_model("incidents", "Incident")
    Relation = apps.get_model("incidents", "IncidentTagRelation")
    start = Subquery(Incident.objects.filter(pk=OuterRef("incident_id")).values("start_time")[:1])
    Relation.objects.filter(start_time__isnull=True).update(start_time=start)


def _run(statements, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise NotImplementedError(f"No start_time trigger for {vendor}")
    for sql in statements[vendor]:
        schema_editor.execute(sql, None)


def create_trigger(apps, schema_editor) -> None:
    _run(CREATE, schema_editor)


def drop_trigger(apps, schema_editor) -> None:
    _run(DROP, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0007_tag_relation_start_time_fill"),
    ]

    operations = [
        migrations.RunPython(fill_rest, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="incidenttagrelation",
            name="start_time",
            field=models.DateTimeField(
                editable=False, help_text="The incident's start_time (the tag's page order)."
            ),
        ),
        migrations.AddIndex(
            model_name="incidenttagrelation",
            index=models.Index(fields=["tag", "-start_time", "-incident"], name="tag_page_order"),
        ),
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
