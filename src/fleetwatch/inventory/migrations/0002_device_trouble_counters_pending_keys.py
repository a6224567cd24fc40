import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_sourcesystem_heartbeat_frequency"),
        ("inventory", "0001_inventory_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="device",
            name="open_incident_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="device",
            name="trouble_vendor_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="device",
            name="open_ends_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="device",
            index=models.Index(
                condition=models.Q(("open_incident_count__gt", 0)),
                fields=["created", "id"],
                name="inventory_device_open_page",
            ),
        ),
        migrations.AddIndex(
            model_name="device",
            index=models.Index(
                condition=models.Q(("open_incident_count__gt", 0)),
                fields=["-trouble_vendor_count", "-open_incident_count", "-id"],
                name="inventory_device_trouble",
            ),
        ),
        migrations.CreateModel(
            name="PendingIncidentKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("kind", models.CharField(max_length=10)),
                ("value", models.CharField(max_length=255)),
                (
                    "incident",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="incidents.incident",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["kind", "value"], name="inventory_pending_lookup")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("incident", "kind", "value"), name="inventory_pending_once"
                    )
                ],
            },
        ),
    ]
