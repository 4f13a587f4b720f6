# Indexes for browser-reported and verified orders (docs/trust.md#browser-reported-and-verified-orders).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0011_source_removal'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('action', 'purchase'), ('order_id__isnull', False), models.Q(('namespace', 'browser'), _negated=True)), fields=['order_id', 'timestamp'], include=('is_bot',), name='event_verified_order_idx'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('action', 'purchase'), ('namespace', 'browser')), fields=['timestamp'], include=('order_id', 'is_bot', 'customer_id', 'session_id'), name='event_browser_purchase_idx'),
        ),
    ]
