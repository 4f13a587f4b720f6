"""Session derivation in PostgreSQL, set-based (docs/derivation.md): the same sessions and carts as
``insights.derivation`` (the reference, and this module's test oracle), computed by a few statements
over temporary tables instead of event by event in Python.

1. ``dv_w``: the customers' windows, grown as ``insights.services`` grows them (stored sessions within
   the idle gap of a window's edges, and the whole span of a client session id seen in it) until
   nothing grows.
2. ``dv_ev``: every counted event of the windows with its session key: ``s:<session id>``, else the
   idle-gap sessions (``lag()`` over the customer's events in time order, a 30-minute gap flag and
   its running sum).
3. ``dv_p`` (products of a session) and ``dv_s`` (sessions, their carts and the stored summary,
   ``DerivedSession.to_json`` built as ``jsonb``). The traffic source rule table stays in
   ``insights.channels``: it is applied once per distinct first context (``dv_t``).

Every statement works within one customer's rows (partitioned or joined by customer), except the
cancel lookup by order id (docs/derivation.md#distribution).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection

from events.verification import BROWSER_NAMESPACE
from insights.channels import session_traffic
from insights.derivation import GAP_KEY, IDLE
from insights.order_store import counts_unconfirmed
from insights.session_store import Windows

_GROW_ROUNDS = 20  # as insights.services: rounds of "a stored session reaches beyond the window"


def _iso(col: str) -> str:
    """``datetime.isoformat()`` of a UTC ``timestamptz`` (microseconds only when there are some)."""
    return (f"(to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
            f"mod(date_part('microseconds', {col})::bigint, 1000000) <> 0 THEN to_char({col} AT TIME ZONE 'UTC', '.US')"
            f" ELSE '' END || '+00:00')")


def _bots(alias: str) -> str:
    return "" if settings.METRICS_INCLUDE_BOTS else f" AND NOT {alias}.is_bot"


def _exec(cur: Any, sql: str, params: Any = None) -> int:
    cur.execute(sql, params)
    return int(cur.rowcount or 0)


def temp_fill(cur: Any, name: str, select: str, params: Any = None, *, index: str = "", stats: str = "") -> int:
    """Fill temporary table ``name`` with ``select`` (its rows; ``index``: its columns indexed; ``stats``: the
    columns joined on, analysed: temporary tables have no statistics, and a whole analysis reads every jsonb
    column's sample). The table is made from the select the first time in a connection, then emptied and
    refilled: a table dropped in a transaction holds its locks until the transaction ends, and a long one
    (a drain of many batches) would use up the server's lock table."""
    _exec(cur, f"CREATE TEMP TABLE IF NOT EXISTS {name} AS {select} WITH NO DATA", params)
    if index:
        _exec(cur, f"CREATE INDEX IF NOT EXISTS {name}_ix ON {name} ({index})")
    _exec(cur, f"TRUNCATE {name}")
    n = _exec(cur, f"INSERT INTO {name} {select}", params)
    if stats:
        _exec(cur, f"ANALYZE {name} ({stats})")
    return n


def temp_table(cur: Any, name: str, columns: str) -> None:
    """Temporary table ``name`` of these columns, empty (made once a connection, as ``temp_fill``)."""
    _exec(cur, f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}); TRUNCATE {name}")


WINDOW_COLUMNS = ("c bigint PRIMARY KEY, lo timestamptz NOT NULL, hi timestamptz NOT NULL, age text NOT NULL,"
                  " keys text[]")


def windows_load(cur: Any, windows: Windows, ages: Mapping[int, str]) -> None:
    """``dv_w(c, lo, hi, age, keys, has)``: one row a customer (``keys``: the client sessions it names, NULL
    for all: ``insights.session_store.Window``; ``has``: a stored session, set by ``windows_grow``)."""
    temp_table(cur, "dv_w", f"{WINDOW_COLUMNS}, has boolean NOT NULL DEFAULT false")
    rows = [(c, w.lo, w.hi, ages.get(c, "unknown"), None if w.keys is None else sorted(w.keys))
            for c, w in sorted(windows.items())]
    for i in range(0, len(rows), 1000):
        chunk = rows[i:i + 1000]
        _exec(cur, "INSERT INTO dv_w VALUES " + ", ".join(["(%s, %s, %s, %s, %s::text[])"] * len(chunk)),
              [v for r in chunk for v in r])
    _exec(cur, "ANALYZE dv_w")


