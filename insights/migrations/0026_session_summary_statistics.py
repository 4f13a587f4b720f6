# Hand-written on 2026-12-07

from django.db import migrations

# No planner statistics for a stored session's summary (PostgreSQL only): no statement filters, joins
# or sorts on it, and sampling it is a third of every ANALYZE of the sessions (the derivation's after a
# bulk load and a rebuild's, autovacuum's).
_SQL = "ALTER TABLE insights_session ALTER COLUMN summary SET STATISTICS {}"


def _statistics(target: int):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(_SQL.format(target))
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('insights', '0025_month_copy_span'),
    ]

    operations = [
        migrations.RunPython(_statistics(0), _statistics(-1)),
    ]
