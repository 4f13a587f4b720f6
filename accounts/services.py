from __future__ import annotations

import secrets

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import User
from accounts.roles import Role


@transaction.atomic
def user_set_role(*, user: User, role: Role) -> User:
    """Give ``user`` exactly one role. Only admins are staff (reach Django admin)."""
    user.groups.set([Group.objects.get(name=role.value)])
    user.is_staff = role == Role.ADMIN
    user.save(update_fields=["is_staff"])
    return user


@transaction.atomic
def user_create(*, username: str, password: str, role: Role, email: str = "") -> User:
    user = User.objects.create_user(username=username, password=password, email=email)
    return user_set_role(user=user, role=role)


@transaction.atomic
def user_create_demo_users(*, reset: bool = False) -> list[tuple[str, str, str | None]]:
    """One user per role. Returns (username, role, password or None when left unchanged)."""
    created: list[tuple[str, str, str | None]] = []
    for role in Role:
        username = role.value
        user = User.objects.filter(username=username).first()
        password: str | None = None
        if user is None:
            password = secrets.token_urlsafe(9)
            user = user_create(username=username, password=password, role=role,
                               email=f"{username}@demo.invalid")
        else:
            if reset:
                password = secrets.token_urlsafe(9)
                user.set_password(password)
                user.is_active = True
                user.save(update_fields=["password", "is_active"])
            user_set_role(user=user, role=role)
        created.append((username, role.value, password))
    return created
