"""Each RFM segment's retention rows (cohort × month, buyers by order count, gaps between orders), kept
with the scores (insights.segment_store); filled here from the kept segments so a segment's retention
page reads them at once."""

from django.db import migrations, models


def fill(apps, schema_editor):
    from insights.segment_store import retention_fill_sql

    with schema_editor.connection.cursor() as cur:
        for sql in retention_fill_sql(schema_editor.connection.vendor):
            cur.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('insights', '0020_covering_buyers_and_closed_carts'),
    ]

    operations = [
        migrations.CreateModel(
            name='SegmentBuyerOrders',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('segment', models.CharField(max_length=20)),
                ('orders', models.PositiveIntegerField()),
                ('age_group', models.CharField(max_length=8)),
                ('customers', models.BigIntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('segment', 'orders', 'age_group'), name='insights_segbuy_key')],
            },
        ),
        migrations.CreateModel(
            name='SegmentCohortMonthly',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('segment', models.CharField(max_length=20)),
                ('cohort', models.DateField()),
                ('month', models.DateField()),
                ('age_group', models.CharField(max_length=8)),
                ('customers', models.BigIntegerField(default=0)),
                ('orders', models.BigIntegerField(default=0)),
                ('revenue', models.DecimalField(decimal_places=2, default=0, max_digits=18)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('segment', 'cohort', 'month', 'age_group'), name='insights_segcoh_key')],
            },
        ),
        migrations.CreateModel(
            name='SegmentOrderGap',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('segment', models.CharField(max_length=20)),
                ('days', models.PositiveIntegerField()),
                ('age_group', models.CharField(max_length=8)),
                ('gaps', models.BigIntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('segment', 'days', 'age_group'), name='insights_seggap_key')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
