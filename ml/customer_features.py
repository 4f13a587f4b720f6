"""Customer-level features and labels for the purchase and churn predictions. PURE: frames in, frames out.

Anchored on GA4's predictive metrics (docs/retention-and-predictions.md#customer-predictions): at a cut-off
``t``, the customers **active in the 28 days before ``t``** (any event in ``[t − 28 d, t)``) get one row of
features computed only from events before ``t``, and two labels from the 7 days after it:

- ``purchase_7d``: the customer placed an order (a ``purchase`` event) in ``[t, t + 7 d)``;
- ``churn_7d``: the customer was not seen at all (no event) in ``[t, t + 7 d)``.

A training frame stacks weekly cut-offs; the newest one is the holdout (labels from the last 7 days with
data), the one before it calibrates, older ones fit (:func:`cutoffs`). ``events`` has the columns of
:mod:`ml.features` (``customer``, ``session_id``, ``action``, ``quantity``, ``price``, ``order_id``, ``ts``);
``customers`` is indexed by customer pk with ``age_group``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

LOOKBACK = timedelta(days=28)
HORIZON = timedelta(days=7)
NUMERIC = (
    "recency_days", "tenure_days", "days_since_last_order", "events_28d", "sessions_28d", "views_28d",
    "adds_28d", "cart_sessions_28d", "order_sessions_28d", "orders_28d", "revenue_28d", "orders_total",
    "revenue_total", "sessions_total", "mean_order_value", "active_days_28d", "events_7d", "cart_abandon_share_28d",
)
CATEGORICAL = ("age_group",)
FEATURES = NUMERIC + CATEGORICAL
TARGETS = ("purchase_7d", "churn_7d")
NEVER_DAYS = 3650.0


def cutoffs(last: datetime, weeks: int) -> list[pd.Timestamp]:
    """``weeks`` weekly cut-offs ending at ``last`` (oldest first)."""
    end = pd.Timestamp(last)
    return [end - HORIZON * k for k in range(weeks - 1, -1, -1)]


def _days(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds() / 86400.0


def features_at(events: pd.DataFrame, customers: pd.DataFrame, at: datetime) -> pd.DataFrame:
    """One row per customer active in the 28 days before ``at`` (index: customer pk), features only."""
    t = pd.Timestamp(at)
    past = events[events["ts"] < t]
    recent = past[past["ts"] >= t - LOOKBACK]
    active = pd.Index(recent["customer"].unique(), name="customer")
    if active.empty:
        return pd.DataFrame(columns=list(FEATURES), index=active)
    past = past[past["customer"].isin(active)]
    revenue = past["price"] * past["quantity"] * (past["action"] == "purchase")
    past = past.assign(revenue=revenue, is_purchase=past["action"] == "purchase")
    by = past.groupby("customer")
    out = pd.DataFrame(index=active)
    out["recency_days"] = _days(t - by["ts"].max()).reindex(active)
    out["tenure_days"] = _days(t - by["ts"].min()).reindex(active)
    orders = past[past["is_purchase"]]
    last_order = orders.groupby("customer")["ts"].max().reindex(active)
    out["days_since_last_order"] = _days(t - last_order).fillna(NEVER_DAYS)
    out["orders_total"] = _distinct_orders(orders).reindex(active, fill_value=0)
    out["revenue_total"] = by["revenue"].sum().reindex(active, fill_value=0.0)
    out["sessions_total"] = by["session_id"].nunique().reindex(active, fill_value=0)
    out["mean_order_value"] = (out["revenue_total"] / out["orders_total"].where(out["orders_total"] > 0)).fillna(0.0)
    return _with_recent(out, past[past["ts"] >= t - LOOKBACK], t, customers)


def _distinct_orders(orders: pd.DataFrame) -> pd.Series:
    """Orders per customer: distinct order ids, else one per purchasing session (docs/metrics.md)."""
    key = orders["order_id"].where(orders["order_id"].notna(), "s:" + orders["session_id"].astype(str))
    return orders.assign(key=key).groupby("customer")["key"].nunique()


def _with_recent(out: pd.DataFrame, recent: pd.DataFrame, t: pd.Timestamp, customers: pd.DataFrame) -> pd.DataFrame:
    """The 28-day (and 7-day) activity columns and the age group."""
    active = out.index
    by = recent.groupby("customer")
    count = lambda action: recent[recent["action"] == action].groupby("customer").size()  # noqa: E731
    out["events_28d"] = by.size().reindex(active, fill_value=0)
    out["events_7d"] = recent[recent["ts"] >= t - HORIZON].groupby("customer").size().reindex(active, fill_value=0)
    out["sessions_28d"] = by["session_id"].nunique().reindex(active, fill_value=0)
    out["views_28d"] = count("view").reindex(active, fill_value=0)
    out["adds_28d"] = count("add_to_cart").reindex(active, fill_value=0)
    sessions = recent.groupby(["customer", "session_id"])["action"].agg(
        cart=lambda a: bool((a == "add_to_cart").any()), order=lambda a: bool((a == "purchase").any()))
    per = sessions.groupby(level="customer").sum()
    out["cart_sessions_28d"] = per["cart"].reindex(active, fill_value=0)
    out["order_sessions_28d"] = per["order"].reindex(active, fill_value=0)
    abandoned = (sessions["cart"] & ~sessions["order"]).groupby(level="customer").sum().reindex(active, fill_value=0)
    carts = out["cart_sessions_28d"]
    out["cart_abandon_share_28d"] = (abandoned / carts.where(carts > 0)).fillna(0.0)
    orders = recent[recent["action"] == "purchase"]
    out["orders_28d"] = _distinct_orders(orders).reindex(active, fill_value=0)
    out["revenue_28d"] = (orders["price"] * orders["quantity"]).groupby(orders["customer"]).sum().reindex(
        active, fill_value=0.0)
    out["active_days_28d"] = recent["ts"].dt.floor("D").groupby(recent["customer"]).nunique().reindex(
        active, fill_value=0)
    out["age_group"] = customers["age_group"].reindex(active).fillna("unknown").astype(str).to_numpy()
    return out[list(FEATURES)].astype({c: float for c in NUMERIC})


def labels_at(events: pd.DataFrame, customers: pd.Index, at: datetime) -> pd.DataFrame:
    """``purchase_7d`` and ``churn_7d`` of ``customers`` from the 7 days from ``at``."""
    t = pd.Timestamp(at)
    after = events[(events["ts"] >= t) & (events["ts"] < t + HORIZON)]
    seen = pd.Index(after["customer"].unique())
    bought = pd.Index(after.loc[after["action"] == "purchase", "customer"].unique())
    return pd.DataFrame({"purchase_7d": customers.isin(bought).astype(int),
                         "churn_7d": (~customers.isin(seen)).astype(int)}, index=customers)


def training_frame(events: pd.DataFrame, customers: pd.DataFrame, *, last_cutoff: datetime,
                   weeks: int) -> pd.DataFrame:
    """Rows of every weekly cut-off to ``last_cutoff`` (whose labels must be complete: ``last_cutoff`` at
    least 7 days before the data ends), with ``customer``, ``time`` (the cut-off), features and labels."""
    parts = []
    for t in cutoffs(last_cutoff, weeks):
        rows = features_at(events, customers, t)
        if rows.empty:
            continue
        rows = rows.join(labels_at(events, rows.index, t))
        parts.append(rows.reset_index().assign(time=t))
    if not parts:
        return pd.DataFrame(columns=["customer", "time", *FEATURES, *TARGETS])
    frame = pd.concat(parts, ignore_index=True)
    frame["customer"] = frame["customer"].astype(np.int64)
    return frame
