"""The session-grained rollup contributions of swapped sessions, set-based in PostgreSQL
(docs/derivation.md): the same rows as ``insights.contributions.add_session_contributions`` (the
reference, and this module's test oracle), product pairs aside (``insights.derive_sql_delta``), for the
replaced sessions (taken out) and the new ones (put in), added with
``INSERT … SELECT … ON CONFLICT DO UPDATE`` (the conflict clause is ``insights.rollup_store``'s).

``dv_ds`` is one row a session, ``dv_dp`` one row a product of a session: the drain's swaps and the
rebuild's batches write them directly (``insights.derive_sql_delta``; a replaced session's products from
its summary). Every statement groups by
the rollup's key, leaves out rows that add nothing (as ``rollup_store._rollup_upsert`` does) and
inserts in key order (one lock order with every other writer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models

from insights.contributions import CART_VALUE_EDGES, CUSTOMER_DAILY_COUNTERS
from insights.derive_sql import temp_fill
from insights.rollup_store import EARLIEST_COLUMNS, FOLLOWS_EARLIEST, LATEST_COLUMNS, ROLLUP_TABLES, upsert_sql

# The swapped sessions (one row a session, ``seq``: the swap that wrote it) and their products.
_DS_RAW = ("sign int, age text, c bigint, k text, st timestamptz, le timestamptz, lp timestamptz, day date,"
           " hour timestamptz, n bigint, f int, purchasing int, orders bigint, revenue numeric, channel text,"
           " source text, medium text, campaign text, discounts numeric, cart_state text, cart_value numeric,"
           " revenue_left numeric, pr jsonb, ok jsonb, seq bigint")
_DS_COLUMNS = _DS_RAW + ", dropoff numeric, bucket int"
_DP_COLUMNS = ("sign int, age text, c bigint, k text, seq bigint, day date, channel text, f int, purchasing int,"
               " dropoff numeric, cart_state text, bucket int, pk bigint, category text, flags int, units bigint,"
               " revenue numeric, keys jsonb, added_qty bigint, final_qty bigint, price numeric, views bigint,"
               " abandoned boolean, left_value numeric")
# dv_ds's computed columns over its raw ones (a select of _DS_RAW as x)
_BUCKETS = reversed(list(enumerate(CART_VALUE_EDGES)))
_DS_COMPUTED = ("CASE WHEN x.cart_state IS NULL OR x.cart_state = 'converted' THEN 0 ELSE x.cart_value END, CASE "
                + " ".join(f"WHEN x.cart_value >= {edge} THEN {i}" for i, edge in _BUCKETS) + " ELSE 0 END")


def _names(columns: str) -> str:
    return ", ".join(c.split()[0] for c in columns.split(", "))


def ds_insert(select: str) -> str:
    """``INSERT INTO dv_ds`` of a select of its raw columns (``_DS_RAW``, in order)."""
    return f"INSERT INTO dv_ds ({_names(_DS_COLUMNS)}) SELECT x.*, {_DS_COMPUTED} FROM ({select}) x ({_names(_DS_RAW)})"


def dp_insert(select: str) -> str:
    """``INSERT INTO dv_dp`` of a select of its columns (``_DP_COLUMNS``, in order, without ``left_value``)."""
    return (f"INSERT INTO dv_dp ({_names(_DP_COLUMNS)}) SELECT y.*, CASE WHEN y.abandoned THEN y.price * y.final_qty"
            f" ELSE 0 END FROM ({select}) y ({_names(_DP_COLUMNS.rsplit(', ', 1)[0])})")


def deltas_reset() -> None:
    """Empty ``dv_ds`` and ``dv_dp`` (created the first time in a transaction; reused, not dropped: every
    dropped temporary table holds a lock until the transaction ends)."""
    with connection.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS dv_ds ({_DS_COLUMNS});"
                    f" CREATE TEMP TABLE IF NOT EXISTS dv_dp ({_DP_COLUMNS}); TRUNCATE dv_ds, dv_dp")


def deltas_pending() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('pg_temp.dv_ds') IS NOT NULL")
        if not cur.fetchone()[0]:
            return False
        cur.execute("SELECT EXISTS (SELECT 1 FROM dv_ds)")
        return bool(cur.fetchone()[0])


# The products of the sessions whose summary came with them (``pr``): the contract's and the replaced ones.
_PRODUCTS_OF_SUMMARIES = dp_insert("""
SELECT s.sign, s.age, s.c, s.k, s.seq, s.day, s.channel, s.f, s.purchasing, s.dropoff, s.cart_state, s.bucket,
       p.key::bigint, COALESCE(pr.category, ''), (p.value->>0)::int, (p.value->>1)::bigint, (p.value->>2)::numeric,
       p.value->3, (p.value->>4)::bigint, (p.value->>5)::bigint, (p.value->>6)::numeric, (p.value->>7)::bigint,
       s.cart_state IS NOT DISTINCT FROM 'abandoned'
