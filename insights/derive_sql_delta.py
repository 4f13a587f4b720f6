"""The SQL engine's swap straight into the rollup delta (docs/derivation.md#what-the-sql-engine-does): the
sessions ``insights.derive_sql`` derived differently replace the stored ones, and their rows go to
``dv_ds``/``dv_dp`` (``insights.derive_sql_rollups``) without a round trip through the summary: the new
sessions' from ``dv_s``/``dv_p``, the replaced ones' from their typed ``insights_session`` and
``insights_cart`` columns (only their products come from the summary). ``dv_ds`` accumulates: a drain
swaps batch after batch and adds the rollups once (``insights.derive_drain``).

Also the product pairs (``product_pairs`` and the all-time ``product_pairs_all``) of ``dv_ds``'s
sessions, set-based: the same baskets as ``insights.contributions._add_pair_rows``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping

from django.db import connection

from insights.derive_sql import derive_into_temp, temp_fill
from insights.derive_sql_rollups import dp_insert, ds_insert, rollup_upsert
from insights.session_store import Windows

_SEQ = itertools.count(1)  # each swap's rows in dv_ds/dv_dp (one session key may be swapped twice in a drain)

KEEP = """
SELECT o.id, o.c, o.k FROM dv_old o JOIN insights_session s ON s.id = o.id
JOIN dv_s n ON n.c = o.c AND n.k = o.k AND n.summary = s.summary AND n.age = s.age_group"""

_DAY_HOUR = ("({st} AT TIME ZONE %(tz)s)::date, date_trunc('hour', {st} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")

# The replaced sessions out (sign -1) with their carts; their rows from the typed columns.
_GONE = """
WITH gone AS (SELECT id FROM dv_old WHERE id NOT IN (SELECT id FROM dv_keep)),
carts AS (DELETE FROM insights_cart WHERE session_id IN (SELECT id FROM gone)
          RETURNING session_id, state, value, revenue_left),
del AS (DELETE FROM insights_session WHERE id IN (SELECT id FROM gone)
        RETURNING id, customer_id, key, age_group, started_at, last_event_at, event_count, funnel_step, purchased,
                  order_count, revenue, channel, source, medium, campaign, discounts, summary->'pr' AS pr,
                  summary->'o' AS ok)
""" + ds_insert(f"""
SELECT -1, d.age_group, d.customer_id, d.key, d.started_at, d.last_event_at, NULL::timestamptz,
       {_DAY_HOUR.format(st='d.started_at')}, d.event_count, d.funnel_step, d.purchased::int, d.order_count,
       d.revenue, d.channel, d.source, d.medium, d.campaign, d.discounts, ct.state, ct.value,
       COALESCE(ct.revenue_left, 0), d.pr, d.ok, %(seq)s
FROM del d LEFT JOIN carts ct ON ct.session_id = d.id""")

# The new sessions in, with their carts; their rows from dv_s and their products from dv_p.
_FRESH_ROWS = "SELECT n.* FROM dv_s n WHERE NOT EXISTS (SELECT 1 FROM dv_keep x WHERE x.c = n.c AND x.k = n.k)"


def sessions_insert(source: str) -> str:
    """The statement that stores the derived sessions of ``source`` (``dv_s`` or a subset of its rows)
    and their carts, in key order: the drain's new sessions and the rebuild's every session."""
    return f"""
WITH ins AS (
  INSERT INTO insights_session (customer_id, key, session_id, age_group, started_at, last_event_at, closed,
    event_count, funnel_step, purchased, revenue, order_count, summary, channel, source, medium, campaign,
    landing_page, discounts)
  SELECT c, k, sid, age, started_at, last_event_at, closed, n, funnel_step, purchased, revenue, order_count,
    summary, channel, left(source, 200), left(medium, 100), left(campaign, 200), left(landing, 500), discounts
  FROM {source} ORDER BY c, started_at, k
  RETURNING id, customer_id, key)
INSERT INTO insights_cart (session_id, customer_id, age_group, channel, state, items, value, revenue_left,
  opened_at, closed_at)
SELECT ins.id, n.c, n.age, n.channel, n.cart_state, n.items, n.value, n.revenue_left, n.cart_opened_at,
  n.cart_closed_at
