"""PendingWindow.attempts, last_error and retry_at: a window whose derivation failed is set aside with
its error and tried again later (with backoff) while the others are derived. Cart.items becomes a big
integer: it sums line quantities, each of which may be up to 2^31 - 1."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('insights', '0013_history_moves'),
    ]

    operations = [
        migrations.AddField(
            model_name='pendingwindow',
            name='attempts',
            field=models.PositiveIntegerField(db_default=0, default=0, help_text='Failed derivations of this window (0: not failed: queued).'),
        ),
        migrations.AddField(
            model_name='pendingwindow',
            name='last_error',
            field=models.TextField(blank=True, db_default='', default='', help_text='Why the last attempt failed.'),
        ),
        migrations.AddField(
            model_name='pendingwindow',
            name='retry_at',
            field=models.DateTimeField(blank=True, help_text='Not tried again before this time.', null=True),
        ),
        migrations.AlterField(
            model_name='cart',
            name='items',
            field=models.PositiveBigIntegerField(default=0),
        ),
    ]
