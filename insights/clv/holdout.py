"""The calibration/holdout check (FHL 2005 Figure 4): fit on the orders before a holdout period, then
compare, by number of repeat orders in calibration, the expected and actual repeat orders in the
holdout. Pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from insights.clv.bgnbd import FitError, bgnbd_fit, expected_orders
from insights.clv.summary import customer_summary

GROUPS = 7  # rows 0 … 6 repeat orders, then "7+"
MIN_HISTORY_DAYS = 60  # a holdout needs calibration history before it


def holdout_days_for(span_days: int, *, longest: int = 90) -> int:
    """A holdout of a third of the history, at most ``longest`` days; 0 when the history is too short."""
    if span_days < MIN_HISTORY_DAYS:
        return 0
    return min(longest, span_days // 3)


def holdout_check(customers: Any, days: Any, values: Any, *, until: dt.date, holdout_days: int) -> dict[str, Any]:
    """Rows ``{"repeat_orders": "0".."7+", "customers", "actual", "predicted"}`` (mean holdout orders per
    customer) for the customers who had ordered by the calibration end, plus totals and the parameters."""
    calibration_end = until - dt.timedelta(days=holdout_days)
    summary = customer_summary(customers, days, values, until=calibration_end)
    fit = bgnbd_fit(summary.x, summary.t_x, summary.T)  # FitError propagates: the caller says why
    day = np.asarray(days, dtype="datetime64[D]")
    who = np.asarray(customers)
    inside = (day > np.datetime64(calibration_end.isoformat())) & (day <= np.datetime64(until.isoformat()))
    # Orders in the holdout: distinct (customer, day) pairs, as in calibration.
    pairs = np.unique(np.column_stack([who[inside].astype(str), day[inside].astype(str)]), axis=0)
    holdout_customers, counts = np.unique(pairs[:, 0], return_counts=True) if len(pairs) else (np.array([]), [])
    actual_by = dict(zip(holdout_customers.tolist(), np.asarray(counts).tolist(), strict=True))
    actual = np.array([actual_by.get(str(c), 0) for c in summary.customer], dtype=float)
    predicted = expected_orders(fit.params, float(holdout_days), summary.x, summary.t_x, summary.T)
    group = np.minimum(summary.x, GROUPS).astype(int)
    rows = []
    for g in range(GROUPS + 1):
        mask = group == g
        if not mask.any():
            continue
        rows.append({"repeat_orders": f"{g}+" if g == GROUPS else str(g), "customers": int(mask.sum()),
                     "actual": round(float(actual[mask].mean()), 4),
                     "predicted": round(float(predicted[mask].mean()), 4)})
    return {"calibration_end": calibration_end.isoformat(), "holdout_days": holdout_days, "rows": rows,
            "actual_total": float(actual.sum()), "predicted_total": round(float(predicted.sum()), 2),
            "parameters": fit.params.as_dict()}


__all__ = ["FitError", "holdout_check", "holdout_days_for"]
