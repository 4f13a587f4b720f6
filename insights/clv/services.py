"""Fit BG/NBD + Gamma-Gamma on the store's orders and store every customer's predictions."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from itertools import islice
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import F, Sum

from insights.clv.bgnbd import FitError, bgnbd_fit, gamma_gamma_fit
from insights.clv.holdout import holdout_check, holdout_days_for
from insights.clv.models import MIN_CUSTOMERS, MIN_REPEAT_CUSTOMERS, ClvFit, ClvPrediction
from insights.clv.predict import Predictions, next_order_date, predict
from insights.clv.summary import CustomerSummary, customer_summary
from insights.models import CustomerDaily
from insights.services import analytics_process_pending

logger = logging.getLogger(__name__)

MODEL_VERSION = "bgnbd-gg-mle-1"  # BG/NBD + Gamma-Gamma, maximum likelihood on scipy (insights/clv/bgnbd.py)
MIN_GAMMA_GAMMA_CUSTOMERS = 20
KEEP_PREDICTION_SETS = 2  # the latest fit's predictions and the one before (P(alive) falling)
BATCH = 5000


class NotEnoughData(FitError):
    """Too few customers or repeat buyers to fit: the message says how many there are and need."""


def clv_transactions(*, until: dt.date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer pk, store day, order value) per customer and day with an order, up to ``until``.

    One row per day (orders on the same day are one transaction, as in the literature). The value is
    net revenue (docs/money.md): the day's gross less its order discounts, and each customer's refunds up
    to ``until`` (counted on their own dates, often days without an order) taken off their order days
    in proportion to those days' values, so a customer's values add up to their net revenue (never
    below zero)."""
    rows = list(CustomerDaily.objects.filter(orders__gt=0, day__lte=until)
                .annotate(value=F("revenue") - F("discounts")).values_list("customer_id", "day", "value").order_by())
    if not rows:
        return np.array([], dtype=np.int64), np.array([], dtype="datetime64[D]"), np.array([], dtype=float)
    pks, days, values = zip(*rows, strict=True)
    pk_arr = np.array(pks, dtype=np.int64)
    value_arr = np.maximum(np.array([float(v) for v in values], dtype=float), 0.0)
    refunded = dict(CustomerDaily.objects.filter(refunds__gt=0, day__lte=until).values("customer_id")
                    .annotate(total=Sum("refunds")).values_list("customer_id", "total").order_by())
    if refunded:
        value_arr = _less_refunds(pk_arr, value_arr, {pk: float(v) for pk, v in refunded.items()})
    return pk_arr, np.array(days, dtype="datetime64[D]"), value_arr


def _less_refunds(pks: np.ndarray, values: np.ndarray, refunds: dict[int, float]) -> np.ndarray:
    """Each customer's order-day values scaled so they add up to (their sum − their refunds), ≥ 0."""
    unique, inverse = np.unique(pks, return_inverse=True)
    totals = np.bincount(inverse, weights=values)
    taken = np.array([refunds.get(int(pk), 0.0) for pk in unique])
    scale = np.divide(np.maximum(totals - taken, 0.0), totals, out=np.zeros_like(totals), where=totals > 0)
    return values * scale[inverse]


def _check_enough(summary: CustomerSummary) -> None:
    repeat = int((summary.x > 0).sum())
    if len(summary) < MIN_CUSTOMERS or repeat < MIN_REPEAT_CUSTOMERS:
        raise NotEnoughData(f"{len(summary)} customers with an order ({repeat} with a repeat order); "
                            f"a fit needs at least {MIN_CUSTOMERS} ({MIN_REPEAT_CUSTOMERS} with a repeat order)")


