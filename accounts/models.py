from __future__ import annotations

from django.contrib.auth.models import AbstractUser

from accounts.roles import CAPABILITIES, ROLE_ORDER, Role


class User(AbstractUser):
    """A person who signs in. What they see is decided by their role (a group)."""

    class Meta:
        permissions = list(CAPABILITIES)

    def __str__(self) -> str:
        return self.get_username()

    @property
    def role(self) -> str | None:
        if not self.is_active:
            return None
        if self.is_superuser:
            return Role.ADMIN
        names = {g.name for g in self.groups.all()}
        for role in ROLE_ORDER:
            if role.value in names:
                return role
        return None

    def can(self, capability: str) -> bool:
        return self.has_perm(f"accounts.{capability}")
