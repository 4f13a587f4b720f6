"""The full rebuild's rollups that do not come from the session rows (``insights.derive_sql_rollups``), set-based
in PostgreSQL (docs/derivation.md#rebuild): the event-grained rollups and the money of events
(``insights.contributions.add_event_contributions`` under the store's whole ``insights.money.OrderBook``),
the product pairs of every session (``insights.contributions._add_pair_rows``) and the retention rollups
(``insights.retention``, from the customers' order days). The Python definitions are the reference and
these statements' test oracle (``tests/insights/test_rebuild_sql.py``).

Every statement groups by the rollup's key and adds with the conflict clause of the Python path
(``insights.rollup_store.upsert_sql``); rows that add nothing are left out, as the Python path leaves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection, models

from events.verification import BROWSER_NAMESPACE
from insights.contributions import new_contributions
from insights.order_store import counts_unconfirmed
from insights.retention import add_retention_contributions, order_days_from_rows
from insights.rollup_store import (
    EARLIEST_COLUMNS,
    FOLLOWS_EARLIEST,
    LATEST_COLUMNS,
    ROLLUP_TABLES,
    rollups_add,
    upsert_sql,
)


def _bots(alias: str) -> str:
    return "" if settings.METRICS_INCLUDE_BOTS else f" AND NOT {alias}.is_bot"


def _default(column: str) -> str:
    if column in EARLIEST_COLUMNS or column in LATEST_COLUMNS:
        return "NULL::timestamptz"
    return "''" if column in FOLLOWS_EARLIEST else "0"


def rollup_upsert(name: str, keys: tuple[str, ...], source: str, counters: Mapping[str, str]) -> str:
    """``INSERT … SELECT`` into rollup ``name``: ``keys`` (expressions over ``source``, in the rollup's key
    order) grouped, ``counters`` (aggregates; other columns their empty value), rows of zeros left out,
    keys in code-point order (one lock order with every other writer)."""
    model, key_cols = ROLLUP_TABLES[name]
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key and f.column not in key_cols]
    group = ", ".join(str(i + 1) for i in range(len(keys)))
    cols = [f"{k} AS k{i}" for i, k in enumerate(keys)] + [f"{counters.get(c, _default(c))} AS {c}" for c in columns]
    live = " OR ".join(f"{c} IS NOT NULL" if c in EARLIEST_COLUMNS | LATEST_COLUMNS
                       else f"{c} <> ''" if c in FOLLOWS_EARLIEST else f"{c} <> 0" for c in columns)
    fields = {f.column: f for f in model._meta.concrete_fields}
    order = ", ".join(f"k{i}" + (' COLLATE "C"' if isinstance(fields[c], models.CharField) else "")
                      for i, c in enumerate(key_cols))
    head, tail = upsert_sql(model, key_cols, columns)
    return (head.replace(" VALUES ", " ") + f"SELECT * FROM (SELECT {', '.join(cols)} FROM {source} GROUP BY {group})"
            f" x WHERE {live} ORDER BY {order}" + tail)


# The order book as tables: cancelled order ids, each order's counting line (its first stored line
# carrying an order object, a verified one first: insights.money.winners_of), each order's earliest
# verified line (events.verification.BrowserOrders); then each purchase line's and refund's money.
_BOOK = """
DROP TABLE IF EXISTS rb_em;
CREATE TEMP TABLE rb_em AS
WITH cx AS (SELECT DISTINCT order_id AS o FROM events_event e WHERE action = 'cancel' AND order_id IS NOT NULL{bots}),
win AS (SELECT DISTINCT ON (order_id) order_id AS o, id FROM events_event e
        WHERE action = 'purchase' AND order_id IS NOT NULL AND (discount IS NOT NULL OR coupon <> ''
              OR shipping IS NOT NULL OR tax IS NOT NULL){bots}
        ORDER BY order_id, namespace = %(browser)s, id),
vt AS (SELECT order_id AS o, min(timestamp) AS at FROM events_event e
       WHERE action = 'purchase' AND order_id IS NOT NULL AND namespace <> %(browser)s{bots} GROUP BY order_id)
SELECT x.id, x.c, x.p, x.a, x.q, (x.ts AT TIME ZONE %(tz)s)::date AS day,
       CASE WHEN x.a = 'purchase' AND x.counts THEN x.line ELSE 0 END AS gross,
       CASE WHEN x.a = 'purchase' AND x.counts AND x.discount IS NOT NULL AND (x.o IS NULL OR x.win = x.id)
            THEN x.discount ELSE 0 END AS disc,
       CASE WHEN x.a = 'refund' AND NOT x.cancelled THEN x.line ELSE 0 END AS refund
FROM (SELECT e.id, e.customer_id AS c, e.product_id AS p, e.action AS a, e.quantity AS q, e.timestamp AS ts,
             e.order_id AS o, e.discount, COALESCE(e.amount, e.price * e.quantity) AS line,
             cx.o IS NOT NULL AS cancelled, win.id AS win,
             cx.o IS NULL AND (e.namespace <> %(browser)s OR (vt.at IS NULL AND %(unconfirmed)s)) AS counts
      FROM events_event e LEFT JOIN cx ON cx.o = e.order_id LEFT JOIN vt ON vt.o = e.order_id
      LEFT JOIN win ON win.o = e.order_id
      WHERE e.action IN ('purchase', 'refund'){bots}) x;
