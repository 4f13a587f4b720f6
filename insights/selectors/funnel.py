"""The session funnel (view → add to cart → checkout → purchase), overall and broken down."""

from __future__ import annotations

from typing import Any

from customers.models import AgeGroup
from insights.customer_scopes import scoped_pks
from insights.filters import MetricFilter
from insights.selectors._common import (
    as_count,
    as_money,
    category_session_days,
    channel_cut,
    column_sums,
    customer_days,
    segment_sums_by_age_group,
    session_days,
    sums_by,
)
from insights.selectors.rfm import segment_customer_pks
from insights.selectors.segment_days import segment_age_sums, segment_days, segment_rollup_applies
from insights.stats import rate

FUNNEL = (("view", "funnel_view"), ("add_to_cart", "funnel_cart"), ("checkout", "funnel_checkout"),
          ("purchase", "funnel_purchase"))
DROPOFF = {"add_to_cart": "dropoff_cart", "checkout": "dropoff_checkout"}
FUNNEL_COLUMNS = ("funnel_view", "funnel_cart", "funnel_checkout", "funnel_purchase", "dropoff_cart",
                  "dropoff_checkout")
BREAKDOWNS = ("age_group", "category")


def _funnel_steps(row: dict[str, Any]) -> list[dict[str, Any]]:
    steps = []
    first = row.get("funnel_view") or 0
    previous = None
    for step, column in FUNNEL:
        n = as_count(row.get(column))
        steps.append({
            "step": step, "sessions": n,
            "rate_from_previous": None if previous is None else rate(n, previous),
            "rate_from_first": rate(n, first),
            "dropoff_revenue": as_money(row.get(DROPOFF[step], 0)) if step in DROPOFF else 0.0,
        })
        previous = n
    return steps


def _age_group_rows(f: MetricFilter, segment_pks: list[int] | None) -> list[dict[str, Any]]:
    if segment_pks is not None and segment_rollup_applies(f):
        rows = [dict(sums, group=age_group) for age_group, sums in segment_age_sums(f, FUNNEL_COLUMNS).items()]
    elif segment_pks is not None:
        by_age = segment_sums_by_age_group(customer_days(f, segment_pks), segment_pks, FUNNEL_COLUMNS)
        rows = [dict(sums, group=age_group) for age_group, sums in by_age.items()]
    else:
        rows = [dict(r, group=r["age_group"]) for r in sums_by(session_days(f), "age_group", FUNNEL_COLUMNS)]
    order = {g: i for i, g in enumerate(AgeGroup.values)}
    return sorted(rows, key=lambda r: order.get(r["group"], 99))


def _category_rows(f: MetricFilter) -> list[dict[str, Any]]:
    return [dict(r, group=r["category"])
            for r in sums_by(category_session_days(f), "category", FUNNEL_COLUMNS).order_by("category")]


def funnel_stats(f: MetricFilter, breakdown: str | None = None) -> dict[str, Any]:
    """``{"steps": [...], "breakdown": None | {"by", "groups": [{"group", "steps"}]}}``; ``breakdown``:
    None, "age_group" or "category" (anything else is a ValueError)."""
    if breakdown not in (None, *BREAKDOWNS):
        raise ValueError("breakdown must be age_group or category")
    segment_pks = scoped_pks(f, segment_customer_pks(f))  # an experiment's visitors: like a segment
    f = channel_cut(f, segment_pks)
    if segment_pks is not None:
        days = segment_days(f) if segment_rollup_applies(f) else customer_days(f, segment_pks)
        total = column_sums(days, FUNNEL_COLUMNS)
    else:
        total = column_sums(session_days(f), FUNNEL_COLUMNS)
    out: dict[str, Any] = {"steps": _funnel_steps(total), "breakdown": None}
    if breakdown:
        # By category has no customer dimension: an experiment's visitors cannot be cut out of it.
        rows = _age_group_rows(f, segment_pks) if breakdown == "age_group" else [] if f.experiment \
            else _category_rows(f)
        out["breakdown"] = {"by": breakdown, "groups": [{"group": r["group"], "steps": _funnel_steps(r)}
                                                        for r in rows]}
    return out
