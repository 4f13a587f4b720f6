"""Customer-level features and labels for the purchase and churn predictions. PURE: frames in, frames out.

Anchored on GA4's predictive metrics (docs/retention-and-predictions.md#customer-predictions): at a cut-off
``t``, the customers **active in the 28 days before ``t``** (any event in ``[t − 28 d, t)``) get one row of
features computed only from events before ``t``, and two labels from the 7 days after it:

- ``purchase_7d``: the customer placed an order (a ``purchase`` event) in ``[t, t + 7 d)``;
- ``churn_7d``: the customer was not seen at all (no event) in ``[t, t + 7 d)``.

A training frame stacks weekly cut-offs; the newest one is the holdout (labels from the last 7 days with
data), the one before it calibrates, older ones fit (:func:`cutoffs`). ``events`` has the columns of
:mod:`ml.features` (``customer``, ``session_id``, ``action``, ``quantity``, ``price``, ``order_id``, ``ts``);
``customers`` is indexed by customer pk with ``age_group``; ``sessions`` (optional: the derived sessions,
``customer``, ``started_at``, ``channel``) gives the channel mix, which is 0 without them.

Set-based: each figure is one group-by over the events before the cut-off (no Python loop over customers
or sessions). The BG/NBD figures (``insights.clv.bgnbd``) are refitted at every cut-off on the orders before
it, so no later order informs them: ``p_alive`` and ``expected_orders_7d`` (expected repeat orders in the
next 7 days; for a customer who never ordered, a new customer's expectation and P(alive) 1).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from insights.channels import (
    AFFILIATES,
    DIRECT,
    DISPLAY,
    EMAIL,
    ORGANIC_SEARCH,
    ORGANIC_SOCIAL,
    PAID_SEARCH,
    PAID_SOCIAL,
    REFERRAL,
)
from insights.clv.bgnbd import FitError, bgnbd_fit, expected_orders, p_alive, unconditional_expected_orders
from insights.clv.summary import customer_summary

LOOKBACK = timedelta(days=28)
HORIZON = timedelta(days=7)
NUMERIC = (
    "recency_days", "tenure_days", "days_since_last_order", "events_28d", "sessions_28d", "views_28d",
    "adds_28d", "cart_sessions_28d", "order_sessions_28d", "orders_28d", "revenue_28d", "orders_total",
    "revenue_total", "sessions_total", "mean_order_value", "active_days_28d", "events_7d", "cart_abandon_share_28d",
    "share_paid_28d", "share_email_28d", "share_organic_28d", "share_referral_28d", "share_direct_28d",
    "p_alive", "expected_orders_7d",
)
# The channel mix: the share of the customer's sessions started in the 28 days from each group of channels.
CHANNEL_GROUPS = {PAID_SEARCH: "paid", PAID_SOCIAL: "paid", DISPLAY: "paid", AFFILIATES: "paid", EMAIL: "email",
                  ORGANIC_SEARCH: "organic", ORGANIC_SOCIAL: "organic", REFERRAL: "referral", DIRECT: "direct"}
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


def features_at(events: pd.DataFrame, customers: pd.DataFrame, at: datetime,
                sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer active in the 28 days before ``at`` (index: customer pk), features only."""
    t = pd.Timestamp(at)
    past = events[events["ts"] < t]
    active = pd.Index(np.unique(past.loc[past["ts"] >= t - LOOKBACK, "customer"].to_numpy()), name="customer")
    if active.empty:
        return pd.DataFrame(columns=list(FEATURES), index=active)
    past = past[past["customer"].isin(active)]
    is_purchase = (past["action"] == "purchase").to_numpy()
    past = past.assign(revenue=past["price"] * past["quantity"] * is_purchase)
    by = past.groupby("customer")
    out = pd.DataFrame(index=active)
    out["recency_days"] = _days(t - by["ts"].max()).reindex(active)
    out["tenure_days"] = _days(t - by["ts"].min()).reindex(active)
    orders = past[is_purchase]
    last_order = orders.groupby("customer")["ts"].max().reindex(active)
    out["days_since_last_order"] = _days(t - last_order).fillna(NEVER_DAYS)
    out["orders_total"] = _distinct_orders(orders).reindex(active, fill_value=0)
    out["revenue_total"] = by["revenue"].sum().reindex(active, fill_value=0.0)
    out["sessions_total"] = by["session_id"].nunique().reindex(active, fill_value=0)
    out["mean_order_value"] = (out["revenue_total"] / out["orders_total"].where(out["orders_total"] > 0)).fillna(0.0)
    out = _with_recent(out, past[past["ts"] >= t - LOOKBACK], t, customers)
    out = _with_channels(out, sessions, t)
    return _with_bgnbd(out, orders, t)[list(FEATURES)].astype({c: float for c in NUMERIC})


def _with_channels(out: pd.DataFrame, sessions: pd.DataFrame | None, t: pd.Timestamp) -> pd.DataFrame:
    """The channel mix of the sessions started in the 28 days before ``t``."""
    shares = pd.DataFrame(0.0, index=out.index, columns=[f"share_{g}_28d" for g in dict.fromkeys(
        CHANNEL_GROUPS.values())])
    if sessions is not None and not sessions.empty:
        recent = sessions[(sessions["started_at"] < t) & (sessions["started_at"] >= t - LOOKBACK)
                          & sessions["customer"].isin(out.index)]
        group = recent["channel"].map(CHANNEL_GROUPS).fillna("direct")
        mix = pd.crosstab(recent["customer"], group, normalize="index")
        for name in mix.columns:
            shares[f"share_{name}_28d"] = mix[name].reindex(out.index, fill_value=0.0)
    return out.join(shares)


