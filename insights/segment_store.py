"""The segment × day rollup (docs/metrics.md#rfm-segments): the day × customer rollup (``CustomerDaily``)
of the kept buyers summed per RFM segment, store day and age group (``SegmentDaily``), so a
segment-filtered panel reads a few hundred day rows as the unfiltered panels do instead of summing every
one of the segment's customer days per request.

Recomputed whole, set-based, in two statements (PostgreSQL and SQLite), by ``insights.rfm_store`` in the
transaction that refreshes the kept scores: the rollup always matches the kept segments. A customer's
age group is the one they have at the refresh (a customer row gone: ``unknown``, as the per-customer
sums put them). Between refreshes it lags the day × customer rows as the kept segments do.
"""

from __future__ import annotations

from django.db import connection

from customers.models import Customer
from insights.kept_models import CustomerRfm, SegmentDaily
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
    """Recompute the segment × day rollup from the kept segments and the day × customer rows. Call inside
    the refresh's transaction (``insights.rfm_store.rfm_refresh``): readers see the old rows until it
    commits."""
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {connection.ops.quote_name(SegmentDaily._meta.db_table)}")
        cur.execute(_fill_sql())
