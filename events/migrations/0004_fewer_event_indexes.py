"""Fewer indexes on the event table: each is paid on every ingested event.

Single-column FK indexes are covered by the composite indexes that lead with the same column;
(action, timestamp) and received_at had no reader. On PostgreSQL, Django also made a
varchar_pattern_ops index on event_id for LIKE queries, which nothing runs (lookups by event_id
use the unique index): it is dropped here.
"""

import django.db.models.deletion
from django.db import migrations, models


def drop_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS events_event_event_id_dde76dea_like")


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0001_initial'),
        ('events', '0003_simulator_state'),
        ('products', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='event',
            name='event_action_ts_idx',
        ),
        migrations.RemoveIndex(
            model_name='event',
            name='event_received_idx',
        ),
        migrations.AlterField(
            model_name='event',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='customers.customer'),
        ),
        migrations.AlterField(
            model_name='event',
            name='product',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='products.product'),
        ),
        migrations.AlterField(
            model_name='simulatorstate',
            name='customers',
            field=models.PositiveIntegerField(default=2000, help_text="Shoppers simulated (store ids 1..N; missing ones are seeded). Live mode raises it to 1000 × rate so each shopper's sessions can stay 30 minutes apart."),
        ),
        migrations.RunPython(drop_like_index, migrations.RunPython.noop),
    ]