# The stored sessions (s) that re-deriving window {w} can change: an idle-gap session within the idle gap
# of it, a client session overlapping it that it names (insights.session_store.sessions_in_windows).
_REACHED = ("s.customer_id = {w}.c AND s.last_event_at >= {w}.lo - %(idle)s AND s.started_at <= {w}.hi + %(idle)s"
            f" AND (starts_with(s.key, '{GAP_KEY}') OR (s.last_event_at >= {{w}}.lo AND s.started_at <= {{w}}.hi"
            " AND ({w}.keys IS NULL OR s.key = ANY({w}.keys))))")
# An event {e} of window {w} its sessions hold: without a session id, or of a client session it names.
_HELD = "({w}.keys IS NULL OR COALESCE({e}.session_id, '') = '' OR 's:' || {e}.session_id = ANY({w}.keys))"

_GROW_OVERLAP = """
UPDATE dv_w w SET lo = LEAST(w.lo, x.lo), hi = GREATEST(w.hi, x.hi)
FROM (SELECT w.c, min(s.started_at) AS lo, max(s.last_event_at) AS hi FROM dv_w w
      JOIN insights_session s ON """ + _REACHED.format(w="w") + """ GROUP BY w.c) x
WHERE x.c = w.c AND (x.lo < w.lo OR x.hi > w.hi)"""

# The session keys of the client session ids seen in the windows of customers with a stored session.
_KEYS_SEEN = """(SELECT DISTINCT e.customer_id AS c, 's:' || e.session_id AS k FROM dv_w w JOIN events_event e
 ON e.customer_id = w.c AND e.timestamp >= w.lo AND e.timestamp <= w.hi WHERE w.has AND e.session_id <> ''
 AND """ + _HELD.format(w="w", e="e") + """{bots}) ek"""
_GROW_KEYS = """
UPDATE dv_w w SET lo = LEAST(w.lo, x.lo), hi = GREATEST(w.hi, x.hi)
FROM (SELECT s.customer_id AS c, min(s.started_at) AS lo, max(s.last_event_at) AS hi FROM """ + _KEYS_SEEN + """
      JOIN insights_session s ON s.customer_id = ek.c AND s.key = ek.k GROUP BY s.customer_id) x
WHERE x.c = w.c AND (x.lo < w.lo OR x.hi > w.hi)"""

_STORED_OVERLAP = """
SELECT s.id, s.customer_id AS c, s.key AS k FROM dv_w w JOIN insights_session s ON """ + _REACHED.format(w="w")
_STORED = _STORED_OVERLAP + """
UNION
SELECT s.id, s.customer_id, s.key FROM """ + _KEYS_SEEN + """
JOIN insights_session s ON s.customer_id = ek.c AND s.key = ek.k"""
# Customers with a stored session at all: only theirs can grow or be replaced (a backfill's have none).
_HAS = "UPDATE dv_w w SET has = true WHERE EXISTS (SELECT 1 FROM insights_session s WHERE s.customer_id = w.c)"


