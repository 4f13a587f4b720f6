"""Retention (docs/metrics.md): first-order-month cohorts and their retention matrix, cumulative revenue per
cohort customer, returning customer rate, repeat purchase rate, orders per customer and the median
time between orders.

Read from the retention rollups (``insights.retention``) and, for the returning rate, the day ×
customer rollup. Filters: the date range picks the cohorts (first-order months it overlaps; each row
then runs to the newest month with an order) and the period of the returning customer rate; the age
group and the RFM segment pick the customers (a segment's rows are kept with the RFM scores,
``insights.segment_store``; computed from its customers' order days only as the tests' reference:
``insights.selectors.segment_retention``).
Repeat purchase rate, orders per customer and time between orders are all time. Actions and category
do not apply: a cohort is about a customer's orders of anything (the answer lists what was ignored).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Max, Model, QuerySet, Sum

from insights.filters import MetricFilter, store_today
from insights.kept_models import SegmentBuyerOrders, SegmentCohortMonthly, SegmentOrderGap
from insights.models import BuyerOrders, CohortMonthly, CustomerFirstOrder, OrderGap
from insights.retention import month_of, months_between
from insights.rollup_store import sql_param_adapter
from insights.selectors._common import as_count, as_money, customer_days
from insights.selectors.freshness import data_first_day
from insights.selectors.rfm import segment_customer_pks, segment_rows
from insights.selectors.segment_days import segment_rollup_applies
from insights.selectors.segment_retention import segment_month_one_rows, segment_retention_rows
from insights.stats import median_of_counts, rate, wilson_interval

DEFAULT_MONTHS = 12  # cohorts shown when the query names no dates
MIN_COHORT_CUSTOMERS = 20  # a smaller cohort's shares swing by chance: flagged
MIN_BUYERS = 20
ORDER_BUCKETS = 5  # orders per customer: 1, 2, 3, 4, 5+

Row = dict[str, Any]


def cohort_filter(f: MetricFilter, params: Mapping) -> MetricFilter:
    """The cohorts page's filter: without dates in the query, the last ``DEFAULT_MONTHS`` months (a 30-day
    default would show one or two cohorts)."""
    if params.get("start") or params.get("end"):
        return f
    today = store_today()
    first = month_of(today)
    for _ in range(DEFAULT_MONTHS - 1):
        first = month_of(first - dt.timedelta(days=1))
    return replace(f, start=first, end=today)


# The retention rollups and their twins kept per RFM segment (``insights.segment_store``).
_SEGMENT_TWINS: dict[type[Model], type[Model]] = {CohortMonthly: SegmentCohortMonthly,
                                                  BuyerOrders: SegmentBuyerOrders, OrderGap: SegmentOrderGap}


class _Figures:
    """The retention rollups' rows for the filter's customers: from the tables (age group or everyone),
    for an RFM segment from the rows kept with the segments or (the reference, ``segment_rollup_applies``
    false) computed from its customers' order days."""

    def __init__(self, f: MetricFilter, segment_pks: list[int] | None) -> None:
        self.f = f
        self.kept_segment = segment_pks is not None and segment_rollup_applies(f)
        self.segmented = segment_pks is not None and not self.kept_segment
        self._segment: dict[str, list[tuple]] = {}

    def _segment_rows(self, name: str) -> list[tuple]:
        """One kind of the segment's rows, computed when first asked for (the cohort matrix alone needs one)."""
        if name not in self._segment:
            self._segment[name] = segment_retention_rows(segment_rows(self.f), kinds=(name,))[name]
        return self._segment[name]

    def _rows(self, name: str, model: type[Model], keys: tuple[str, ...], counters: tuple[str, ...],
              cohorts: tuple[dt.date | None, dt.date | None] = (None, None)) -> list[tuple]:
        """(*keys, *sums of counters) rows over the filter's customers; ``cohorts``: first and last cohort."""
        low, high = cohorts
        if self.segmented:
            return [row for row in self._segment_rows(name)
                    if (low is None or row[0] >= low) and (high is None or row[0] <= high)]
        qs = model._default_manager.all()
        if self.kept_segment:
            qs = _SEGMENT_TWINS[model]._default_manager.filter(segment=self.f.segment)
        if self.f.age_group:
            qs = qs.filter(age_group=self.f.age_group)
        if low is not None:
            qs = qs.filter(cohort__gte=low)
        if high is not None:
            qs = qs.filter(cohort__lte=high)
        qs = qs.values(*keys).annotate(**{f"s_{c}": Sum(c) for c in counters})
        return [tuple(r[k] for k in keys) + tuple(r[f"s_{c}"] for c in counters) for r in qs]

    def cohort_rows(self, first: dt.date | None, last: dt.date | None) -> list[tuple]:
        return self._rows("cohort_months", CohortMonthly, ("cohort", "month"), ("customers", "orders", "revenue"),
                          (first, last))

    def buyer_rows(self) -> list[tuple]:
        return self._rows("buyer_orders", BuyerOrders, ("orders",), ("customers",))

    def gap_rows(self) -> list[tuple]:
        return self._rows("order_gaps", OrderGap, ("days",), ("gaps",))