def _fit(summary: CustomerSummary, transactions: tuple, until: dt.date) -> tuple[dict, dict, Predictions]:
    started = time.perf_counter()
    bgnbd = bgnbd_fit(summary.x, summary.t_x, summary.T)
    params: dict[str, Any] = {"r": bgnbd.params.r, "alpha": bgnbd.params.alpha,
                              "alpha_weeks": bgnbd.params.alpha / 7, "a": bgnbd.params.a, "b": bgnbd.params.b}
    diagnostics: dict[str, Any] = {
        "time_unit": "days", "bgnbd": {"log_likelihood": bgnbd.log_likelihood, "converged": bgnbd.converged,
                                       "iterations": bgnbd.iterations, "customers": bgnbd.customers}}
    gamma_gamma = None
    if int((summary.x > 0).sum()) >= MIN_GAMMA_GAMMA_CUSTOMERS:
        try:
            gg = gamma_gamma_fit(summary.x, summary.m_x)
        except FitError as exc:
            diagnostics["gamma_gamma"] = {"error": str(exc)}
        else:
            gamma_gamma = gg.params
            params.update(p=gg.params.p, q=gg.params.q, gamma=gg.params.v)
            diagnostics["gamma_gamma"] = {"log_likelihood": gg.log_likelihood, "converged": gg.converged,
                                          "iterations": gg.iterations, "customers": gg.customers}
    if gamma_gamma is None:
        diagnostics["order_value"] = "each customer's own mean order value (no Gamma-Gamma fit)"
    predictions = predict(summary, bgnbd.params, gamma_gamma)
    diagnostics["fit_seconds"] = round(time.perf_counter() - started, 3)
    diagnostics["holdout"] = _holdout(transactions, summary, until)
    return params, diagnostics, predictions


def _holdout(transactions: tuple, summary: CustomerSummary, until: dt.date) -> dict[str, Any]:
    span = int((np.datetime64(until.isoformat()) - summary.first.min()).astype(int))
    days = holdout_days_for(span)
    if not days:
        return {"error": f"{span} days of orders: the holdout check needs at least 60"}
    try:
        return holdout_check(*transactions, until=until, holdout_days=days)
    except FitError as exc:
        return {"error": f"the calibration period cannot be fitted: {exc}"}


def _prediction_rows(fit: ClvFit, summary: CustomerSummary, out: Predictions, until: dt.date):
    before = dict(ClvPrediction.objects.filter(fit=ClvFit.objects.exclude(pk=fit.pk).order_by("-fitted_at", "-id")
                                               .values("pk")[:1]).values_list("customer_id", "p_alive"))
    last = summary.last.astype(object)
    for i, pk in enumerate(summary.customer.tolist()):
        yield ClvPrediction(
            fit=fit, customer_id=pk, orders=int(summary.x[i]) + 1, last_order=last[i],
            p_alive=float(min(max(out.p_alive[i], 0.0), 1.0)), p_alive_before=before.get(pk),
            orders_90=float(out.orders_90[i]), orders_365=float(out.orders_365[i]),
            order_value=float(out.order_value[i]), clv_12m=float(out.clv_12m[i]),
            clv_if_active=float(out.clv_if_active[i]),
            next_order=next_order_date(until, float(out.next_order_in_days[i])), tier=str(out.tier[i]))


@transaction.atomic
def _store(*, until: dt.date, trigger: str, summary: CustomerSummary, params: dict, diagnostics: dict,
           predictions: Predictions) -> ClvFit:
    fit = ClvFit.objects.create(model_version=MODEL_VERSION, trigger=trigger, until=until,
                                customers=len(summary), repeat_customers=int((summary.x > 0).sum()),
                                parameters=params, diagnostics=diagnostics)
    rows = _prediction_rows(fit, summary, predictions, until)
    while batch := list(islice(rows, BATCH)):
        ClvPrediction.objects.bulk_create(batch)
    stale = ClvFit.objects.order_by("-fitted_at", "-id").values_list("pk", flat=True)[KEEP_PREDICTION_SETS:]
    ClvPrediction.objects.filter(fit_id__in=list(stale)).delete()
    return fit


def clv_fit_create(*, until: dt.date, trigger: str = ClvFit.Trigger.COMMAND,
                   progress: Callable[[str], None] = logger.info) -> ClvFit:
    """Fit on the orders up to ``until`` and store the parameters, diagnostics and every buyer's predictions.

    Queued derivation windows are processed first, so recent orders count. Raises NotEnoughData (nothing
    stored) when there are too few customers to fit."""
    analytics_process_pending()
    transactions = clv_transactions(until=until)
    summary = customer_summary(*transactions, until=until)
    progress(f"{len(transactions[0])} order days of {len(summary)} customers up to {until}")
    _check_enough(summary)
    params, diagnostics, predictions = _fit(summary, transactions, until)
    progress(f"fitted in {diagnostics['fit_seconds']} s; storing {len(summary)} predictions")
    return _store(until=until, trigger=trigger, summary=summary, params=params, diagnostics=diagnostics,
                  predictions=predictions)