# Both growths in one recursive statement: a round adds the stored sessions a window reaches (_REACHED) and
# those a client session id of its events names, until a round adds nothing. Both only widen, so it stops where
# the rounds of _GROW_OVERLAP and _GROW_KEYS stop; it changes dv_w only when all stopped within _GROW_ROUNDS.
_GROW = """
WITH RECURSIVE g (c, lo, hi, keys, d) AS (
  SELECT c, lo, hi, keys, 0 FROM dv_w WHERE has
  UNION ALL
  SELECT g.c, LEAST(g.lo, o.lo, kx.lo), GREATEST(g.hi, o.hi, kx.hi), g.keys, g.d + 1
  FROM g
  CROSS JOIN LATERAL (SELECT min(s.started_at) AS lo, max(s.last_event_at) AS hi FROM insights_session s
                      WHERE """ + _REACHED.format(w="g") + """) o
  CROSS JOIN LATERAL (SELECT min(s.started_at) AS lo, max(s.last_event_at) AS hi
                      FROM (SELECT DISTINCT 's:' || e.session_id AS k FROM events_event e
                            WHERE e.customer_id = g.c AND e.timestamp >= g.lo AND e.timestamp <= g.hi
                              AND e.session_id <> '' AND """ + _HELD.format(w="g", e="e") + """{bots}) ek
                      JOIN insights_session s ON s.customer_id = g.c AND s.key = ek.k) kx
  WHERE g.d < %(rounds)s AND (LEAST(o.lo, kx.lo) < g.lo OR GREATEST(o.hi, kx.hi) > g.hi)),
grown AS (SELECT c, min(lo) AS lo, max(hi) AS hi, max(d) AS d FROM g GROUP BY c),
up AS (UPDATE dv_w w SET lo = x.lo, hi = x.hi FROM grown x
       WHERE x.c = w.c AND x.d > 0 AND (SELECT max(d) FROM grown) < %(rounds)s)
SELECT max(d) FROM grown"""


def windows_grow(cur: Any) -> None:
    """Grow ``dv_w`` as ``insights.services._sessions_reached`` does; ``dv_old``: the stored sessions replaced."""
    idle = {"idle": IDLE}
    temp_table(cur, "dv_old", "id bigint, c bigint, k text")
    if not _exec(cur, _HAS):
        return
    cur.execute(_GROW.format(bots=_bots("e")), {**idle, "rounds": _GROW_ROUNDS})
    converged = int(cur.fetchone()[0] or 0) < _GROW_ROUNDS or _grow_by_rounds(cur)
    # Once the growth converged, every session named by a key of the windows' events lies inside its
    # window, so the overlap finds it; the keys matter only when the rounds ran out.
    stored = _STORED_OVERLAP if converged else _STORED.format(bots=_bots("e"))
    _exec(cur, "INSERT INTO dv_old " + stored, idle)
    _exec(cur, "ANALYZE dv_old (id, c, k)")


def _grow_by_rounds(cur: Any) -> bool:
    """The growth in rounds (each: the overlap until nothing grows, then the keys); whether it converged."""
    for _ in range(_GROW_ROUNDS):
        while _exec(cur, _GROW_OVERLAP, {"idle": IDLE}):
            pass
        if not _exec(cur, _GROW_KEYS.format(bots=_bots("e"))):
            return True
    return False


_EVENTS = """
WITH ev AS (
  SELECT e.id, e.customer_id AS c, e.product_id AS p, COALESCE(e.session_id, '') AS sid, e.action AS a,
         e.quantity AS q, e.price, e.order_id AS o, e.timestamp AS ts, e.discount,
         COALESCE(e.amount, e.price * e.quantity) AS line, e.namespace = %(browser)s AND e.action = 'purchase' AS bp,
         CASE WHEN e.context IS NULL OR e.context IN ('{{}}'::jsonb, '[]'::jsonb, '""'::jsonb, '0'::jsonb,
              'false'::jsonb, 'null'::jsonb) THEN NULL ELSE e.context END AS ctx,
         (e.action = 'purchase' AND e.order_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM events_event x WHERE x.action = 'cancel' AND x.order_id = e.order_id{bots_x})) AS xl
  FROM dv_w w JOIN events_event e ON e.customer_id = w.c AND e.timestamp >= w.lo AND e.timestamp <= w.hi
  WHERE e.action NOT IN ('refund', 'cancel') AND """ + _HELD.format(w="w", e="e") + """{bots_e}),
gap AS (
  SELECT id, c, ts, CASE WHEN ts - lag(ts) OVER (PARTITION BY c ORDER BY ts, id) >= %(idle)s THEN 1 ELSE 0 END AS brk
  FROM ev WHERE sid = ''),
grp AS (SELECT id, c, ts, sum(brk) OVER (PARTITION BY c ORDER BY ts, id) AS g FROM gap),
gkey AS (SELECT id, 'g:' || {iso_start} AS k FROM (SELECT id, min(ts) OVER (PARTITION BY c, g) AS st FROM grp) x)
SELECT ev.*, false AS cf, COALESCE(gkey.k, 's:' || ev.sid) AS k,
       row_number() OVER (PARTITION BY ev.c, COALESCE(gkey.k, 's:' || ev.sid) ORDER BY ev.ts, ev.id) AS rn
FROM ev LEFT JOIN gkey ON gkey.id = ev.id"""