ANALYZE rb_em"""

# Every counted event tallied by (hour, store day, action, age group, category), as
# add_event_contributions tallies them before it adds them to both event rollups.
_TALLIES = """
DROP TABLE IF EXISTS rb_et;
CREATE TEMP TABLE rb_et AS
SELECT date_trunc('hour', e.timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
       (e.timestamp AT TIME ZONE %(tz)s)::date AS day, e.action, cu.age_group AS age,
       COALESCE(pr.category, '') AS category, count(*) AS n, sum(e.quantity) AS q,
       COALESCE(sum(m.gross), 0) AS gross, COALESCE(sum(m.disc), 0) AS disc, COALESCE(sum(m.refund), 0) AS refund
FROM events_event e JOIN customers_customer cu ON cu.id = e.customer_id
LEFT JOIN products_product pr ON pr.id = e.product_id LEFT JOIN rb_em m ON m.id = e.id
WHERE true{bots}
GROUP BY 1, 2, 3, 4, 5"""

_EVENT_COUNTERS = {"events": "sum(n)", "quantity": "sum(q)", "revenue": "sum(gross)", "discounts": "sum(disc)",
                   "refunds": "sum(refund)"}
_MONEY = {"discounts": "sum(disc)", "refunds": "sum(refund)"}


def event_rollups_add(tz: str) -> None:
    """The event-grained rollups, and the money of events in the customer and product rollups
    (``insights.contributions._add_money_rows``): discounts and refunds by the event's store day."""
    params: dict[str, Any] = {"browser": BROWSER_NAMESPACE, "unconfirmed": counts_unconfirmed(), "tz": tz}
    with connection.cursor() as cur:
        cur.execute(_BOOK.format(bots=_bots("e")), params)
        cur.execute(_TALLIES.format(bots=_bots("e")), params)
        for sql in (
            rollup_upsert("events_hourly", ("hour", "action", "age"), "rb_et", _EVENT_COUNTERS),
            rollup_upsert("events_daily", ("day", "action", "age", "category"), "rb_et", _EVENT_COUNTERS),
            rollup_upsert("customers_daily", ("day", "c"), "rb_em", _MONEY),
            rollup_upsert("customer_totals", ("c",), "rb_em", _MONEY),
            rollup_upsert("products_daily", ("day", "p", "age_group"),
                          "rb_em JOIN customers_customer cu ON cu.id = rb_em.c WHERE p IS NOT NULL AND refund <> 0",
                          {"refunds": "sum(refund)", "refunded_units": "sum(q)"}),
        ):
            cur.execute(sql)


# Affinity (docs/metrics.md): each order of a session is a basket of the products with lines of it; a
# session's cart is a basket of every product added to it. From dv_ds/dv_dp (every stored session).
_PAIRS = """
DROP TABLE IF EXISTS rb_pairs;
CREATE TEMP TABLE rb_pairs AS
WITH rb_ob AS (SELECT DISTINCT c, k, day, ok, pk FROM dv_dp CROSS JOIN LATERAL jsonb_array_elements_text(keys) ok),
rb_cb AS (SELECT c, k, day, pk FROM dv_dp WHERE flags & 2 > 0 AND cart_state IS NOT NULL)
SELECT 'o'::text AS kind, day, 0::bigint AS a, 0::bigint AS b, sum(sign * orders) AS n FROM dv_ds
WHERE orders > 0 GROUP BY day
UNION ALL
SELECT 'o', x.day, x.pk, y.pk, count(*) FROM rb_ob x
JOIN rb_ob y ON y.c = x.c AND y.k = x.k AND y.ok = x.ok AND y.pk >= x.pk
GROUP BY x.day, x.pk, y.pk
UNION ALL
SELECT 'c', day, 0, 0, sum(sign) FROM dv_ds WHERE cart_state IS NOT NULL GROUP BY day
UNION ALL
SELECT 'c', x.day, x.pk, y.pk, count(*) FROM rb_cb x JOIN rb_cb y ON y.c = x.c AND y.k = x.k AND y.pk >= x.pk
GROUP BY x.day, x.pk, y.pk"""


def pair_rollups_add() -> None:
    """``product_pairs`` (by day) and ``product_pairs_all`` of every session (``dv_ds``/``dv_dp``, all new)."""
    with connection.cursor() as cur:
        cur.execute(_PAIRS)
        cur.execute(rollup_upsert("product_pairs", ("kind", "day", "a", "b"), "rb_pairs", {"baskets": "sum(n)"}))
        cur.execute(rollup_upsert("product_pairs_all", ("kind", "a", "b"), "rb_pairs", {"baskets": "sum(n)"}))


def retention_rollups_add(ages: Mapping[int, Any]) -> None:
    """The retention rollups from every customer's order days (``customers_daily`` with orders, net of the
    day's discounts and refunds), as the Python rebuild adds them."""
    with connection.cursor() as cur:
        cur.execute("SELECT customer_id, day, orders, revenue - discounts - refunds FROM insights_customerdaily"
                    " WHERE orders > 0")
        days = order_days_from_rows(cur.fetchall())
    retention = new_contributions()
    add_retention_contributions(retention, days, age_of=ages)
    rollups_add(retention)
