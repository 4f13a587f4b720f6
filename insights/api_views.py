"""JSON API over the insights selectors: GET /api/v1/metrics/<panel> (DESIGN §5 role rules).

Freshness (issue 10): every dict answer of a panel carries ``freshness`` (selectors.derivation_status:
``pending_events``, ``pending_batches``, ``derived_through``, ``message``), and every answer under
/api/v1/metrics/ carries ``X-Pending-Events`` and ``X-Derived-Through`` headers while events wait to be
derived into sessions and carts (no such headers: nothing waits). Existing keys are unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from accounts.roles import VIEW_CUSTOMER_DETAIL, VIEW_DASHBOARD, VIEW_PERSONAL_DATA
from customers.models import Customer
from insights import selectors
from insights.filters import FilterError, MetricFilter

Panel = Callable[[MetricFilter, bool, HttpRequest], Any]

PANELS: dict[str, Panel] = {
    "kpis": lambda f, mask, request: selectors.kpis_stats(f),
    "timeseries": lambda f, mask, request: selectors.events_timeseries(f),
    "funnel": lambda f, mask, request: selectors.funnel_stats(f, breakdown=request.GET.get("breakdown") or None),
    "seasonality": lambda f, mask, request: selectors.seasonality_stats(f),
    "customers": lambda f, mask, request: selectors.customers_stats(f, mask=mask),
    "products": lambda f, mask, request: selectors.products_stats(f),
    "carts": lambda f, mask, request: selectors.carts_stats(f, mask=mask),
    "insights": lambda f, mask, request: selectors.insights_list(f),
    "choices": lambda f, mask, request: selectors.filter_choices(),
}


def _freshness_headers(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Say on every successful answer how many events are still being derived (see the module docstring)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            status = getattr(response, "freshness", None) or selectors.derivation_status()
            if status["pending_batches"]:
                response["X-Pending-Events"] = str(status["pending_events"])
                response["X-Derived-Through"] = status["derived_through"]
        return response

    return wrapped


def _access(request: HttpRequest) -> tuple[JsonResponse | None, bool]:
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401), True
    if not user.can(VIEW_DASHBOARD):  # type: ignore[union-attr]
        return JsonResponse({"error": "your role cannot see dashboards"}, status=403), True
    return None, not user.can(VIEW_PERSONAL_DATA)  # type: ignore[union-attr]


@require_GET
@_freshness_headers
def metrics_panel(request: HttpRequest, panel: str) -> JsonResponse:
    denied, mask = _access(request)
    if denied:
        return denied
    handler = PANELS.get(panel)
    if handler is None:
        return JsonResponse({"error": f"unknown panel {panel!r}; use one of {', '.join(PANELS)}"}, status=404)
    try:
        f = MetricFilter.from_query(request.GET)
        data = handler(f, mask, request)
    except (FilterError, ValueError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    freshness = selectors.derivation_status()
    if isinstance(data, dict):
        data = {**data, "freshness": freshness}
    response = JsonResponse(data, safe=False)
    response.freshness = freshness  # type: ignore[attr-defined]  # read once, for the headers too
    return response


@require_GET
@_freshness_headers
def metrics_latest(request: HttpRequest) -> JsonResponse:
    denied, mask = _access(request)
    if denied:
        return denied
    try:
        limit = min(100, max(1, int(request.GET.get("limit", "20"))))
    except ValueError:
        return JsonResponse({"error": "limit must be a number"}, status=400)
    return JsonResponse(selectors.events_latest(limit, mask=mask), safe=False)


@require_GET
@_freshness_headers
def metrics_customer(request: HttpRequest, pk: int) -> JsonResponse:
    denied, mask = _access(request)
    if denied:
        return denied
    if not request.user.can(VIEW_CUSTOMER_DETAIL):  # type: ignore[union-attr]
        # DESIGN §5 round 2: a viewer sees no single customer.
        return JsonResponse({"error": "your role cannot see a single customer"}, status=403)
    try:
        return JsonResponse(selectors.customer_detail(pk, mask=mask))
    except Customer.DoesNotExist:
        return JsonResponse({"error": "no such customer"}, status=404)