def events_keyed(cur: Any) -> None:
    """``dv_ev``: the windows' counted events with their session key and place in it (``rn``); ``xl``:
    the purchase line counts as none (cancelled order, void browser line), ``cf``: a confirmed browser
    line (the purchase without money or order)."""
    temp_fill(cur, "dv_ev", _EVENTS.format(bots_x=_bots("x"), bots_e=_bots("e"), iso_start=_iso("st")),
              {"idle": IDLE, "browser": BROWSER_NAMESPACE}, index="c, k, rn", stats="c, k, o")
    cur.execute("SELECT EXISTS (SELECT 1 FROM dv_ev WHERE bp AND NOT xl)")
    if cur.fetchone()[0]:
        browser_verdicts(cur)


# What each browser purchase line counts as (events.verification.BrowserOrders.verdict), per order id
# against the earliest verified (store-level) line of that id (event_verified_order_idx).
_VERDICTS = """
WITH vo AS (
  SELECT b.o, (SELECT min(v.timestamp) FROM events_event v WHERE v.order_id = b.o AND v.action = 'purchase'
               AND v.namespace <> %(browser)s{bots_v}) AS vat
  FROM (SELECT DISTINCT o FROM dv_ev WHERE bp AND NOT xl AND o IS NOT NULL) b)
UPDATE dv_ev d SET cf = vo.vat <= d.ts + %(window)s, xl = vo.vat > d.ts + %(window)s
FROM vo WHERE d.bp AND NOT d.xl AND d.o = vo.o AND vo.vat IS NOT NULL"""


def browser_verdicts(cur: Any) -> None:
    """Mark the browser purchase lines of ``dv_ev`` confirmed (``cf``) or void (``xl``); the rest count."""
    _exec(cur, _VERDICTS.format(bots_v=_bots("v")), {
        "browser": BROWSER_NAMESPACE, "window": dt.timedelta(hours=settings.BROWSER_ORDER_CONFIRM_HOURS)})
    if not counts_unconfirmed():  # no verified order has their id: void unless the revenue source is browser
        _exec(cur, "UPDATE dv_ev SET xl = true WHERE bp AND NOT xl AND NOT cf")


# Each line's order key (insights.derivation: "o:<order id>", else the session's own).
_OK = "CASE WHEN o IS NOT NULL AND o <> '' THEN 'o:' || o ELSE 's:' || k END"

