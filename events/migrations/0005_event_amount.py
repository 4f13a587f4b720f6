"""A purchase line's total as the sender gave it (money survives import).

Nullable and without a default, so PostgreSQL adds the column without rewriting the table; the check
constraint is validated by one scan (every existing row has NULL). SQLite remakes the table once for
the constraint. Existing events keep amount NULL: their revenue stays price × quantity.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0001_initial'),
        ('events', '0004_fewer_event_indexes'),
        ('products', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='amount',
            field=models.DecimalField(blank=True, decimal_places=2, help_text='Purchase lines only: the line total as the sender gave it, kept to the cent. Revenue is this when present, else price × quantity (see line_total).', max_digits=14, null=True),
        ),
        migrations.AlterField(
            model_name='event',
            name='price',
            field=models.DecimalField(decimal_places=2, default=0, help_text='Unit price at event time (for a line sent with an amount: amount / quantity, rounded to the cent, for display).', max_digits=12),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.CheckConstraint(condition=models.Q(('amount__isnull', True), models.Q(('action', 'purchase'), ('amount__gte', 0)), _connector='OR'), name='event_amount_purchase_gte_0'),
        ),
    ]
