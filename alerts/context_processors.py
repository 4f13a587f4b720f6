"""The open incidents for the banner every signed-in page renders (dashboard.js refreshes it live)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.roles import VIEW_DASHBOARD
from insights.extensions import dashboard_notices


def notices(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.can(VIEW_DASHBOARD):
        return {}
    return {"alert_notices": dashboard_notices()}
