"""Which engine derives sessions (``DERIVATION_ENGINE``, docs/derivation.md), and the SQL engine's swap of
stored sessions into ``dv_delta(sign, age, summary)`` (``sessions_swap_sql``: the summaries' entry point
of ``insights.derive_sql_rollups``; the drain itself swaps straight into the rollup delta,
``insights.derive_sql_delta``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection

from insights.derivation import DerivedSession
from insights.derive_sql import derive_into_temp, temp_fill, temp_table
from insights.derive_sql_delta import KEEP
from insights.derive_sql_rollups import pair_summaries
from insights.session_store import Windows


def derivation_engine() -> str:
    """``sql`` or ``python``: ``auto`` is SQL on PostgreSQL. SQLite keeps the Python reference
    (docs/derivation.md#engine)."""
    engine = getattr(settings, "DERIVATION_ENGINE", "auto")
    if engine == "auto":
        engine = "sql" if connection.vendor == "postgresql" else "python"
    if engine == "sql" and connection.vendor != "postgresql":
        return "python"
    return str(engine)


def _summary(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str | bytes) else value



_GONE = """
WITH gone AS (SELECT id FROM dv_old WHERE id NOT IN (SELECT id FROM dv_keep)),
carts AS (DELETE FROM insights_cart WHERE session_id IN (SELECT id FROM gone)),
del AS (DELETE FROM insights_session WHERE id IN (SELECT id FROM gone) RETURNING summary, age_group)
INSERT INTO dv_delta SELECT -1, age_group, summary FROM del"""

_FRESH = """
WITH ins AS (
  INSERT INTO insights_session (customer_id, key, session_id, age_group, started_at, last_event_at, closed,
    event_count, funnel_step, purchased, revenue, order_count, summary, channel, source, medium, campaign,
    landing_page, discounts)
  SELECT c, k, sid, age, started_at, last_event_at, closed, n, funnel_step, purchased, revenue, order_count,
    summary, channel, left(source, 200), left(medium, 100), left(campaign, 200), left(landing, 500), discounts
  FROM dv_s n WHERE NOT EXISTS (SELECT 1 FROM dv_keep x WHERE x.c = n.c AND x.k = n.k)
  ORDER BY c, started_at, k
  RETURNING id, customer_id, key, summary, age_group),
carts AS (
  INSERT INTO insights_cart (session_id, customer_id, age_group, state, items, value, revenue_left, opened_at,
    closed_at)
  SELECT ins.id, n.c, n.age, n.cart_state, n.items, n.value, n.revenue_left, n.cart_opened_at, n.cart_closed_at
  FROM ins JOIN dv_s n ON n.c = ins.customer_id AND n.k = ins.key WHERE n.cart_state IS NOT NULL)
INSERT INTO dv_delta SELECT 1, age_group, summary FROM ins"""


def sessions_swap_sql(windows: Windows, ages: Mapping[int, str], *, as_of: dt.datetime) -> int:
    """Derive these windows' sessions in SQL; replace the stored ones that differ (summary or age group).
    ``dv_delta(sign, age, summary)``: the replaced sessions (-1) and the new ones (1); returns how many."""
    derive_into_temp(windows, ages, as_of=as_of)
    with connection.cursor() as cur:
        temp_table(cur, "dv_delta", "sign int NOT NULL, age text NOT NULL, summary jsonb NOT NULL")
        temp_fill(cur, "dv_keep", KEEP, stats="id, c, k")
        cur.execute(_GONE)
        swapped = int(cur.rowcount or 0)
        cur.execute(_FRESH)
        return swapped + int(cur.rowcount or 0)


def swapped_pairs() -> list[tuple[DerivedSession, int]]:
    """The swapped sessions with an order or a cart, and their sign: their product pairs are added in
    Python (``insights.contributions.add_pair_contributions``)."""
    return [(DerivedSession.from_json(_summary(summary)), sign) for sign, _age, summary in pair_summaries()]