_PRODUCTS = f"""
WITH e AS (SELECT * FROM dv_ev WHERE p IS NOT NULL AND NOT xl),
fin AS (  -- the cart quantity: a running sum clamped at zero, S = P - least(0, min P) (Lindley)
  SELECT c, k, p, sum(d) - LEAST(0, min(ps)) AS final
  FROM (SELECT c, k, p, d, sum(d) OVER (PARTITION BY c, k, p ORDER BY rn) AS ps
        FROM (SELECT c, k, p, rn, CASE WHEN a = 'add_to_cart' THEN q ELSE -q END AS d
              FROM e WHERE a IN ('add_to_cart', 'remove_from_cart')) y) z
  GROUP BY c, k, p),
la AS (SELECT DISTINCT ON (c, k, p) c, k, p, rn AS la_rn, price AS la_price FROM e WHERE a = 'add_to_cart'
       ORDER BY c, k, p, rn DESC),
ords AS (SELECT c, k, p, jsonb_agg(ok ORDER BY first_rn) AS keys
         FROM (SELECT c, k, p, {_OK} AS ok, min(rn) AS first_rn FROM e WHERE a = 'purchase' AND NOT cf
                 GROUP BY 1, 2, 3, 4) z
         GROUP BY c, k, p),
agg AS (
  SELECT e.c, e.k, e.p,
         (bool_or(a = 'view'))::int + 2 * (bool_or(a = 'add_to_cart'))::int
           + 4 * (bool_or(a = 'purchase'))::int AS flags,
         COALESCE(sum(q) FILTER (WHERE a = 'purchase' AND NOT cf), 0) AS units,
         sum(line) FILTER (WHERE a = 'purchase' AND NOT cf) AS revenue,
         COALESCE(sum(q) FILTER (WHERE a = 'add_to_cart'), 0) AS added,
         count(*) FILTER (WHERE a = 'view') AS views,
         bool_or(a = 'purchase') AS bought
  FROM e GROUP BY e.c, e.k, e.p),
pp AS (  -- unit price: the last add_to_cart's; a purchase line's when it is still 0 (the first not 0 after it)
  SELECT e.c, e.k, e.p, (array_agg(e.price ORDER BY e.rn) FILTER (WHERE e.price <> 0))[1] AS bought_price,
         (array_agg(e.price ORDER BY e.rn))[1] AS any_price
  FROM e LEFT JOIN la USING (c, k, p) WHERE e.a = 'purchase' AND e.rn > COALESCE(la.la_rn, 0)
  GROUP BY e.c, e.k, e.p)
SELECT agg.*, COALESCE(fin.final, 0) AS final, COALESCE(ords.keys, '[]'::jsonb) AS keys,
       CASE WHEN la.la_rn IS NOT NULL AND la.la_price <> 0 THEN la.la_price
            WHEN pp.bought_price IS NOT NULL THEN pp.bought_price
            WHEN la.la_rn IS NOT NULL THEN la.la_price
            ELSE pp.any_price END AS price
FROM agg LEFT JOIN fin USING (c, k, p) LEFT JOIN la USING (c, k, p) LEFT JOIN ords USING (c, k, p)
LEFT JOIN pp USING (c, k, p)"""


def products_derive(cur: Any) -> None:
    """``dv_p``: each product of each session (``ProductInSession``); ``price`` NULL = never set (0)."""
    temp_fill(cur, "dv_p", _PRODUCTS, index="c, k", stats="c, k")


