"""Kept RFM scores (docs/metrics.md#rfm-segments): every buyer's R, F and M scores, segment and the
quintile boundaries, recomputed set-based from ``CustomerTotals`` in one SQL statement (PostgreSQL and
SQLite: both have window functions and upsert) instead of scored per request.

Score of a value = 1 + ⌊(rank − 1) × 5 / buyers⌋, rank being ``RANK()`` in ascending order (equal values
share the first rank of their run): exactly ``insights.stats.quintile_scores``, the reference the
tests compare with. The segment comes from R and FM = ⌈(F + M) / 2⌉ through ``insights.stats.rfm_segment``
(written into the statement as a CASE over its 25 cells).

``rfm_refresh`` runs after a rebuild and every minute from beat (``insights.tasks.refresh_rfm_task``)
for the changes no derivation batch follows (refunds and discounts stored at ingest, erasures, identity
merges); after each run of derivation batches that derived something
(``insights.services.analytics_process_pending``) ``rfm_refresh_if_due`` runs it unless the last
refresh is younger than ``RFM_REFRESH_MIN_SECONDS`` (docs/configuration.md). It is idempotent: rows
whose scores did not change are not written. With the scores it recomputes the segment × day rollup
(``insights.segment_store``), in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from insights.models import CustomerRfm, CustomerTotals, RfmRefresh
from insights.segment_store import segment_days_refresh
from insights.stats import rfm_segment

RFM_LOCK_ID = 815_514_017  # PostgreSQL advisory lock: one refresh at a time
SCORES = ("recency", "frequency", "monetary")
SCORED_ON = {"recency": "last_purchase_at", "frequency": "orders", "monetary": "net_revenue"}
KEPT = ("last_purchase_at", "orders", "net_revenue", "recency", "frequency", "monetary", "segment")

_SCORED = """
SELECT customer_id, last_purchase_at, orders, net_revenue, r, f, m, {segment}
FROM (
  SELECT customer_id, last_purchase_at, orders, net_revenue,
    1 + (RANK() OVER (ORDER BY last_purchase_at NULLS FIRST) - 1) * 5 / COUNT(*) OVER () AS r,
    1 + (RANK() OVER (ORDER BY orders) - 1) * 5 / COUNT(*) OVER () AS f,
    1 + (RANK() OVER (ORDER BY net_revenue) - 1) * 5 / COUNT(*) OVER () AS m
  FROM (SELECT customer_id, last_purchase_at, orders, ROUND(revenue - discounts - refunds, 2) AS net_revenue
        FROM {totals} WHERE orders > 0) buyers
) scored WHERE true"""


def _segment_case() -> str:
    """``insights.stats.rfm_segment`` as a SQL CASE over r and fm = (f + m + 1) / 2 (integer division)."""
    cells = " ".join(f"WHEN {r * 10 + fm} THEN '{rfm_segment(r, fm).replace(chr(39), chr(39) * 2)}'"
                     for r in range(1, 6) for fm in range(1, 6))
    return f"CASE r * 10 + (f + m + 1) / 2 {cells} END"


def _upsert_sql() -> str:
    """The scoring statement as an upsert that writes only the rows whose values or scores changed."""
    q = connection.ops.quote_name
    table = q(CustomerRfm._meta.db_table)
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    scored = _SCORED.format(segment=_segment_case(), totals=q(CustomerTotals._meta.db_table))
    return (f"INSERT INTO {table} (customer_id, {', '.join(KEPT)}) {scored} "
            f"ON CONFLICT (customer_id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in KEPT)} "
            f"WHERE {' OR '.join(f'{table}.{c} {differs} EXCLUDED.{c}' for c in KEPT)}")


def _boundaries() -> dict[str, list[dict[str, Any]]]:
    """Per score: each quintile's lowest and highest value among the kept buyers, and how many."""
    out: dict[str, list[dict[str, Any]]] = {}
    for score in SCORES:
        column = SCORED_ON[score]
        rows = (CustomerRfm.objects.values(score).annotate(low=Min(column), high=Max(column), n=Count("pk"))
                .order_by(score))
        out[score] = [{"score": r[score], "low": _plain(r["low"]), "high": _plain(r["high"]), "customers": r["n"]}
                      for r in rows]
    return out


def _plain(value: Any) -> Any:
    """A boundary as JSON: times as ISO text, money as a float, counts as they are."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value if value is None or isinstance(value, int) else float(value)


@transaction.atomic
def rfm_refresh() -> int:
    """Recompute every buyer's kept RFM scores and segment, drop those who no longer have an order,
    recompute the segment × day rollup and record the refresh (time, buyers, boundaries). Returns the
    number of buyers."""
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [RFM_LOCK_ID])
        cur.execute(f"DELETE FROM {q(CustomerRfm._meta.db_table)} WHERE customer_id NOT IN "
                    f"(SELECT customer_id FROM {q(CustomerTotals._meta.db_table)} WHERE orders > 0)")
        cur.execute(_upsert_sql())
    segment_days_refresh()
    buyers = CustomerRfm.objects.count()
    RfmRefresh.objects.update_or_create(pk=1, defaults={"refreshed_at": timezone.now(), "buyers": buyers,
                                                        "boundaries": _boundaries()})
    return buyers


def rfm_refresh_if_due(*, now: dt.datetime | None = None) -> int | None:
    """``rfm_refresh`` unless the last refresh is younger than ``RFM_REFRESH_MIN_SECONDS`` (then None:
    the next due call, at the latest the beat task's, brings the scores up to date)."""
    seconds = settings.RFM_REFRESH_MIN_SECONDS
    if seconds > 0:
        last = RfmRefresh.objects.filter(pk=1).values_list("refreshed_at", flat=True).first()
        if last is not None and (now or timezone.now()) - last < dt.timedelta(seconds=seconds):
            return None
    return rfm_refresh()