def _with_bgnbd(out: pd.DataFrame, orders: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """P(alive) and expected repeat orders in 7 days from a BG/NBD fit on the orders before ``t``."""
    out["p_alive"], out["expected_orders_7d"] = 1.0, 0.0
    if orders.empty:
        return out
    summary = customer_summary(orders["customer"].to_numpy(), orders["ts"].dt.tz_convert(None).to_numpy(),
                               orders["revenue"].to_numpy(), until=t.date())
    try:
        with np.errstate(all="ignore"):  # the optimiser's trial steps overflow; the fit reports its own failure
            params = bgnbd_fit(summary.x, summary.t_x, summary.T).params
    except FitError:
        return out
    out["expected_orders_7d"] = float(unconditional_expected_orders(params, 7.0))
    figures = pd.DataFrame({"p_alive": p_alive(params, summary.x, summary.t_x, summary.T),
                            "expected_orders_7d": expected_orders(params, 7.0, summary.x, summary.t_x, summary.T)},
                           index=summary.customer)
    known = out.index.intersection(figures.index)
    out.loc[known, ["p_alive", "expected_orders_7d"]] = figures.loc[known].to_numpy()
    return out


def _distinct_orders(orders: pd.DataFrame) -> pd.Series:
    """Orders per customer: distinct order ids, else one per purchasing session (docs/metrics.md)."""
    key = orders["order_id"].where(orders["order_id"].notna(), "s:" + orders["session_id"].astype(str))
    return orders.assign(key=key).groupby("customer")["key"].nunique()


def _with_recent(out: pd.DataFrame, recent: pd.DataFrame, t: pd.Timestamp, customers: pd.DataFrame) -> pd.DataFrame:
    """The 28-day (and 7-day) activity columns and the age group."""
    active = out.index
    action = recent["action"].to_numpy()
    flags = recent[["customer", "session_id"]].assign(
        view=action == "view", add=action == "add_to_cart", order=action == "purchase",
        last7=(recent["ts"] >= t - HORIZON).to_numpy(), day=recent["ts"].dt.floor("D"))
    by = flags.groupby("customer")
    counts = by[["view", "add", "last7"]].sum()
    out["events_28d"] = by.size().reindex(active, fill_value=0)
    out["events_7d"] = counts["last7"].reindex(active, fill_value=0)
    out["sessions_28d"] = by["session_id"].nunique().reindex(active, fill_value=0)
    out["views_28d"] = counts["view"].reindex(active, fill_value=0)
    out["adds_28d"] = counts["add"].reindex(active, fill_value=0)
    sessions = flags.groupby(["customer", "session_id"])[["add", "order"]].max()
    sessions["abandoned"] = sessions["add"] & ~sessions["order"]
    per = sessions.groupby(level="customer")[["add", "order", "abandoned"]].sum().reindex(active, fill_value=0)
    out["cart_sessions_28d"] = per["add"]
    out["order_sessions_28d"] = per["order"]
    carts = out["cart_sessions_28d"]
    out["cart_abandon_share_28d"] = (per["abandoned"] / carts.where(carts > 0)).fillna(0.0)
    orders = recent[action == "purchase"]
    out["orders_28d"] = _distinct_orders(orders).reindex(active, fill_value=0)
    out["revenue_28d"] = (orders["price"] * orders["quantity"]).groupby(orders["customer"]).sum().reindex(
        active, fill_value=0.0)
    out["active_days_28d"] = by["day"].nunique().reindex(active, fill_value=0)
    out["age_group"] = customers["age_group"].reindex(active).fillna("unknown").astype(str).to_numpy()
    return out


def labels_at(events: pd.DataFrame, customers: pd.Index, at: datetime) -> pd.DataFrame:
    """``purchase_7d`` and ``churn_7d`` of ``customers`` from the 7 days from ``at``."""
    t = pd.Timestamp(at)
    after = events[(events["ts"] >= t) & (events["ts"] < t + HORIZON)]
    seen = pd.Index(after["customer"].unique())
    bought = pd.Index(after.loc[after["action"] == "purchase", "customer"].unique())
    return pd.DataFrame({"purchase_7d": customers.isin(bought).astype(int),
                         "churn_7d": (~customers.isin(seen)).astype(int)}, index=customers)


def training_frame(events: pd.DataFrame, customers: pd.DataFrame, *, last_cutoff: datetime,
                   weeks: int, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows of every weekly cut-off to ``last_cutoff`` (whose labels must be complete: ``last_cutoff`` at
    least 7 days before the data ends), with ``customer``, ``time`` (the cut-off), features and labels."""
    parts = []
    for t in cutoffs(last_cutoff, weeks):
        rows = features_at(events, customers, t, sessions)
        if rows.empty:
            continue
        rows = rows.join(labels_at(events, rows.index, t))
        parts.append(rows.reset_index().assign(time=t))
    if not parts:
        return pd.DataFrame(columns=["customer", "time", *FEATURES, *TARGETS])
    frame = pd.concat(parts, ignore_index=True)
    frame["customer"] = frame["customer"].astype(np.int64)
    return frame
