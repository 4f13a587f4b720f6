"""The segment × day rollup (docs/metrics.md#rfm-segments): the day × customer rollup (``CustomerDaily``)
of the kept buyers summed per RFM segment, store day and age group (``SegmentDaily``), so a
segment-filtered panel reads a few hundred day rows as the unfiltered panels do instead of summing every
one of the segment's customer days per request. With it, each segment's retention rows (cohort × month,
buyers by order count, gaps between orders: ``SegmentCohortMonthly``, ``SegmentBuyerOrders``,
``SegmentOrderGap``) from its buyers' order days, as ``insights.retention`` keeps them for everyone.

Recomputed whole, set-based, in two statements (PostgreSQL and SQLite), by ``insights.rfm_store`` in the
transaction that refreshes the kept scores: the rollup always matches the kept segments. A customer's
age group is the one they have at the refresh (a customer row gone: ``unknown``, as the per-customer
sums put them). Between refreshes it lags the day × customer rows as the kept segments do.
"""

from __future__ import annotations

from django.db import connection

from customers.models import Customer
from insights.kept_models import (
    CustomerRfm,
    SegmentBuyerOrders,
    SegmentCohortMonthly,
    SegmentDaily,
    SegmentOrderGap,
)
from insights.models import CustomerDaily

# The counters of CustomerDaily the rollup sums (all of them).
COUNTERS = ("events", "revenue", "sessions", "purchasing_sessions", "orders", "funnel_view", "funnel_cart",
            "funnel_checkout", "funnel_purchase", "dropoff_cart", "dropoff_checkout", "carts_converted",
            "carts_abandoned", "carts_emptied", "revenue_left", "discounts", "refunds")


def _fill_sql() -> str:
    q = connection.ops.quote_name
    sums = ", ".join(f"SUM(d.{c})" for c in COUNTERS)
    return (f"INSERT INTO {q(SegmentDaily._meta.db_table)} (segment, day, age_group, {', '.join(COUNTERS)}) "
            f"SELECT r.segment, d.day, COALESCE(c.age_group, 'unknown'), {sums} "
            f"FROM {q(CustomerDaily._meta.db_table)} d "
            f"JOIN {q(CustomerRfm._meta.db_table)} r ON r.customer_id = d.customer_id "
            f"LEFT JOIN {q(Customer._meta.db_table)} c ON c.id = d.customer_id "
            f"GROUP BY r.segment, d.day, COALESCE(c.age_group, 'unknown')")


def segment_days_refresh() -> None:
    """Recompute the segment × day rollup and the segments' retention rows from the kept segments and the
    day × customer rows. Call inside the refresh's transaction (``insights.rfm_store.rfm_refresh``):
    readers see the old rows until it commits."""
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        for model in (SegmentDaily, SegmentCohortMonthly, SegmentBuyerOrders, SegmentOrderGap):
            cur.execute(f"DELETE FROM {q(model._meta.db_table)}")
        cur.execute(_fill_sql())
        for sql in retention_fill_sql(connection.vendor):
            cur.execute(sql)


def retention_fill_sql(vendor: str) -> list[str]:
    """The statements filling the segments' retention rows (the migration that made the tables runs them
    too). Per customer as ``insights.retention`` counts them: the cohort is the month of the first order
    day, a gap is the days between consecutive order days, and a day's further orders are gaps of 0."""
    month = "CAST(date_trunc('month', day) AS date)" if vendor == "postgresql" else "date(day, 'start of month')"
    gap = ("day - previous_day" if vendor == "postgresql"
           else "CAST(julianday(day) - julianday(previous_day) AS INTEGER)")
    buyers = ("SELECT d.customer_id, r.segment, COALESCE(c.age_group, 'unknown') AS age_group, d.day, d.orders, "
              "d.revenue - d.discounts - d.refunds AS net FROM insights_customerdaily d "
              "JOIN insights_customerrfm r ON r.customer_id = d.customer_id "
              "LEFT JOIN customers_customer c ON c.id = d.customer_id WHERE d.orders > 0")
    return [
        f"WITH o AS ({buyers}), m AS (SELECT customer_id, segment, age_group, {month} AS month,"
        f" SUM(orders) AS orders, SUM(net) AS net FROM o GROUP BY customer_id, segment, age_group, {month}) "
        "INSERT INTO insights_segmentcohortmonthly (segment, age_group, cohort, month, customers, orders, revenue) "
        "SELECT segment, age_group, cohort, month, COUNT(*), SUM(orders), SUM(net) FROM (SELECT segment, age_group, "
        "month, orders, net, MIN(month) OVER (PARTITION BY customer_id) AS cohort FROM m) x "
        "GROUP BY segment, age_group, cohort, month",
        f"WITH o AS ({buyers}) "
        "INSERT INTO insights_segmentbuyerorders (segment, age_group, orders, customers) "
        "SELECT segment, age_group, orders, COUNT(*) FROM (SELECT customer_id, segment, age_group, "
        "SUM(orders) AS orders FROM o GROUP BY customer_id, segment, age_group) b GROUP BY segment, age_group, orders",
        f"WITH o AS ({buyers}), d AS (SELECT segment, age_group, day, orders, "
        "LAG(day) OVER (PARTITION BY customer_id ORDER BY day) AS previous_day FROM o) "
        "INSERT INTO insights_segmentordergap (segment, age_group, days, gaps) "
        f"SELECT segment, age_group, gap, SUM(n) FROM (SELECT segment, age_group, {gap} AS gap, 1 AS n FROM d "
        "WHERE previous_day IS NOT NULL UNION ALL SELECT segment, age_group, 0, orders - 1 FROM d WHERE orders > 1) g "
        "GROUP BY segment, age_group, gap",
    ]