def traffic_load(cur: Any) -> None:
    """``dv_t``: the traffic source (``insights.channels``) of each distinct context."""
    cur.execute("SELECT DISTINCT ctx FROM dv_ev WHERE ctx IS NOT NULL")
    contexts = [c.decode() if isinstance(c, bytes) else c if isinstance(c, str) else json.dumps(c)
                for (c,) in cur.fetchall()]
    temp_table(cur, "dv_t", "ctx jsonb PRIMARY KEY, channel text, source text, medium text, campaign text,"
                            " landing text")
    rows = []
    for text in contexts:
        t = session_traffic(json.loads(text))
        rows.append((text, t.channel, t.source, t.medium, t.campaign, t.landing_page))
    for i in range(0, len(rows), 1000):
        chunk = rows[i:i + 1000]
        _exec(cur, "INSERT INTO dv_t VALUES " + ", ".join(["(%s::jsonb, %s, %s, %s, %s, %s)"] * len(chunk)),
              [v for r in chunk for v in r])


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_DIRECT = session_traffic(None)
_SESSIONS = f"""
WITH base AS (
  SELECT c, k, min(ts) AS started_at, max(ts) AS last_event_at, count(*) AS n,
         (array_agg(sid ORDER BY rn))[1] AS sid,
         array_agg(CASE WHEN xl THEN 'x' ELSE a END ORDER BY rn) AS acts,
         array_agg(ts ORDER BY rn) AS tss,
         bool_or(a = 'checkout') AS checkout,
         max(ts) FILTER (WHERE a = 'purchase') AS last_purchase_at,
         sum(line) FILTER (WHERE a = 'purchase' AND NOT xl AND NOT cf) AS revenue, bool_or(cf) AS confirmed,
         (array_agg(ctx ORDER BY rn) FILTER (WHERE ctx IS NOT NULL))[1] AS ctx
  FROM dv_ev GROUP BY c, k),
pos AS (
  SELECT b.*, array_position(acts, 'add_to_cart') AS co, array_position(acts, 'view') AS t1 FROM base b),
steps AS (
  SELECT p.*, CASE WHEN t1 IS NOT NULL THEN array_position(acts, 'add_to_cart', t1 + 1) END AS t2 FROM pos p),
steps3 AS (SELECT s.*, CASE WHEN t2 IS NOT NULL THEN array_position(acts, 'checkout', t2 + 1) END AS t3 FROM steps s),
steps4 AS (SELECT s.*, CASE WHEN t3 IS NOT NULL THEN array_position(acts, 'purchase', t3 + 1) END AS t4,
                  tss[CASE WHEN co IS NOT NULL THEN array_position(acts, 'abandon', co + 1) END] AS abandon_at,
                  tss[CASE WHEN co IS NOT NULL THEN array_position(acts, 'purchase', co + 1) END]
                    AS bought_after_cart FROM steps3 s),
orders AS (
  SELECT c, k, count(*) AS n, jsonb_agg(jsonb_build_array(ok, {_iso("first")}) ORDER BY first, ok COLLATE "C") AS j,
         sum(disc) AS discounts
  FROM (SELECT c, k, {_OK} AS ok, min(ts) AS first,
               (array_agg(discount ORDER BY rn) FILTER (WHERE discount IS NOT NULL AND discount <> 0))[1] AS disc
        FROM dv_ev WHERE a = 'purchase' AND NOT xl AND NOT cf GROUP BY 1, 2, 3) o
  GROUP BY c, k),
prods AS (
  SELECT c, k, sum(final) AS items, sum(COALESCE(price, 0) * final) AS value, bool_or(price IS NOT NULL) AS priced,
         jsonb_object_agg(p::text, jsonb_build_array(flags, units, COALESCE(revenue::text, '0'), keys, added, final,
                                                     COALESCE(price::text, '0'), views)) AS j
  FROM dv_p GROUP BY c, k),
full_ AS (
  SELECT s.*, (SELECT w.age FROM dv_w w WHERE w.c = s.c) AS age, %(as_of)s - s.last_event_at >= %(idle)s AS closed,
         CASE WHEN t1 IS NULL THEN 0 WHEN t2 IS NULL THEN 1 WHEN t3 IS NULL THEN 2 WHEN t4 IS NULL THEN 3 ELSE 4 END
           AS funnel_step,
         COALESCE(o.n, 0) AS order_count, o.j AS orders_j, COALESCE(o.discounts::text, '0') AS discounts_t,
         COALESCE(o.discounts, 0) AS discounts,
         COALESCE(pr.items, 0) AS items, CASE WHEN pr.priced THEN pr.value::text ELSE '0' END AS value_t,
         COALESCE(pr.value, 0) AS value, pr.j AS products_j,
         COALESCE(t.channel, %(channel)s) AS channel, COALESCE(t.source, %(source)s) AS source,
         COALESCE(t.medium, %(medium)s) AS medium, COALESCE(t.campaign, %(campaign)s) AS campaign,
         COALESCE(t.landing, %(landing)s) AS landing
  FROM steps4 s LEFT JOIN orders o USING (c, k) LEFT JOIN prods pr USING (c, k)
  LEFT JOIN dv_t t ON t.ctx = s.ctx),
carted AS (
  SELECT f.*, CASE WHEN co IS NULL THEN NULL WHEN bought_after_cart IS NOT NULL THEN 'converted'
                   WHEN closed OR abandon_at IS NOT NULL THEN CASE WHEN items > 0 THEN 'abandoned' ELSE 'emptied' END
                   ELSE 'open' END AS cart_state,
         CASE WHEN co IS NULL THEN NULL WHEN bought_after_cart IS NOT NULL THEN bought_after_cart
              WHEN closed OR abandon_at IS NOT NULL THEN COALESCE(abandon_at, last_event_at) END AS cart_closed_at,
         tss[co] AS cart_opened_at
  FROM full_ f)
SELECT c, k, sid, age, started_at, last_event_at, closed, n, funnel_step, order_count > 0 OR confirmed AS purchased,
       COALESCE(revenue, 0) AS revenue, order_count, discounts, channel, source, medium, campaign, landing,
       cart_state, items, value, CASE WHEN cart_state = 'abandoned' THEN value ELSE 0 END AS revenue_left,
       cart_opened_at, cart_closed_at, last_purchase_at, COALESCE(orders_j, '[]'::jsonb) AS ok,
       jsonb_build_object(
         'c', c, 'k', k, 'sid', sid, 's', {_iso("started_at")}, 'l', {_iso("last_event_at")}, 'cl', closed,
         'n', n, 'f', funnel_step, 'p', order_count > 0 OR confirmed, 'r', COALESCE(revenue::text, '0'),
         'o', COALESCE(orders_j, '[]'::jsonb),
         'a', CASE WHEN abandon_at IS NULL THEN NULL ELSE {_iso("abandon_at")} END, 'co', checkout,
         'lp', CASE WHEN last_purchase_at IS NULL THEN NULL ELSE {_iso("last_purchase_at")} END,
         'pr', COALESCE(products_j, '{{}}'::jsonb),
         't', jsonb_build_array(channel, source, medium, campaign, landing, discounts_t),
         'cart', CASE WHEN cart_state IS NULL THEN NULL ELSE jsonb_build_array(
           {_iso("tss[co]")}, cart_state,
           CASE WHEN cart_closed_at IS NULL THEN NULL ELSE {_iso("cart_closed_at")} END,
           items, value_t, CASE WHEN cart_state = 'abandoned' THEN value_t ELSE '0' END) END) AS summary
FROM carted""".replace("%(channel)s", _lit(_DIRECT.channel)).replace("%(source)s", _lit(_DIRECT.source)).replace(
        "%(medium)s", _lit(_DIRECT.medium)).replace("%(campaign)s", _lit(_DIRECT.campaign)).replace(
        "%(landing)s", _lit(_DIRECT.landing_page))


