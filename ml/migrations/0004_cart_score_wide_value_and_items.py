"""CartScore.value and items as wide as the cart's own (insights.Cart): a cart of many lines at the
per-event money bound, or of large quantities, no longer overflows the scores table."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ml', '0003_retrain_request'),
    ]

    operations = [
        migrations.AlterField(
            model_name='cartscore',
            name='items',
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='cartscore',
            name='value',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=18),
        ),
    ]
