"""Reads of reports: a user's own subscriptions, as the My reports page lists them
(docs/alerts-and-reports.md#subscriptions)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from accounts.models import User
from reports.models import PAGE_CHOICES, ReportSend, ReportSubscription

PAGE_LABELS = dict(PAGE_CHOICES)


def _described(filters: str) -> str:
    pairs = parse_qsl(filters)
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in pairs) or "all traffic, every action"


def subscriptions_of(user: User) -> list[dict[str, Any]]:
    """``user``'s subscriptions: the page, its filters in words, a link to the page with them, how often,
    in which time zone and after which hour, and the last period sent."""
    out = []
    for sub in ReportSubscription.objects.filter(user=user).order_by("page", "frequency", "pk"):
        last: ReportSend | None = sub.sends.filter(sent_at__isnull=False).order_by("-period_start").first()
        path = "/" if sub.page == "overview" else f"/{sub.page}/"
        out.append({"subscription": sub, "page_label": PAGE_LABELS[sub.page], "filters": _described(sub.filters),
                    "href": path + (f"?{sub.filters}" if sub.filters else ""),
                    "last_sent": last.period_start if last else None})
    return out