def sessions_derive(cur: Any, *, as_of: dt.datetime) -> None:
    """``dv_s``: every session of ``dv_ev`` with its columns, its cart's and its summary."""
    temp_fill(cur, "dv_s", _SESSIONS, {"as_of": as_of, "idle": IDLE}, index="c, k", stats="c, k")


# The incremental derivation reads a few customers' recent events and sessions, which are in memory:
# with the default cost of a random page (4, a spinning disk's), the planner scans all of the events
# for a batch of a few hundred customers on a store of a few hundred thousand events instead of
# reading their rows by the (customer, timestamp) index. For the transaction only
# (docs/derivation.md#server-settings).
INCREMENTAL_SETTINGS = {"random_page_cost": "1.1"}


def derive_into_temp(windows: Windows, ages: Mapping[int, str], *, as_of: dt.datetime) -> None:
    """Fill ``dv_w``, ``dv_old`` (stored sessions replaced) and ``dv_s`` (their derivation) for these windows."""
    with connection.cursor() as cur:
        for name, value in INCREMENTAL_SETTINGS.items():
            cur.execute("SELECT set_config(%s, %s, true)", [name, value])
        windows_load(cur, windows, ages)
        windows_grow(cur)
        events_keyed(cur)
        products_derive(cur)
        traffic_load(cur)
        sessions_derive(cur, as_of=as_of)