FROM ins JOIN {source} n ON n.c = ins.customer_id AND n.k = ins.key WHERE n.cart_state IS NOT NULL"""


def fresh_insert(source: str) -> list[str]:
    """Store the sessions of ``source`` (rows of ``dv_s``) with their carts, and add them (sign 1) to
    ``dv_ds`` and their products (from ``dv_p``) to ``dv_dp`` under swap ``%(seq)s``: the drain's new
    sessions, the rebuild's every session."""
    sessions = ds_insert("""
SELECT 1, age, c, k, started_at, last_event_at, last_purchase_at, """ + _DAY_HOUR.format(st="started_at") + """, n,
       funnel_step, purchased::int, order_count, revenue, channel, left(source, 200), left(medium, 100),
       left(campaign, 200), discounts, cart_state, CASE WHEN cart_state IS NULL THEN NULL ELSE value END,
       revenue_left, NULL::jsonb, ok, %(seq)s
FROM """ + source)
    products = dp_insert("""
SELECT 1, s.age, s.c, s.k, s.seq, s.day, s.channel, s.f, s.purchasing, s.dropoff, s.cart_state, s.bucket, p.p,
       COALESCE(pr.category, ''), p.flags, p.units, COALESCE(p.revenue, 0), p.keys, p.added, p.final,
       COALESCE(p.price, 0), p.views, s.cart_state IS NOT DISTINCT FROM 'abandoned'
FROM dv_ds s JOIN dv_p p ON p.c = s.c AND p.k = s.k LEFT JOIN products_product pr ON pr.id = p.p
WHERE s.seq = %(seq)s AND s.sign = 1""")
    return [sessions_insert(source), sessions, products]


_FRESH = fresh_insert("dv_fresh")


def sessions_store_counted(source: str, tz: dt.tzinfo) -> None:
    """``fresh_insert(source)`` as a swap of its own (``deltas_reset`` first, once)."""
    with connection.cursor() as cur:
        params: dict[str, str | int] = {"tz": str(tz), "seq": next(_SEQ)}
        store, sessions, products = fresh_insert(source)
        cur.execute(store)
        cur.execute(sessions, params)
        # dv_ds grows by a whole batch here: without statistics the planner expects one row of it and
        # joins the batch's products to it and to the catalogue row by row (1.2 s against 0.5 s at 300k).
        cur.execute("ANALYZE dv_ds (sign, seq, c, k)")
        cur.execute(products, params)


def sessions_swap_direct(windows: Windows, ages: Mapping[int, str], *, as_of: dt.datetime, tz: dt.tzinfo) -> None:
    """Derive these windows' sessions in SQL; replace the stored ones that differ (summary or age group);
    add the replaced (-1) and the new (+1) to ``dv_ds``/``dv_dp`` (``derive_sql_rollups.deltas_reset`` first)."""
    derive_into_temp(windows, ages, as_of=as_of)
    sessions_swap_derived(tz)


def sessions_swap_derived(tz: dt.tzinfo) -> None:
    """The swap of what ``dv_old``, ``dv_s`` and ``dv_p`` hold (derived here, or by a helper connection:
    ``insights.derive_helpers``)."""
    params: dict[str, str | int] = {"tz": str(tz), "seq": next(_SEQ)}
    with connection.cursor() as cur:
        temp_fill(cur, "dv_keep", KEEP, stats="id, c, k")
        cur.execute(_GONE, params)
        temp_fill(cur, "dv_fresh", _FRESH_ROWS)
        for sql in _FRESH:
            cur.execute(sql, params)


# Baskets (insights.contributions._add_pair_rows): each order of a session holds the products with a line
# of it; the session's cart, every product added to it. Each basket counts its pairs (a <= b) and itself (0, 0).
_BASKETS = """
SELECT b.sign, b.kind, b.day, b.bid, p.pk
FROM (SELECT row_number() OVER () AS bid, x.* FROM (
        SELECT s.sign, 'o'::text AS kind, s.day, s.c, s.k, s.seq, o->>0 AS bk
        FROM dv_ds s CROSS JOIN LATERAL jsonb_array_elements(s.ok) o WHERE s.ok IS NOT NULL AND s.ok <> '[]'::jsonb
        UNION ALL
        SELECT s.sign, 'c', s.day, s.c, s.k, s.seq, '' FROM dv_ds s WHERE s.cart_state IS NOT NULL) x) b
LEFT JOIN dv_dp p ON p.sign = b.sign AND p.c = b.c AND p.k = b.k AND p.seq = b.seq
 AND CASE WHEN b.kind = 'o' THEN p.keys ? b.bk ELSE p.flags & 2 > 0 END"""
_PAIRS = """
SELECT m1.sign, m1.kind, m1.day, m1.pk AS a, m2.pk AS b
FROM dv_bm m1 JOIN dv_bm m2 ON m2.bid = m1.bid AND m1.pk <= m2.pk
UNION ALL
SELECT sign, kind, day, 0, 0 FROM (SELECT DISTINCT sign, kind, day, bid FROM dv_bm) b"""


def pair_rollups_add() -> None:
    """Add the product pairs of ``dv_ds``'s sessions to ``product_pairs`` and ``product_pairs_all``."""
    with connection.cursor() as cur:
        temp_fill(cur, "dv_bm", _BASKETS, stats="bid, pk")  # a basket's members (pk NULL: none)
        temp_fill(cur, "dv_pairs", _PAIRS)
        cur.execute(rollup_upsert("product_pairs", [(("kind", "day", "a", "b"), "dv_pairs", {"baskets": "sum(sign)"})]))
        cur.execute(rollup_upsert("product_pairs_all", [(("kind", "a", "b"), "dv_pairs", {"baskets": "sum(sign)"})]))
