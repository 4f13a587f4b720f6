from django.db import migrations, models


class Migration(migrations.Migration):
    """One pending row per ingest batch (JSON windows) instead of one per customer: cheaper inside the
    ingest transaction. Pending work is transient, so the table is recreated."""

    dependencies = [
        ("insights", "0002_beat_schedule"),
    ]

    operations = [
        migrations.DeleteModel(name="PendingWindow"),
        migrations.CreateModel(
            name="PendingWindow",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("windows", models.JSONField(
                    help_text='{"<customer pk>": [<first epoch second>, <last epoch second + 1>]}')),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["id"]},
        ),
    ]
