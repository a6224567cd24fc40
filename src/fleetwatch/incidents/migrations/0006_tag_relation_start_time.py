"""The incident's ``start_time`` on its tag relations (nullable until 0007 fills it, 0008
makes it NOT NULL): adding a nullable column without a default rewrites no table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_incident_level_sort_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="incidenttagrelation",
            name="start_time",
            field=models.DateTimeField(
                editable=False,
                help_text="The incident's start_time (the tag's page order).",
                null=True,
            ),
        ),
    ]
