"""A viewer sees no single customer. A new capability, view_customer_detail, held by
analysts and admins; the role groups are synced so existing databases get it too."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def sync_groups(apps, schema_editor):
    from accounts.roles import sync_role_groups

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_role_groups'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='user',
            options={'permissions': [('view_dashboard', 'Can see dashboards and aggregates'), ('view_personal_data', "Can see customers' names and emails"), ('export_data', 'Can export tables as CSV'), ('retrain_model', 'Can retrain the purchase-likelihood model'), ('view_model_reports', 'Can see model reports'), ('manage_simulator', 'Can control the simulator'), ('view_customer_detail', 'Can see a single customer (drill-down, per-customer API)')]},
        ),
        migrations.RunPython(sync_groups, migrations.RunPython.noop),
    ]
