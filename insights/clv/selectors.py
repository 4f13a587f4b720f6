"""Reads of the predicted CLV: the latest fit, one customer's predictions, predicted value per RFM
segment, the valuable customers slipping away, and the holdout check for the model page.

Names and emails are returned as stored; per-customer rows are for roles that may see a single
customer (docs/security.md), and masking happens at the edge (``insights.shaping``)."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q

from insights.clv.models import MIN_CUSTOMERS, MIN_REPEAT_CUSTOMERS, ClvFit, ClvPrediction

NO_FIT = (f"No predicted CLV yet: the nightly refit (or manage.py fit_clv) has not fitted one. It needs at least "
          f"{MIN_CUSTOMERS} customers with an order, {MIN_REPEAT_CUSTOMERS} of them with a repeat order.")
VALUABLE_SHARE = 0.20  # "valuable": top 20% by predicted 12-month value had the customer stayed active
SLIPPING_P_ALIVE = 0.5  # P(alive) below this …
SLIPPING_DROP = 0.2  # … or fallen by at least this since the fit before
SLIPPING_LIMIT = 1000


def clv_fit_latest() -> ClvFit | None:
    return ClvFit.objects.order_by("-fitted_at", "-id").first()


def clv_status() -> dict[str, Any]:
    """The latest fit's summary, or why there is none (``reason``)."""
    fit = clv_fit_latest()
    if fit is None:
        return {"fit": None, "reason": NO_FIT}
    return {"fit": fit.pk, "reason": None, "until": fit.until.isoformat(), "fitted_at": fit.fitted_at.isoformat(),
            "model_version": fit.model_version, "customers": fit.customers,
            "repeat_customers": fit.repeat_customers}


def _row(p: ClvPrediction) -> dict[str, Any]:
    return {"p_alive": round(p.p_alive, 4), "orders_90": round(p.orders_90, 3), "orders_365": round(p.orders_365, 3),
            "order_value": round(p.order_value, 2), "clv_12m": round(p.clv_12m, 2),
            "next_order": p.next_order.isoformat() if p.next_order else None, "tier": p.tier}


def clv_customer_prediction(*, customer_pk: int) -> dict[str, Any]:
    """One customer's predictions in the latest fit; ``reason`` says why there are none."""
    fit = clv_fit_latest()
    if fit is None:
        return {"reason": NO_FIT}
    p = ClvPrediction.objects.filter(fit=fit, customer_id=customer_pk).first()
    if p is None:
        return {"reason": f"No prediction: the customer had no order by {fit.until} (the latest fit's end)."}
    return {"reason": None, "until": fit.until.isoformat(), **_row(p),
            "p_alive_before": None if p.p_alive_before is None else round(p.p_alive_before, 4)}


def clv_predictions_for(*, customer_pks: list[int]) -> dict[int, dict[str, Any]]:
    """Predicted 12-month value, tier and P(alive) of these customers in the latest fit."""
    fit = clv_fit_latest()
    if fit is None or not customer_pks:
        return {}
    rows = ClvPrediction.objects.filter(fit=fit, customer_id__in=customer_pks).values_list(
        "customer_id", "clv_12m", "tier", "p_alive")
    return {pk: {"predicted_clv_12m": round(v, 2), "tier": tier, "p_alive": round(alive, 4)}
            for pk, v, tier, alive in rows}


def clv_slipping_away(*, limit: int = SLIPPING_LIMIT) -> dict[str, Any]:
    """Valuable customers (top 20% by predicted 12-month value had they stayed active) whose P(alive) is
    below 0.5 or fell by 0.2 or more since the fit before, by value at risk (that value × P(lapsed))."""
    fit = clv_fit_latest()
    if fit is None:
        return {"reason": NO_FIT, "rows": []}
    predictions = ClvPrediction.objects.filter(fit=fit)
    rank = int(fit.customers * VALUABLE_SHARE)
    edge = predictions.order_by("-clv_if_active").values_list("clv_if_active", flat=True)[rank:rank + 1].first()
    if edge is None:
        return {"reason": f"Too few customers ({fit.customers}) to rank.", "rows": []}
    lapsing = Q(p_alive__lt=SLIPPING_P_ALIVE) | Q(p_alive_before__gte=F("p_alive") + SLIPPING_DROP)
    rows = (predictions.filter(lapsing, clv_if_active__gt=edge).select_related("customer")
            .annotate(at_risk=F("clv_if_active") - F("clv_12m")).order_by("-at_risk", "customer_id")[:limit])
    return {"reason": None, "until": fit.until.isoformat(), "rows": [
        {"pk": p.customer_id, "customer_id": p.customer.external_id, "name": p.customer.name,
         "email": p.customer.email, "orders": p.orders, "last_order": p.last_order.isoformat(),
         "p_alive": round(p.p_alive, 4),
         "p_alive_before": None if p.p_alive_before is None else round(p.p_alive_before, 4),
         "value_if_active": round(p.clv_if_active, 2), "predicted_clv_12m": round(p.clv_12m, 2),
         "value_at_risk": round(p.at_risk, 2)} for p in rows]}


def clv_model_report() -> dict[str, Any]:
    """The latest fit's parameters, diagnostics and holdout check (rows by repeat orders), or why not."""
    fit = clv_fit_latest()
    if fit is None:
        return {"fit": None, "reason": NO_FIT}
    holdout = fit.diagnostics.get("holdout", {})
    return {"fit": fit, "reason": None, "parameters": fit.parameters, "diagnostics": fit.diagnostics,
            "holdout": holdout if "rows" in holdout else None,
            "holdout_reason": None if "rows" in holdout else holdout.get("error", "No holdout check was run.")}
