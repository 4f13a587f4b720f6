"""Kept figures for the panels (docs/metrics.md): every buyer's RFM scores (refreshed by
insights.rfm_store, every minute from beat and after derivation batches) and the all-time pair rollup,
filled here from the daily pair rows it sums."""

import django.db.models.deletion
from django.db import migrations, models

REFRESH = ("insights: refresh RFM", "insights.tasks.refresh_rfm_task", 60)

PAIRS_FILL = """
INSERT INTO insights_productpairtotal (kind, product_a, product_b, baskets)
SELECT kind, product_a, product_b, SUM(baskets) FROM insights_productpairdaily
GROUP BY kind, product_a, product_b"""


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    name, task, seconds = REFRESH
    interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=REFRESH[0]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_customer_merged_into'),
        ('insights', '0016_cart_hourly'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
    ]

    operations = [
        migrations.CreateModel(
            name='RfmRefresh',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('refreshed_at', models.DateTimeField()),
                ('buyers', models.PositiveIntegerField(default=0)),
                ('boundaries', models.JSONField(default=dict)),
            ],
        ),
        migrations.CreateModel(
            name='CustomerRfm',
            fields=[
                ('customer', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='rfm', serialize=False, to='customers.customer')),
                ('last_purchase_at', models.DateTimeField(null=True)),
                ('orders', models.BigIntegerField(default=0)),
                ('net_revenue', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ('recency', models.PositiveSmallIntegerField()),
                ('frequency', models.PositiveSmallIntegerField()),
                ('monetary', models.PositiveSmallIntegerField()),
                ('segment', models.CharField(max_length=20)),
            ],
            options={
                'indexes': [models.Index(fields=['segment', 'customer'], include=('net_revenue',), name='insights_rfm_seg_idx')],
            },
        ),
        migrations.CreateModel(
            name='ProductPairTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=1)),
                ('product_a', models.BigIntegerField()),
                ('product_b', models.BigIntegerField()),
                ('baskets', models.BigIntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('kind', 'product_a', 'product_b'), name='insights_pairall_key')],
            },
        ),
        migrations.AddIndex(
            model_name='customerdaily',
            index=models.Index(condition=models.Q(('orders__gt', 0)), fields=['customer_id', 'day'], include=('orders', 'revenue', 'discounts', 'refunds'), name='insights_cud_orders_idx'),
        ),
        migrations.RunSQL(PAIRS_FILL, migrations.RunSQL.noop),
        migrations.RunPython(schedule, unschedule),
    ]