FROM dv_ds s CROSS JOIN LATERAL jsonb_each(s.pr) p LEFT JOIN products_product pr ON pr.id = p.key::bigint
WHERE s.pr IS NOT NULL""")

_CATEGORIES = """
SELECT s.sign, s.age, s.c, s.k, s.day, s.channel, s.f, s.purchasing, s.dropoff, s.cart_state, s.bucket, g.category,
       g.revenue, g.in_cart, g.revenue_left,
       (SELECT count(DISTINCT e.v) FROM jsonb_array_elements(g.keys) ks (a), jsonb_array_elements_text(ks.a) e (v))
         AS orders
FROM (SELECT sign, c, k, seq, category, sum(revenue) AS revenue, bool_or(added_qty <> 0) AS in_cart,
             sum(CASE WHEN added_qty <> 0 THEN left_value ELSE 0 END) AS revenue_left,
             jsonb_agg(keys) FILTER (WHERE keys IS NOT NULL) AS keys
      FROM dv_dp WHERE category <> '' GROUP BY sign, c, k, seq, category) g
JOIN dv_ds s ON s.sign = g.sign AND s.c = g.c AND s.k = g.k AND s.seq = g.seq"""


def _state(name: str, *, when: str = "") -> str:
    return f"sum(sign * ({when}cart_state IS NOT DISTINCT FROM '{name}')::int)"


# Each session counter (insights.contributions.session_counters) as a sum over dv_ds.
_SESSION_COUNTERS = {
    "sessions": "sum(sign)", "purchasing_sessions": "sum(sign * purchasing)", "orders": "sum(sign * orders)",
    "revenue": "sum(sign * revenue)", "funnel_view": "sum(sign * (f >= 1)::int)",
    "funnel_cart": "sum(sign * (f >= 2)::int)", "funnel_checkout": "sum(sign * (f >= 3)::int)",
    "funnel_purchase": "sum(sign * (f >= 4)::int)",
    "dropoff_cart": "sum(sign * CASE WHEN f = 2 THEN dropoff ELSE 0 END)",
    "dropoff_checkout": "sum(sign * CASE WHEN f = 3 THEN dropoff ELSE 0 END)",
    "carts_open": _state("open"), "carts_converted": _state("converted"), "carts_abandoned": _state("abandoned"),
    "carts_emptied": _state("emptied"), "revenue_left": "sum(sign * revenue_left)",
}
# A category's row (insights.contributions._add_category_rows): its lines' money and orders, its cart
# outcome only where one of its products went into the cart.
_CATEGORY_COUNTERS = {
    **_SESSION_COUNTERS, "orders": "sum(sign * orders)", "revenue": "sum(sign * revenue)",
    "revenue_left": "sum(sign * revenue_left)",
    **{f"carts_{s}": _state(s, when="in_cart AND ") for s in ("open", "converted", "abandoned", "emptied")},
}
_PRODUCT_COUNTERS = {
    "views": "sum(sign * views)", "units": "sum(sign * units)", "revenue": "sum(sign * revenue)",
    "view_sessions": "sum(sign * (flags & 1 > 0)::int)", "cart_sessions": "sum(sign * (flags & 2 > 0)::int)",
    "purchase_sessions": "sum(sign * (flags & 4 > 0)::int)",
    "carts_abandoned": "sum(sign * (abandoned AND final_qty > 0)::int)", "revenue_left": "sum(sign * left_value)",
}
# of two at one instant the smaller key; of one key swapped twice in a drain, the later swap's (rollup_store)
_FIRST = "(array_agg({col} ORDER BY st, k COLLATE \"C\", seq DESC) FILTER (WHERE sign > 0))[1]"
_TOTALS = {
    "sessions": "sum(sign)", "orders": "sum(sign * orders)", "events": "sum(sign * n)",
    "revenue": "sum(sign * revenue)", "first_seen": "min(st) FILTER (WHERE sign > 0)",
    "first_channel": f"COALESCE({_FIRST.format(col='channel')}, '')",
    "first_session": f"COALESCE({_FIRST.format(col='k')}, '')",
    "last_seen": "max(le) FILTER (WHERE sign > 0)", "last_purchase_at": "max(lp) FILTER (WHERE sign > 0)",
}

# rollup → (its key as expressions over the source, the source, counter expressions)
_ROLLUPS: dict[str, tuple[tuple[str, ...], str, Mapping[str, str]]] = {
    "sessions_hourly": (("hour", "age", "channel"), "dv_ds", {
        "sessions": "sum(sign)", "purchasing_sessions": "sum(sign * purchasing)", "orders": "sum(sign * orders)",
        "events": "sum(sign * n)", "revenue": "sum(sign * revenue)", "discounts": "sum(sign * discounts)"}),
    "carts_hourly": (("hour", "channel"), "dv_ds WHERE cart_state IS NOT NULL", {
        k: _SESSION_COUNTERS[k] for k in ("carts_open", "carts_converted", "carts_abandoned", "carts_emptied")}),
    "customer_totals": (("c",), "dv_ds", _TOTALS),
    "traffic_daily": (("day", "channel", "source", "medium", "campaign"), "dv_ds", {
        k: _SESSION_COUNTERS[k] for k in ("sessions", "purchasing_sessions", "orders", "revenue",
                                          "carts_converted", "carts_abandoned", "carts_emptied")}
        | {"discounts": "sum(sign * discounts)"}),
    "products_daily": (("day", "pk", "age"), "dv_dp", _PRODUCT_COUNTERS),
    "product_channels": (("channel", "day", "pk", "age"), "dv_dp", _PRODUCT_COUNTERS),
}
_SESSIONS_DAILY = [
    (("day", "age", "''", "channel"), "dv_ds",
     {**_SESSION_COUNTERS, "events": "sum(sign * n)", "discounts": "sum(sign * discounts)"}),
    (("day", "age", "category", "channel"), "dv_dc", _CATEGORY_COUNTERS),
]
_CART_VALUES = [
    (("day", "age", "''", "bucket", "channel"), "dv_ds WHERE cart_state IS NOT NULL", {"carts": "sum(sign)"}),
    (("day", "age", "category", "bucket", "channel"), "dv_dc WHERE in_cart AND cart_state IS NOT NULL",
     {"carts": "sum(sign)"}),
]
_CUSTOMERS_DAILY = (("day", "c"), "dv_ds",
                    {**{k: _SESSION_COUNTERS[k] for k in CUSTOMER_DAILY_COUNTERS}, "events": "sum(sign * n)"})


def _default(column: str) -> str:
    if column in EARLIEST_COLUMNS or column in LATEST_COLUMNS:
        return "NULL::timestamptz"
    return "''" if column in FOLLOWS_EARLIEST else "0"


Parts = Sequence[tuple[tuple[str, ...], str, Mapping[str, str]]]


def rollup_upsert(name: str, parts: Parts, returning: str = "") -> str:
    """``INSERT … SELECT`` of rollup ``name`` from these parts (key expressions, source, counters)."""
    model, key_cols = ROLLUP_TABLES[name]
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key and f.column not in key_cols]
    selects = []
    for keys, source, counters in parts:
        group = ", ".join(str(i + 1) for i in range(len(keys)))
        cols = [f"{k} AS k{i}" for i, k in enumerate(keys)] + [
            f"{counters.get(c, _default(c))} AS {c}" for c in columns]
        selects.append(f"SELECT {', '.join(cols)} FROM {source} GROUP BY {group}")
    live = " OR ".join(f"{c} IS NOT NULL" if c in EARLIEST_COLUMNS | LATEST_COLUMNS
                       else f"{c} <> ''" if c in FOLLOWS_EARLIEST else f"{c} <> 0" for c in columns)
    order = ", ".join(f"k{i}" + (' COLLATE "C"' if _is_text(model, col) else "") for i, col in enumerate(key_cols))
    head, tail = upsert_sql(model, key_cols, columns)
    return (head.replace(" VALUES ", " ") + f"SELECT * FROM ({' UNION ALL '.join(selects)}) x WHERE {live}"
            + f" ORDER BY {order}" + tail + returning)


def _is_text(model: type[models.Model], column: str) -> bool:
    return isinstance(next(f for f in model._meta.concrete_fields if f.column == column), models.CharField)


# Sessions bring revenue, not discounts or refunds (insights.retention.COHORT_MONEY_COLUMNS: the events').
_CHANGED = """
SELECT DISTINCT c FROM (SELECT c, day, sum(sign * orders) AS o, sum(sign * revenue) AS r FROM dv_ds GROUP BY c, day) x
WHERE o <> 0 OR r <> 0"""


def session_deltas_prepare() -> None:
    """``dv_ds`` filled: add the products of its summaries to ``dv_dp``, make ``dv_dc``."""
    with connection.cursor() as cur:
        cur.execute(_PRODUCTS_OF_SUMMARIES)
        cur.execute("ANALYZE dv_ds (sign, c, k, seq); ANALYZE dv_dp (sign, c, k, seq, category)")
        temp_fill(cur, "dv_dc", _CATEGORIES)


def order_days_changed() -> set[int]:
    """The customers of ``dv_ds`` whose orders or revenue on some store day change (their retention rows
    are recomputed; a rebuild computes every customer's anyway)."""
    with connection.cursor() as cur:
        cur.execute(_CHANGED)
        return {c for (c,) in cur.fetchall()}


def session_rollups_add(*, from_empty: bool = False) -> set[dt.date]:
    """Add the swapped sessions' contributions (product pairs aside) to the rollups; return the store days
    where a customer became or stopped being active or buying (``rollup_store._people_flips``).
    ``from_empty`` (a rebuild: the rollups were empty, every session is new): every session's day flips,
    so the days are read from ``dv_ds`` instead of joining each written row back to it."""
    statements = [rollup_upsert(name, [spec]) for name, spec in _ROLLUPS.items()]
    statements.append(rollup_upsert("sessions_daily", _SESSIONS_DAILY))
    statements.append(rollup_upsert("cart_values_daily", _CART_VALUES))
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
        if from_empty:
            cur.execute(rollup_upsert("customers_daily", [_CUSTOMERS_DAILY]))
            cur.execute("SELECT DISTINCT day FROM dv_ds")
            return {_day(d) for (d,) in cur.fetchall()}
        returning = " RETURNING day, customer_id, events, revenue"
        cur.execute(f"WITH up AS ({rollup_upsert('customers_daily', [_CUSTOMERS_DAILY], returning)})"
                    " SELECT DISTINCT up.day FROM up JOIN (SELECT day, c, sum(sign * n) AS e, sum(sign * revenue) AS r"
                    " FROM dv_ds GROUP BY day, c) d ON d.day = up.day AND d.c = up.customer_id"
                    " WHERE (up.events > 0) <> (up.events - d.e > 0) OR (up.revenue > 0) <> (up.revenue - d.r > 0)")
        return {_day(d) for (d,) in cur.fetchall()}


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
