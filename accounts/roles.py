"""The three roles and what each may do (docs/security.md).

Roles are groups. Each role's permission set is the previous role's plus its own; the admin role
also holds every model permission, so Django admin works for it.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    ANALYST = "analyst", "Analyst"
    ADMIN = "admin", "Admin"


# Custom capabilities, declared on accounts.User's Meta.
VIEW_DASHBOARD = "view_dashboard"
VIEW_PERSONAL_DATA = "view_personal_data"
EXPORT_DATA = "export_data"
RETRAIN_MODEL = "retrain_model"
VIEW_MODEL_REPORTS = "view_model_reports"
MANAGE_SIMULATOR = "manage_simulator"
VIEW_CUSTOMER_DETAIL = "view_customer_detail"

CAPABILITIES: list[tuple[str, str | Any]] = [
    (VIEW_DASHBOARD, "Can see dashboards and aggregates"),
    (VIEW_PERSONAL_DATA, "Can see customers' names and emails"),
    (EXPORT_DATA, "Can export tables as CSV"),
    (RETRAIN_MODEL, "Can retrain the purchase-likelihood model"),
    (VIEW_MODEL_REPORTS, "Can see model reports"),
    (MANAGE_SIMULATOR, "Can control the simulator"),
    (VIEW_CUSTOMER_DETAIL, "Can see a single customer (drill-down, per-customer API)"),
]

ROLE_CAPABILITIES: dict[str, list[str]] = {
    Role.VIEWER: [VIEW_DASHBOARD],
    # A viewer sees no single customer; analysts drill down.
    Role.ANALYST: [VIEW_DASHBOARD, VIEW_PERSONAL_DATA, VIEW_CUSTOMER_DETAIL, EXPORT_DATA, RETRAIN_MODEL,
                   VIEW_MODEL_REPORTS],
    Role.ADMIN: [code for code, _ in CAPABILITIES],
}

# Highest first: a user in several groups has the highest role.
ROLE_ORDER = [Role.ADMIN, Role.ANALYST, Role.VIEWER]


def sync_role_groups(group_model, permission_model) -> None:
    """Create the role groups and give each its permissions. Idempotent.

    Works with real or historical (migration) models.
    """
    custom = {
        perm.codename: perm
        for perm in permission_model.objects.filter(
            content_type__app_label="accounts", codename__in=[c for c, _ in CAPABILITIES]
        )
    }
    for role in Role:
        group, _ = group_model.objects.get_or_create(name=role.value)
        wanted = {custom[c].pk for c in ROLE_CAPABILITIES[role] if c in custom}
        if role == Role.ADMIN:
            wanted |= set(permission_model.objects.values_list("pk", flat=True))
        current = set(group.permissions.values_list("pk", flat=True))
        if wanted != current:
            group.permissions.set(wanted)
