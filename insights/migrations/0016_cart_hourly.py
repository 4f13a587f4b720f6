"""The hour × channel cart-outcome rollup (insights.hourly_models.CartHourly), filled from the stored
carts so an upgrade needs no rebuild."""

import datetime as dt

from django.db import migrations, models
from django.db.models import Count, F
from django.db.models.functions import TruncHour

STATES = ("open", "converted", "abandoned", "emptied")


def fill(apps, schema_editor):
    Cart = apps.get_model("insights", "Cart")
    CartHourly = apps.get_model("insights", "CartHourly")
    rows: dict = {}
    grouped = Cart.objects.values(h=TruncHour("session__started_at", tzinfo=dt.UTC), ch=F("session__channel"),
                                  st=F("state")).annotate(n=Count("id")).order_by()
    for g in grouped:
        if g["st"] in STATES:
            row = rows.setdefault((g["h"], g["ch"]), CartHourly(hour=g["h"], channel=g["ch"]))
            setattr(row, f"carts_{g['st']}", g["n"])
    CartHourly.objects.bulk_create(rows.values(), batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ('insights', '0015_customer_first_session'),
    ]

    operations = [
        migrations.CreateModel(
            name='CartHourly',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField()),
                ('channel', models.CharField(max_length=20)),
                ('carts_open', models.BigIntegerField(default=0)),
                ('carts_converted', models.BigIntegerField(default=0)),
                ('carts_abandoned', models.BigIntegerField(default=0)),
                ('carts_emptied', models.BigIntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('hour', 'channel'), name='insights_cah_key')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
