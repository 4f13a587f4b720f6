"""The Alerts page and ``GET /api/v1/metrics/alerts``: read a selector, build the charts, render
(docs/alerts-and-reports.md#the-alerts-page)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import capability_required
from accounts.roles import VIEW_DASHBOARD
from alerts import charts, selectors

CHART_DAYS = 7


def _safe_json(fig) -> str:  # type: ignore[no-untyped-def]
    return fig.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@require_GET
@capability_required(VIEW_DASHBOARD)
def alerts_page(request: HttpRequest) -> HttpResponse:
    rules = selectors.alerts_overview(timezone.now() - dt.timedelta(days=CHART_DAYS))
    figures = {}
    for r in rules:
        rows = [{"hour": e.hour, "status": e.status, "actual": e.actual, "expected": e.expected, "low": e.low,
                 "high": e.high} for e in r["evaluations"]]
        r["chart"] = f"rule_{r['rule'].pk}"
        figures[r["chart"]] = _safe_json(charts.alert_figure(r["rule"].metric, rows))
    return render(request, "alerts/alerts.html", {"page": "alerts", "rules": rules, "charts": figures,
                                                  "chart_days": CHART_DAYS})


@require_GET
def alerts_api(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    if not request.user.can(VIEW_DASHBOARD):  # type: ignore[union-attr]
        return JsonResponse({"error": "your role cannot see dashboards"}, status=403)
    rules = selectors.alerts_overview(timezone.now() - dt.timedelta(days=CHART_DAYS), evaluations=False)
    return JsonResponse({
        "rules": [{"id": r["rule"].pk, "name": r["rule"].name, "metric": r["rule"].metric,
                   "channel": r["rule"].channel or None, "direction": r["rule"].direction,
                   "sensitivity": r["rule"].sensitivity, "min_volume": r["rule"].min_volume,
                   "consecutive_hours": r["rule"].consecutive_hours, "enabled": r["rule"].enabled,
                   "open": r["open"], "evaluated_through": r["rule"].evaluated_through.isoformat()
                   if r["rule"].evaluated_through else None} for r in rules],
        "incidents": selectors.incidents_recent(50),
    })
