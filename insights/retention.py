"""Retention rollups from a customer's order days (docs/metrics.md). PURE (no ORM).

A customer's figures here depend on all their orders at once (the cohort is the month of the first
one; a gap lies between two), so they are not sums of single sessions' contributions. They are a
function of the customer's *order days* — the ``customers_daily`` rows with orders, which are such
sums — and are maintained the same way as everything else: when a re-derivation changes a
customer's order days, the customer's old retention contribution goes out and the new one in
(``insights.services``); the rebuild adds every customer's once.

====================  ==================================================  ======================
rollup                key                                                 counters
====================  ==================================================  ======================
``cohort_months``     first-order month × order month × age_group         customers, orders, revenue
``buyer_orders``      number of orders (all time) × age_group             customers
``order_gaps``        days between consecutive orders × age_group         gaps
``first_orders``      customer × store day of their first order           customers (1)
====================  ==================================================  ======================

Definitions: a customer's **cohort** is the store month of their first order; they count in
(cohort, month) when they ordered in that month. **Time between orders**: days between consecutive
orders by store day (two orders on one day are 0 days apart).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from insights.contributions import Contributions

# The revenue the cohorts' lifetime value adds up: net of the order days' discounts and of refunds
# counted on those days (customers_daily columns; docs/money.md). A refund dated on a day with no
# order of that customer is not in the cohort curves (it is in every revenue figure elsewhere).
COHORT_MONEY_COLUMNS = ("revenue", "discounts", "refunds")


def order_day_value(counters: Mapping[str, Any]) -> Any:
    """An order day's net revenue from its customers_daily counters (gross − discounts − refunds)."""
    return counters.get("revenue", 0) - counters.get("discounts", 0) - counters.get("refunds", 0)

OrderDay = tuple[date, int, Decimal]  # (store day, orders, revenue) with orders > 0
OrderDays = Mapping[int, Sequence[OrderDay]]  # customer pk → their order days, any order


def month_of(day: date) -> date:
    return day.replace(day=1)


def months_between(first: date, later: date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def order_days_from_rows(rows: Iterable[tuple[int, date, Any, Any]]) -> dict[int, list[OrderDay]]:
    """(customer, day, orders, revenue) rows → order days per customer (rows without orders left out)."""
    out: dict[int, list[OrderDay]] = {}
    for customer, day, orders, revenue in rows:
        if orders > 0:
            out.setdefault(customer, []).append((day, int(orders), Decimal(revenue or 0)))
    return out


def order_gaps(days: Sequence[OrderDay]) -> list[int]:
    """The days between each order and the next (sorted order days)."""
    gaps: list[int] = []
    previous: date | None = None
    for day, orders, _revenue in sorted(days):
        if previous is not None:
            gaps.append((day - previous).days)
        gaps.extend([0] * (orders - 1))
        previous = day
    return gaps


def add_retention_contributions(out: Contributions, order_days: OrderDays, *, age_of: Mapping[int, str],
                                sign: int = 1) -> None:
    """Each customer's share of the retention rollups; ``sign=-1`` takes an old one out."""
    for customer, days in order_days.items():
        if not days:
            continue
        age = age_of.get(customer, "unknown")
        ordered = sorted(days)
        cohort = month_of(ordered[0][0])
        out["first_orders"][(customer, ordered[0][0])]["customers"] += sign
        by_month: dict[date, list] = {}
        for day, orders, revenue in ordered:
            tally = by_month.setdefault(month_of(day), [0, Decimal("0")])
            tally[0] += orders
            tally[1] += revenue
        for month, (orders, revenue) in by_month.items():
            counters = out["cohort_months"][(cohort, month, age)]
            counters["customers"] += sign
            counters["orders"] += orders * sign
            if revenue:
                counters["revenue"] += revenue * sign
        total = sum(orders for _day, orders, _revenue in ordered)
        out["buyer_orders"][(total, age)]["customers"] += sign
        for gap in order_gaps(ordered):
            out["order_gaps"][(gap, age)]["gaps"] += sign


def changed_order_customers(contributions: Contributions) -> set[int]:
    """Customers whose order days a set of session contributions changes (orders or revenue on a day):
    only theirs need their retention contribution redone."""
    return {customer for (_day, customer), counters in contributions.get("customers_daily", {}).items()
            if counters.get("orders") or any(counters.get(c) for c in COHORT_MONEY_COLUMNS)}