def _newest_order_month() -> dt.date | None:
    return CohortMonthly.objects.filter(customers__gt=0).aggregate(m=Max("month"))["m"]


def _cohort_matrix(rows: Iterable[tuple], newest: dt.date | None) -> list[Row]:
    """One row per cohort: size and, for each month N after it up to ``newest``, the share ordering
    (Wilson 95%) and the cumulative revenue per cohort customer."""
    by_cohort: dict[dt.date, dict[int, tuple[int, int, Decimal]]] = defaultdict(dict)
    for cohort, month, customers, orders, revenue in rows:
        by_cohort[cohort][months_between(cohort, month)] = (as_count(customers), as_count(orders),
                                                            Decimal(revenue or 0))
    current = month_of(store_today())
    out = []
    for cohort in sorted(by_cohort):
        cells = by_cohort[cohort]
        size = cells.get(0, (0, 0, Decimal(0)))[0]
        if size <= 0:
            continue
        last = months_between(cohort, max(newest or cohort, cohort))
        cumulative = Decimal(0)
        row_cells = []
        for n in range(last + 1):
            customers, orders, revenue = cells.get(n, (0, 0, Decimal(0)))
            cumulative += revenue
            low, high = wilson_interval(customers, size)
            month = _month_plus(cohort, n)
            row_cells.append({"n": n, "month": month.isoformat()[:7], "customers": customers, "orders": orders,
                              "retention": rate(customers, size), "ci_low": low, "ci_high": high,
                              "revenue": as_money(revenue), "cumulative_revenue_per_customer":
                              as_money(cumulative / size), "partial": month >= current})
        note = (f"fewer than {MIN_COHORT_CUSTOMERS} customers: its shares swing by chance"
                if size < MIN_COHORT_CUSTOMERS else None)
        out.append({"cohort": cohort.isoformat()[:7], "customers": size, "cells": row_cells, "note": note})
    return out


def _month_plus(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _proportion(k: int, n: int, reason: str | None) -> Row:
    low, high = wilson_interval(k, n)
    return {"rate": rate(k, n), "ci_low": low, "ci_high": high, "reason": reason}


def returning_customer_rate(f: MetricFilter, segment_pks: list[int] | None) -> Row:
    """Customers with an order in the period who had ordered before it, or twice in it / customers with
    an order in the period (orders placed by the session's start day)."""
    # revenue > 0: the buyers' partial index (an order of free items only is not counted here)
    days = customer_days(f, segment_pks).filter(revenue__gt=0, orders__gt=0)
    buyers, returning = _buyers_returning(days, f.start)
    first = data_first_day()
    reason = None
    if not buyers:
        reason = "no customer ordered in this period"
    elif buyers < MIN_BUYERS:
        reason = f"only {buyers} customers ordered in this period: too few to rely on"
    elif f.start is None or first is None or first >= f.start:
        reason = "no history before this period: only customers ordering twice in it count as returning"
    return {**_proportion(returning, buyers, reason), "returning": returning, "customers": buyers}


def _buyers_returning(days: QuerySet, start: dt.date | None) -> tuple[int, int]:
    """(buyers, returning buyers) of these order days, counted in the database in one statement: a
    buyer returns with two orders in them or a first order before ``start``."""
    try:
        per_customer, params = days.values("customer_id").annotate(o=Sum("orders")).query.sql_with_params()
    except EmptyResultSet:  # a segment without customers
        return 0, 0
    earlier, earlier_params = "", []
    if start is not None:
        first_orders = connection.ops.quote_name(CustomerFirstOrder._meta.db_table)
        earlier = f" OR b.customer_id IN (SELECT customer_id FROM {first_orders} WHERE day < %s AND customers > 0)"
        adapt = sql_param_adapter()
        earlier_params = [adapt(start) if adapt else start]
    sql = (f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN b.o >= 2{earlier} THEN 1 ELSE 0 END), 0) "
           f"FROM ({per_customer}) b")
    with connection.cursor() as cur:
        cur.execute(sql, [*earlier_params, *params])
        buyers, returning = cur.fetchone()
    return int(buyers), int(returning)


