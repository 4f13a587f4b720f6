"""The retention rollups' rows for an RFM segment's customers (docs/metrics.md#retention), computed in SQL
from their order days (the day × customer rows with orders), as ``insights.retention`` computes each
customer's contribution in Python (its reference): cohort = the month of the first order day; a customer
counts once in (cohort, month) when they ordered in that month; orders per customer all time; gaps
between consecutive order days, and 0 for each further order on one day. Window functions over one
customer's rows: PostgreSQL and SQLite alike. The panels read the same rows kept per segment with the
RFM scores (``insights.segment_store``); this is their reference in the tests and serves a segment
filter combined with an A/B experiment's."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils.dateparse import parse_date

from insights.models import CustomerDaily
from insights.rollup_store import sql_param_adapter

CENT = Decimal("0.01")

_DAYS = """
WITH d AS (
  SELECT customer_id, day, orders, revenue - discounts - refunds AS net,
    MIN(day) OVER (PARTITION BY customer_id) AS first_day,
    LAG(day) OVER (PARTITION BY customer_id ORDER BY day) AS previous_day
  FROM {daily} WHERE orders > 0 AND customer_id IN ({customers})
)"""

# The cohorts from the customers' order months (a customer's first is its cohort: the month of its first
# order day), not from every order day with its window functions.
_COHORTS = """
WITH m AS (
  SELECT customer_id, {day_month} AS order_month, SUM(orders) AS orders, SUM(revenue - discounts - refunds) AS net
  FROM {daily} WHERE orders > 0 AND customer_id IN ({customers}) GROUP BY customer_id, {day_month}
)
SELECT cohort_month, order_month, COUNT(*), SUM(orders), SUM(net) FROM (
  SELECT order_month, orders, net, MIN(order_month) OVER (PARTITION BY customer_id) AS cohort_month FROM m
) x GROUP BY cohort_month, order_month"""

_BUYERS = _DAYS + """
SELECT orders, COUNT(*) FROM (SELECT customer_id, SUM(orders) AS orders FROM d GROUP BY customer_id) b
GROUP BY orders"""

_GAPS = _DAYS + """
SELECT gap, SUM(n) FROM (
  SELECT {gap} AS gap, 1 AS n FROM d WHERE previous_day IS NOT NULL
  UNION ALL SELECT 0, orders - 1 FROM d WHERE orders > 1
) g GROUP BY gap"""


# Month 0 and month 1 of each cohort alone (the cohort comparison's figures): each customer's first order
# month from a MIN per customer over its order days, then whether it ordered in the month after (a probe
# of its order days), instead of every customer × month of its history.
_MONTH_ONE = """
WITH f AS (
  SELECT customer_id, {first_month} AS cohort_month FROM {daily}
  WHERE orders > 0 AND customer_id IN ({customers}) GROUP BY customer_id
)
SELECT cohort_month, COUNT(*), SUM(CASE WHEN EXISTS (
  SELECT 1 FROM {daily} n WHERE n.customer_id = f.customer_id AND n.orders > 0
    AND n.day >= {next_month} AND n.day < {month_after}) THEN 1 ELSE 0 END)
FROM f{within} GROUP BY cohort_month"""


def _month(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"date({column}, 'start of month')"


def _months_on(column: str, n: int) -> str:
    if connection.vendor == "postgresql":
        return f"CAST({column} + interval '{n} month' AS date)"
    return f"date({column}, '+{n} month')"


def _gap() -> str:
    if connection.vendor == "postgresql":
        return "day - previous_day"
    return "CAST(julianday(day) - julianday(previous_day) AS INTEGER)"


def _run(template: str, customers: QuerySet, after: tuple = (), **parts: str) -> list[tuple]:
    sub, params = customers.values("customer_id").query.sql_with_params()
    sql = template.format(daily=connection.ops.quote_name(CustomerDaily._meta.db_table), customers=sub, **parts)
    with connection.cursor() as cur:
        cur.execute(sql, [*params, *after])
        return cur.fetchall()


def _cents(value: Any) -> Decimal:
    """A sum of money as the money columns hold it (SQLite sums them as floating point)."""
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _date(value: Any) -> Any:
    return parse_date(value) if isinstance(value, str) else value


KINDS = ("cohort_months", "buyer_orders", "order_gaps")


def segment_retention_rows(customers: QuerySet, kinds: tuple[str, ...] = KINDS) -> dict[str, list[tuple]]:
    """``{"cohort_months": [(cohort, month, customers, orders, revenue)], "buyer_orders": [(orders,
    customers)], "order_gaps": [(days, gaps)]}`` over ``customers`` (a queryset with ``customer_id``);
    only the ``kinds`` asked for (one statement each)."""
    out: dict[str, list[tuple]] = {}
    if "cohort_months" in kinds:
        cohorts = _run(_COHORTS, customers, day_month=_month("day"))
        out["cohort_months"] = [(_date(c), _date(m), n, o, _cents(r)) for c, m, n, o, r in cohorts]
    if "buyer_orders" in kinds:
        out["buyer_orders"] = _run(_BUYERS, customers)
    if "order_gaps" in kinds:
        out["order_gaps"] = _run(_GAPS, customers, gap=_gap())
    return out


def segment_month_one_rows(customers: QuerySet, first: dt.date | None, last: dt.date | None) -> list[tuple]:
    """The ``cohort_months`` rows of month 0 and month 1 of the cohorts from ``first`` to ``last`` (first
    order months; None: open) over ``customers``: (cohort, month, customers, 0, 0), orders and revenue
    left out."""
    bounds = [("cohort_month >= %s", first), ("cohort_month <= %s", last)]
    tests = [test for test, value in bounds if value is not None]
    within = f" WHERE {' AND '.join(tests)}" if tests else ""
    adapt = sql_param_adapter()
    values = tuple(adapt(v) if adapt else v for _, v in bounds if v is not None)
    rows = _run(_MONTH_ONE, customers, after=values, first_month=_month("MIN(day)"),
                next_month=_months_on("f.cohort_month", 1), month_after=_months_on("f.cohort_month", 2),
                within=within)
    out = []
    for cohort, size, back in rows:
        cohort = _date(cohort)
        out.append((cohort, cohort, size, 0, 0))
        if back:
            out.append((cohort, _date(_months_on_date(cohort)), back, 0, 0))
    return out


def _months_on_date(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
