from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import sync_role_groups

    sync_role_groups(Group, Permission)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Models added by later migrations get their permissions in post_migrate; keep the admin
        # role holding all of them.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")