def _buyer_figures(figures: _Figures) -> tuple[Row, list[Row]]:
    by_orders: dict[int, int] = defaultdict(int)
    for orders, customers in figures.buyer_rows():
        by_orders[int(orders)] += as_count(customers)
    buyers = sum(by_orders.values())
    repeat = sum(n for orders, n in by_orders.items() if orders >= 2)
    reason = None if buyers >= MIN_BUYERS else (f"only {buyers} buyers: too few to rely on" if buyers
                                                else "no orders yet")
    distribution = [{"orders": str(i) if i < ORDER_BUCKETS else f"{ORDER_BUCKETS}+",
                     "customers": sum(n for o, n in by_orders.items() if (o == i if i < ORDER_BUCKETS
                                                                          else o >= ORDER_BUCKETS))}
                    for i in range(1, ORDER_BUCKETS + 1)]
    return {**_proportion(repeat, buyers, reason), "repeat_buyers": repeat, "buyers": buyers}, distribution


def _time_between_orders(figures: _Figures) -> Row:
    counts: dict[int, int] = defaultdict(int)
    for days, gaps in figures.gap_rows():
        counts[int(days)] += as_count(gaps)
    total = sum(counts.values())
    median = median_of_counts([(float(d), n) for d, n in counts.items()])
    reason = None if total else "no customer has ordered twice yet"
    return {"median_days": median, "gaps": total, "reason": reason}


def _cohorts(f: MetricFilter, figures: _Figures) -> list[Row]:
    first = month_of(f.start) if f.start else None
    last = month_of(f.end) if f.end else None
    return _cohort_matrix(figures.cohort_rows(first, last), _newest_order_month())


def cohort_matrix(f: MetricFilter) -> list[Row]:
    """The cohorts of the filter's months (``cohorts_stats``'s ``cohorts``) alone."""
    return _cohorts(f, _Figures(f, segment_customer_pks(f)))


def cohort_month_one(f: MetricFilter) -> list[Row]:
    """``cohort_matrix(f)`` with only its month-0 and month-1 customers right (orders, revenue and the later
    months' customers left at 0): what the cohort comparison reads. A segment's from those two months'
    rows alone: of the kept rows, or (the reference) from its customers' order days
    (``segment_month_one_rows``), not from every month of its customers' history."""
    if not f.segment:
        return cohort_matrix(f)
    first = month_of(f.start) if f.start else None
    last = month_of(f.end) if f.end else None
    if segment_rollup_applies(f):
        rows = [(cohort, month, customers, 0, 0) for cohort, month, customers, _, _ in
                _Figures(f, []).cohort_rows(first, last) if months_between(cohort, month) <= 1 and customers]
    else:
        rows = segment_month_one_rows(segment_rows(f), first, last)
    return _cohort_matrix(rows, _newest_order_month())


def cohorts_stats(f: MetricFilter) -> dict[str, Any]:
    """The retention page: the cohort matrix for the filter's cohorts and the store's retention rates."""
    segment_pks = segment_customer_pks(f)
    figures = _Figures(f, segment_pks)
    cohorts = _cohorts(f, figures)
    repeat, distribution = _buyer_figures(figures)
    ignored = [name for name, value in (("action", f.actions), ("category", f.category)) if value]
    return {"cohorts": cohorts, "max_months": max((len(c["cells"]) for c in cohorts), default=0),
            "returning_customer_rate": returning_customer_rate(f, segment_pks),
            "repeat_purchase_rate": repeat, "orders_per_customer": distribution,
            "time_between_orders": _time_between_orders(figures),
            "ignored_filters": ignored}
