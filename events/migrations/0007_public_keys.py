"""Storefront capture: public keys (kind, allowed origins, the public value), the
round-2 event fields (anonymous_id, context, is_bot, with database defaults so every insert path
and PostgreSQL's ADD COLUMN stay cheap), the ``page`` action, identify/alias records."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0001_initial'),
        ('events', '0006_store_connections'),
        ('products', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='IdentityLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('message_id', models.CharField(max_length=100, unique=True)),
                ('kind', models.CharField(choices=[('identify', 'Identify'), ('alias', 'Alias')], max_length=10)),
                ('anonymous_id', models.CharField(blank=True, default='', max_length=100)),
                ('previous_id', models.CharField(blank=True, default='', max_length=100)),
                ('traits', models.JSONField(blank=True, default=dict)),
                ('timestamp', models.DateTimeField()),
                ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['-timestamp', '-id'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='event',
            name='event_action_valid',
        ),
        migrations.AddField(
            model_name='event',
            name='anonymous_id',
            field=models.CharField(blank=True, db_default='', default='', max_length=100),
        ),
        migrations.AddField(
            model_name='event',
            name='context',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='event',
            name='is_bot',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name='ingestkey',
            name='allowed_origins',
            field=models.JSONField(blank=True, default=list, help_text='Public keys: the origins (scheme://host[:port]) allowed to send.'),
        ),
        migrations.AddField(
            model_name='ingestkey',
            name='kind',
            field=models.CharField(choices=[('secret', 'Secret (servers)'), ('public', 'Public (browsers)')], default='secret', max_length=10),
        ),
        migrations.AddField(
            model_name='ingestkey',
            name='public_value',
            field=models.CharField(blank=True, editable=False, help_text='Public keys only: the key itself (it is public by design).', max_length=100),
        ),
        migrations.AlterField(
            model_name='event',
            name='action',
            field=models.CharField(choices=[('view', 'View'), ('add_to_cart', 'Add to cart'), ('remove_from_cart', 'Remove from cart'), ('checkout', 'Checkout'), ('purchase', 'Purchase'), ('abandon', 'Abandon'), ('page', 'Page view')], max_length=20),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('is_bot', True)), fields=['id'], name='event_bot_idx'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['view', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase', 'abandon', 'page'])), name='event_action_valid'),
        ),
        migrations.AddField(
            model_name='identitylink',
            name='customer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='identity_links', to='customers.customer'),
        ),
        migrations.AddIndex(
            model_name='identitylink',
            index=models.Index(fields=['anonymous_id'], name='identity_anonymous_idx'),
        ),
    ]
