"""Fill the tag relations' ``start_time`` from their incidents, in batches of ids.

Not atomic: each batch is its own statement and commits, so a hub with millions of relations
is never one long transaction holding every updated row (and its WAL) at once, and a run that
is stopped resumes where it was (only rows still NULL are written; the migration is recorded
when every batch is done). ``0008`` fills whatever a writer still running the old code added
meanwhile, inside its own transaction, before making the column NOT NULL.

Measured on PostgreSQL (2-core machine, load 2-4): 2,000,000 relations of 1,000,000 incidents
in 30-43 s, 40 statements. Every relation is rewritten once, so the table and its indexes
take about twice their room until VACUUM lets it be reused (autovacuum does, or run
``VACUUM ANALYZE incidents_incidenttagrelation`` after the migration).
"""

from django.db import migrations
from django.db.models import Max, OuterRef, Subquery

#: Relations per UPDATE (one transaction each): ~1.3 s apiece on PostgreSQL.
BATCH = 50_000


def incident_start(apps):
    Incident = apps.get_model("incidents", "Incident")
    return Subquery(Incident.objects.filter(pk=OuterRef("incident_id")).values("start_time")[:1])


def fill(apps, schema_editor) -> None:
    Relation = apps.get_model("incidents", "IncidentTagRelation")
    highest = Relation.objects.aggregate(highest=Max("pk"))["highest"] or 0
    for low in range(0, highest + 1, BATCH):
        Relation.objects.filter(pk__gte=low, pk__lt=low + BATCH, start_time__isnull=True).update(
            start_time=incident_start(apps)
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("incidents", "0006_tag_relation_start_time"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
