"""Existing data brought in line with the inventory's second cut:

- the hub's device tag on incidents was ``hub_device=<id>``; it is ``device=<id>`` now (the
  issue's name, what Argus clients filter on). Each relation moves to the ``device=<id>`` tag
  (an incident that already carries it keeps one), then the ``hub_device`` tags go. Vendors'
  ``device=<their name>`` tags stay as they are: a second value of the same key.
- every device's open-incident counters are counted once (new columns, default 0).
- PostgreSQL: a trigram index on devices' names for ``search=`` (as incidents' descriptions).
"""

from django.db import migrations
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Now

OLD, NEW = "hub_device", "device"
INDEX = "inventory_device_name_trgm"


def rename_tags(apps, schema_editor) -> None:
    Tag = apps.get_model("incidents", "Tag")
    Relation = apps.get_model("incidents", "IncidentTagRelation")
    for old in Tag.objects.filter(key=OLD).iterator():
        new, _ = Tag.objects.get_or_create(key=NEW, value=old.value)
        already = Relation.objects.filter(tag=new).values("incident_id")
        Relation.objects.filter(tag=old, incident_id__in=already).delete()
        Relation.objects.filter(tag=old).update(tag=new)
        old.delete()


def count_open(apps, schema_editor) -> None:
    Device = apps.get_model("inventory", "Device")
    Link = apps.get_model("inventory", "IncidentDevice")
    links = Link.objects.filter(device=OuterRef("pk"), incident__end_time__gt=Now()).order_by()

    def count(what):
        sub = links.values("device").annotate(n=what).values("n")[:1]
        return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))

    ids = sorted(set(Link.objects.values_list("device_id", flat=True)))
    for start in range(0, len(ids), 1000):
        Device.objects.filter(pk__in=ids[start : start + 1000]).update(
            open_incident_count=count(Count("pk")),
            trouble_vendor_count=count(Count("incident__source", distinct=True)),
        )


def trigram(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "inventory_device" '
        f'USING gin ((UPPER("name"::text)) gin_trgm_ops)'
    )


def drop_trigram(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_sourcesystem_heartbeat_frequency"),
        ("inventory", "0002_device_trouble_counters_pending_keys"),
    ]

    operations = [
        migrations.RunPython(rename_tags, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(count_open, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(trigram, drop_trigram, elidable=False),
    ]
