"""PendingWindow.events: how many events each queued batch holds, so pages and the API can say how many
are still being derived (freshness). Rows queued before this migration count 0."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("insights", "0005_top_customers_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="pendingwindow",
            name="events",
            field=models.PositiveIntegerField(default=0, help_text="Events of the batch waiting to be derived."),
        ),
    ]
