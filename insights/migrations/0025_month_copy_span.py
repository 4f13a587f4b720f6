"""Each month copy keeps the first and last time of the rows it was copied from, so a period holding all of
a month's rows (a store's first month, as "all history" reads it) reads the copy. Existing copies take
theirs from the rollups now (each copy's month of its rollup, by its time column's index)."""

from django.db import migrations, models


def spans(apps, schema_editor):
    from insights.month_copies import SOURCES, _span

    MonthCopy = apps.get_model("insights", "MonthCopy")
    for copy in MonthCopy.objects.all():
        source = SOURCES.get(copy.source)
        if source is not None:
            copy.first, copy.last = _span(source, (copy.lo, copy.hi)) or (None, None)
            copy.save(update_fields=["first", "last"])


class Migration(migrations.Migration):

    dependencies = [
        ('insights', '0024_cart_channel'),
    ]

    operations = [
        migrations.AddField(
            model_name='monthcopy',
            name='first',
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name='monthcopy',
            name='last',
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(spans, migrations.RunPython.noop),
    ]
