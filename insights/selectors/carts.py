"""Abandoned carts: closed carts over time, rates by age group and category, values, the recovery list.

Names and emails in the recovery list are returned as stored: masking for roles without
VIEW_PERSONAL_DATA happens where the output leaves the server (``insights.shaping``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from customers.models import AgeGroup
from insights.contributions import CART_VALUE_EDGES
from insights.customer_scopes import scoped_pks
from insights.filters import MetricFilter
from insights.models import Cart, CartState
from insights.selectors._common import (
    CLOSED_CART_COLUMNS,
    as_count,
    as_money,
    category_rows,
    channel_cut,
    closed_carts,
    customer_days,
    iso_or_none,
    of_age_group,
    of_category_sessions,
    period_sums_by,
    segment_sums_by_age_group,
    session_days,
    sums_by,
    within_utc_hours,
)
from insights.selectors.rfm import segment_customer_pks, segment_rows
from insights.selectors.segment_days import segment_age_sums, segment_days, segment_rollup_applies
from insights.stats import rate, wilson_interval

CART_COLUMNS = (*CLOSED_CART_COLUMNS, "revenue_left")
Sums = dict[str, Any]


def _rate_row(abandoned: int, carts: int) -> dict[str, Any]:
    low, high = wilson_interval(abandoned, carts)
    return {"carts": carts, "abandoned": abandoned, "rate": rate(abandoned, carts), "ci_low": low, "ci_high": high}


def _closed_by_day_and_age(f: MetricFilter,
                           segment_pks: list[int] | None) -> tuple[dict[dt.date, Sums], dict[str, Sums], Any]:
    """Closed carts per day and per age group, and the revenue left in abandoned carts."""
    if segment_pks is not None and segment_rollup_applies(f):
        days = segment_days(f)
        by_age = segment_age_sums(f, CLOSED_CART_COLUMNS)
    elif segment_pks is not None:
        days = customer_days(f, segment_pks)
        by_age = segment_sums_by_age_group(days, segment_pks, CLOSED_CART_COLUMNS)
    else:
        days = session_days(f)
        by_age = defaultdict(lambda: defaultdict(int))
        for row in period_sums_by(f, "session_days", lambda qs: of_category_sessions(qs, f), "age_group",
                                  CLOSED_CART_COLUMNS):
            by_age[row["age_group"]].update({c: row[c] for c in CLOSED_CART_COLUMNS})
    by_day = {row["day"]: row for row in sums_by(days, "day", CART_COLUMNS)}
    return by_day, by_age, sum(row["revenue_left"] or 0 for row in by_day.values())



def _over_time(by_day: dict[dt.date, Sums]) -> list[dict[str, Any]]:
    return [{"t": day.isoformat(), "converted": as_count(r["carts_converted"]),
             "abandoned": as_count(r["carts_abandoned"]), "emptied": as_count(r["carts_emptied"]),
             "abandonment_rate": rate(as_count(r["carts_abandoned"]), closed_carts(r))}
            for day, r in sorted(by_day.items())]


def _by_age_group(by_age: dict[str, Sums]) -> list[dict[str, Any]]:
    return [{"age_group": g, **_rate_row(by_age[g]["carts_abandoned"], closed_carts(by_age[g]))}
            for g in AgeGroup.values if g in by_age and closed_carts(by_age[g])]


def _by_category(f: MetricFilter) -> list[dict[str, Any]]:
    """Closed carts per category (the day × category session rows; whole months from their copy)."""
    rows = period_sums_by(f, "session_days", lambda qs: category_rows(qs, f), "category", CLOSED_CART_COLUMNS)
    return [{"category": r["category"], **_rate_row(as_count(r["carts_abandoned"]), closed_carts(r))}
            for r in sorted(rows, key=lambda r: r["category"]) if closed_carts(r)]


def _value_distribution(f: MetricFilter) -> list[dict[str, Any]]:
    """Abandoned carts per value bucket (``CART_VALUE_EDGES``; the last bucket is open; whole months from
    the cart-value rollup's copy)."""
    rows = period_sums_by(f, "cart_values", lambda qs: of_category_sessions(qs, f), "bucket", ["carts"])
    counts = {r["bucket"]: r["carts"] for r in rows}
    return [{"bucket_low": edge, "bucket_high": CART_VALUE_EDGES[i + 1] if i + 1 < len(CART_VALUE_EDGES) else None,
             "carts": as_count(counts.get(i))} for i, edge in enumerate(CART_VALUE_EDGES)]


def _recent_abandoned(f: MetricFilter, segment_pks: list[int] | None, limit: int) -> list[dict[str, Any]]:
    """The recovery list: the period's latest abandoned carts with their customers."""
    carts = of_age_group(within_utc_hours(Cart.objects.filter(state=CartState.ABANDONED), f, field="closed_at"), f)
    if segment_pks is not None:  # a segment alone as a subquery (a semi-join, a few probes), not its pks
        carts = carts.filter(customer_id__in=segment_rows(f).values("customer_id") if f.experiment is None
                             else segment_pks)
    if f.channel:
        carts = carts.filter(channel=f.channel)
    return [{"cart_pk": k.pk, "customer_pk": k.customer_id, "customer_id": k.customer.external_id,
             "customer_name": k.customer.name, "customer_email": k.customer.email,
             "value": as_money(k.value), "items": k.items, "abandoned_at": iso_or_none(k.closed_at)}
            for k in carts.select_related("customer").order_by("-closed_at", "-pk")[:limit]]


def carts_stats(f: MetricFilter, *, recent: int = 20) -> dict[str, Any]:
    segment_pks = scoped_pks(f, segment_customer_pks(f))  # an experiment's visitors: like a segment
    f = channel_cut(f, segment_pks)
    by_day, by_age, revenue_left = _closed_by_day_and_age(f, segment_pks)
    scoped = f.experiment is not None  # category and value rollups have no customer: not cut, left out
    return {"over_time": _over_time(by_day), "revenue_left": as_money(revenue_left),
            "value_distribution": [] if scoped else _value_distribution(f), "by_age_group": _by_age_group(by_age),
            "by_category": [] if scoped else _by_category(f),
            "recent_abandoned": _recent_abandoned(f, segment_pks, recent)}
