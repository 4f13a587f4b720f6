"""JSON API over the insights selectors: GET /api/v1/metrics/<panel> (role rules: docs/security.md).

Personal data is masked here, where the answer is shaped (``insights.shaping``), for roles without
VIEW_PERSONAL_DATA.

Freshness: every dict answer of a panel carries ``freshness`` (selectors.derivation_status:
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

from accounts.roles import VIEW_CUSTOMER_DETAIL, VIEW_DASHBOARD
from customers.models import Customer
from insights import selectors
from insights.filters import FilterError, MetricFilter
from insights.panels import PANEL_READERS, panel_answer
from insights.selectors.affinity import count_param
from insights.selectors.cohorts import cohort_filter
from insights.shaping import customer_detail_shaped, hides_personal_data

PANELS = (*PANEL_READERS, "choices")


def _dashboard_api(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """GET only; 401 without a login, 403 without VIEW_DASHBOARD; the view gets ``masked`` (the user's role
    may not see personal data); every successful answer says how many events are still being derived
    (see the module docstring)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        user = request.user
        if not user.is_authenticated:
            return JsonResponse({"error": "authentication required"}, status=401)
        if not user.can(VIEW_DASHBOARD):  # type: ignore[union-attr]
            return JsonResponse({"error": "your role cannot see dashboards"}, status=403)
        response = view(request, *args, masked=hides_personal_data(user), **kwargs)
        if response.status_code == 200:
            status = getattr(response, "freshness", None) or selectors.derivation_status()
            if status["pending_batches"]:
                response["X-Pending-Events"] = str(status["pending_events"])
                response["X-Derived-Through"] = status["derived_through"]
        return response

    return require_GET(wrapped)


def _panel_options(panel: str, params: Any) -> dict[str, Any]:
    """The funnel's ``breakdown``; affinity's ``product`` (pk) and ``min_orders`` (pairs in fewer baskets
    are not shown)."""
    if panel == "funnel":
        return {"breakdown": params.get("breakdown") or None}
    if panel == "affinity":
        options: dict[str, Any] = {"product_pk": count_param(params, "product")}
        min_orders = count_param(params, "min_orders")
        if min_orders is not None:
            options["min_baskets"] = min_orders
        return options
    return {}


@_dashboard_api
def metrics_panel(request: HttpRequest, panel: str, *, masked: bool) -> JsonResponse:
    if panel not in PANELS:
        return JsonResponse({"error": f"unknown panel {panel!r}; use one of {', '.join(PANELS)}"}, status=404)
    try:
        f = MetricFilter.from_query(request.GET)
        if panel == "choices":
            data = selectors.filter_choices()
        else:
            options = _panel_options(panel, request.GET)
            if panel == "cohorts":
                f = cohort_filter(f, request.GET)
            data = panel_answer(panel, f, masked=masked, **options)
    except (FilterError, ValueError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    freshness = selectors.derivation_status()
    if isinstance(data, dict):
        data = {**data, "freshness": freshness}
        data.update(selectors.panel_channel_flags(panel, f))  # said, not silently unfiltered
    response = JsonResponse(data, safe=False)
    response.freshness = freshness  # type: ignore[attr-defined]  # read once, for the headers too
    return response


@_dashboard_api
def metrics_latest(request: HttpRequest, *, masked: bool) -> JsonResponse:
    # The feed holds no personal data (the store's customer id only): nothing to mask.
    try:
        limit = min(100, max(1, int(request.GET.get("limit", "20"))))
    except ValueError:
        return JsonResponse({"error": "limit must be a number"}, status=400)
    return JsonResponse(selectors.events_latest(limit), safe=False)


@_dashboard_api
def metrics_customer(request: HttpRequest, pk: int, *, masked: bool) -> JsonResponse:
    if not request.user.can(VIEW_CUSTOMER_DETAIL):  # type: ignore[union-attr]
        # A viewer sees no single customer.
        return JsonResponse({"error": "your role cannot see a single customer"}, status=403)
    try:
        return JsonResponse(customer_detail_shaped(selectors.customer_detail(pk), masked=masked))
    except Customer.DoesNotExist:
        return JsonResponse({"error": "no such customer"}, status=404)
