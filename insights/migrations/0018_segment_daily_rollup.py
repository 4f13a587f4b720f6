"""The segment × day rollup (insights.segment_store, docs/metrics.md#rfm-segments), kept with the RFM
scores; filled here from the kept segments so segment-filtered panels read it at once."""

from django.db import migrations, models

COUNTERS = ("events", "revenue", "sessions", "purchasing_sessions", "orders", "funnel_view", "funnel_cart",
            "funnel_checkout", "funnel_purchase", "dropoff_cart", "dropoff_checkout", "carts_converted",
            "carts_abandoned", "carts_emptied", "revenue_left", "discounts", "refunds")

FILL = (f"INSERT INTO insights_segmentdaily (segment, day, age_group, {', '.join(COUNTERS)}) "
        f"SELECT r.segment, d.day, COALESCE(c.age_group, 'unknown'), {', '.join(f'SUM(d.{c})' for c in COUNTERS)} "
        "FROM insights_customerdaily d JOIN insights_customerrfm r ON r.customer_id = d.customer_id "
        "LEFT JOIN customers_customer c ON c.id = d.customer_id "
        "GROUP BY r.segment, d.day, COALESCE(c.age_group, 'unknown')")


class Migration(migrations.Migration):

    dependencies = [
        ('insights', '0017_kept_rfm_and_all_time_pairs'),
    ]

    operations = [
        migrations.CreateModel(
            name='SegmentDaily',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('segment', models.CharField(max_length=20)),
                ('day', models.DateField()),
                ('age_group', models.CharField(max_length=8)),
                ('events', models.BigIntegerField(default=0)),
                ('revenue', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ('sessions', models.BigIntegerField(default=0)),
                ('purchasing_sessions', models.BigIntegerField(default=0)),
                ('orders', models.BigIntegerField(default=0)),
                ('funnel_view', models.BigIntegerField(default=0)),
                ('funnel_cart', models.BigIntegerField(default=0)),
                ('funnel_checkout', models.BigIntegerField(default=0)),
                ('funnel_purchase', models.BigIntegerField(default=0)),
                ('dropoff_cart', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ('dropoff_checkout', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ('carts_converted', models.BigIntegerField(default=0)),
                ('carts_abandoned', models.BigIntegerField(default=0)),
                ('carts_emptied', models.BigIntegerField(default=0)),
                ('revenue_left', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ('discounts', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ('refunds', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('segment', 'day', 'age_group'), name='insights_segday_key')],
            },
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
