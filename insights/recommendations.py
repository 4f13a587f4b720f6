"""Insight sentences that recommend: each says what the figures show and one concrete,
computed action, with its evidence link. Built on the retention, affinity and cart figures; "highest",
"better" and "worse" are claimed only where Wilson 95% intervals separate (``insights.sentences`` holds
the period object and the older sentences)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from django.db.models import Count, Q, Sum

from customers.models import Customer
from insights.filters import MetricFilter, store_today
from insights.models import Cart, CartState
from insights.retention import month_of
from insights.selectors._common import as_money, of_age_group
from insights.selectors.affinity import MIN_PAIR_BASKETS, affinity_stats
from insights.selectors.cohorts import DEFAULT_MONTHS, cohort_month_one
from insights.selectors.rfm import segment_rows
from insights.stats import wilson_interval

MIN_BASKETS_FOR_PAIR_CLAIM = 20  # orders in the period before a pair is called the best
RECOVERY_DAYS = 7
RECOVERY_MIN_CARTS = 5  # fewer abandoned carts in the week: not worth a sentence

Row = dict[str, Any]


def percent(x: float) -> str:
    return f"{x * 100:.1f}%".replace(".0%", "%")


def _months_back(month: dt.date, n: int) -> dt.date:
    for _ in range(n):
        month = month_of(month - dt.timedelta(days=1))
    return month


def cohort_comparison(f: MetricFilter, *, min_customers: int) -> Row | None:
    """The newest cohort whose month 1 is over, against the (up to 3) cohorts before it, pooled: month-1
    retention of each with a Wilson 95% interval; None without enough customers or a finished month 1."""
    end = f.end or store_today()
    window = replace(f, start=_months_back(month_of(end), DEFAULT_MONTHS - 1), end=end)
    cohorts = [c for c in cohort_month_one(window)
               if len(c["cells"]) > 1 and not c["cells"][1]["partial"]]
    if len(cohorts) < 2:
        return None
    latest, before = cohorts[-1], cohorts[-4:-1]
    size, back = latest["customers"], latest["cells"][1]["customers"]
    pooled_size = sum(c["customers"] for c in before)
    pooled_back = sum(c["cells"][1]["customers"] for c in before)
    if size < min_customers or pooled_size < min_customers:
        return None
    low, high = wilson_interval(back, size)
    p_low, p_high = wilson_interval(pooled_back, pooled_size)
    assert low is not None and high is not None and p_low is not None and p_high is not None
    if low > p_high:
        verdict = "better"
    elif high < p_low:
        verdict = "worse"
    else:
        return None  # the intervals overlap: no claim
    return {"cohort": latest["cohort"], "customers": size, "returned": back, "rate": back / size,
            "before": [c["cohort"] for c in before], "before_rate": pooled_back / pooled_size, "verdict": verdict}


def best_pair(f: MetricFilter) -> Row | None:
    """The pair bought together most above chance (lift > 1), from enough orders."""
    orders = affinity_stats(f, min_baskets=MIN_PAIR_BASKETS, limit=1, kinds=("orders",))["orders"]
    if orders["baskets"] < MIN_BASKETS_FOR_PAIR_CLAIM or not orders["pairs"]:
        return None
    pair = orders["pairs"][0]
    if not pair["lift"] or pair["lift"] <= 1:
        return None
    return pair


def abandoned_recently(f: MetricFilter, segment_pks: list[int] | None) -> Row:
    """Carts abandoned in the ``RECOVERY_DAYS`` store days ending with the filter's last day: how many,
    their value left, and how many have a customer with an e-mail address (the recovery list).
    ``segment_pks``: ``segment_customer_pks(f)``, the filter's segment customers (None: no segment)."""
    end = f.end or store_today()
    week = MetricFilter(start=end - dt.timedelta(days=RECOVERY_DAYS - 1), end=end, age_group=f.age_group)
    lo, hi = week.utc_bounds()
    carts = of_age_group(Cart.objects.filter(state=CartState.ABANDONED, closed_at__gte=lo, closed_at__lt=hi), week)
    if segment_pks is not None:  # the segment's customers as a subquery: a semi-join, not thousands of parameters
        carts = carts.filter(customer_id__in=segment_rows(f).values("customer_id"))
    elif f.channel:  # a segment's figures ignore the channel (insights.selectors.channel_scope)
        carts = carts.filter(channel=f.channel)
    # counts of columns in the index, the customers without an address as a subquery (not a join to every
    # customer): the carts are read from their (state, closed_at) index alone (docs/metrics.md#insight-sentences)
    no_email = Customer.objects.filter(email="").values("pk")
    row = carts.aggregate(n=Count("*"), value=Sum("revenue_left"),
                          reachable=Count("customer_id", filter=~Q(customer_id__in=no_email)))
    return {"carts": row["n"] or 0, "value": as_money(row["value"]), "reachable": row["reachable"] or 0,
            "start": week.start, "end": end}
