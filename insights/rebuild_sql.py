"""The full rebuild, set-based in PostgreSQL (docs/derivation.md#rebuild): the same sessions, carts and
rollups as the Python rebuild (``insights.rebuild``, the reference and this module's test oracle).

1. Every customer's window is their whole event span (``rb_w``), cut into batches of whole customers of
   about ``BATCH_EVENTS`` events; each batch is derived by the SQL engine's statements
   (``insights.derive_sql``: ``dv_ev``, ``dv_p``, ``dv_s``) and its sessions and carts inserted straight
   from ``dv_s`` (after the truncation there is nothing stored to compare with), their rows added to
   ``dv_ds``/``dv_dp`` as the drain adds its new sessions (``insights.derive_sql_delta.fresh_insert``).
2. Then, once over every session: the session-grained rollups (``insights.derive_sql_rollups``), the
   product pairs, the event-grained rollups and money, the retention rollups, the people bitmaps and
   the RFM scores (``insights.rebuild_sql_rollups``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.backends.utils import CursorWrapper

from customers.models import Customer
from insights.derive_helpers import Batch, Helpers, Plan, batches_derive
from insights.derive_sql import WINDOW_COLUMNS, _bots, events_keyed, products_derive, sessions_derive, traffic_load
from insights.derive_sql_delta import sessions_store_counted
from insights.derive_sql_rollups import deltas_reset, session_deltas_prepare, session_rollups_add
from insights.filters import store_tz
from insights.rebuild_sql_rollups import event_rollups_add, pair_rollups_add, retention_rollups_add
from insights.rfm_store import rfm_refresh
from insights.rollup_store import people_days_refresh

BATCH_EVENTS = 50_000  # events of one batch's derivation (its temporary tables; the worker holds none)
# For this transaction only, in the database server (not the worker): sorts, hashes and window functions
# over a batch's events in memory instead of temporary files; no JIT compilation of the long statements
# (it costs more than it saves on tables this size).
REBUILD_SETTINGS = {"work_mem": "256MB", "jit": "off"}
TEMP_BUFFERS = "512MB"  # temporary tables kept in memory; settable only before the session's first one

# Each customer's whole span of counted events, their age group and their batch (a running count of
# events in customer order, cut every BATCH_EVENTS: whole customers only).
_WINDOWS = """
DROP TABLE IF EXISTS rb_w;
CREATE TEMP TABLE rb_w AS
SELECT x.*, div(sum(n) OVER (ORDER BY c) - n, %(size)s)::int AS b
FROM (SELECT e.customer_id AS c, min(e.timestamp) AS lo, max(e.timestamp) AS hi, count(*) AS n
      FROM events_event e WHERE true{bots} GROUP BY e.customer_id) x;
ALTER TABLE rb_w ADD COLUMN age text;
UPDATE rb_w SET age = cu.age_group FROM customers_customer cu WHERE cu.id = rb_w.c;
DROP TABLE IF EXISTS dv_w;
CREATE TEMP TABLE dv_w (""" + WINDOW_COLUMNS + ")"

_BATCH = """
TRUNCATE dv_w;
INSERT INTO dv_w SELECT c, lo, hi, COALESCE(age, 'unknown') FROM rb_w WHERE b = %s ORDER BY c;
ANALYZE dv_w"""



# A helper connection's windows of a batch (insights.derive_helpers): its customers with their whole span of
# counted events, as ``rb_w`` (this connection's temporary table) holds them.
_HELPER_WINDOWS = """
CREATE TEMP TABLE IF NOT EXISTS dv_w (""" + WINDOW_COLUMNS + """);
TRUNCATE dv_w;
INSERT INTO dv_w
SELECT x.c, x.lo, x.hi, COALESCE(cu.age_group, 'unknown')
FROM (SELECT e.customer_id AS c, min(e.timestamp) AS lo, max(e.timestamp) AS hi FROM events_event e
      WHERE e.customer_id BETWEEN %s AND %s{bots} GROUP BY e.customer_id) x
LEFT JOIN customers_customer cu ON cu.id = x.c ORDER BY x.c;
ANALYZE dv_w"""


def _batches() -> list[Batch]:
    """``rb_w`` filled; each batch with its events and its first and last customer."""
    with connection.cursor() as cur:
        cur.execute(_WINDOWS.format(bots=_bots("e")), {"size": BATCH_EVENTS})
        cur.execute("SELECT b, sum(n), min(c), max(c) FROM rb_w GROUP BY b ORDER BY b")
        return [Batch(int(b), int(n), int(first), int(last)) for b, n, first, last in cur.fetchall()]


def derive_batch(cur: CursorWrapper, *, as_of: dt.datetime) -> None:
    """``dv_ev``, ``dv_p``, ``dv_s`` of the windows in ``dv_w``."""
    events_keyed(cur)
    products_derive(cur)
    traffic_load(cur)
    sessions_derive(cur, as_of=as_of)


def sessions_rebuild(*, as_of: dt.datetime, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Derive and store every customer's sessions and carts, a batch of whole customers at a time (by
    this connection and ``DERIVATION_WORKERS`` helpers: ``insights.derive_helpers``); returns (counted
    events, sessions)."""
    counted = [0, 0]
    tz = store_tz()
    deltas_reset()

    def store(batch: Batch) -> None:
        with connection.cursor() as cur:
            sessions_store_counted("dv_s", tz)  # stored, and their rows added to dv_ds/dv_dp
            cur.execute("SELECT count(*) FROM dv_s")
            counted[1] += int(cur.fetchone()[0])
        counted[0] += batch.events
        if progress:
            progress(batch.events)

    def own(batch: Batch) -> None:
        with connection.cursor() as cur:
            cur.execute(_BATCH, [batch.number])
            derive_batch(cur, as_of=as_of)
        store(batch)

    def helper(cur: CursorWrapper, batch: Batch) -> None:
        cur.execute(_HELPER_WINDOWS.format(bots=_bots("e")), [batch.first, batch.last])
        derive_batch(cur, as_of=as_of)

    def staged(helpers: Helpers, batch: Batch) -> None:
        with connection.cursor() as cur:
            helpers.take(cur, batch)
        store(batch)

    # Helpers see only what is committed: none when this rebuild runs inside a larger transaction (the
    # demo's reset deletes events and rebuilds in one), nor in a test's.
    workers = settings.DERIVATION_WORKERS if len(connection.atomic_blocks) == 1 else 0
    plan = Plan(helper, {"dv_s": "c, k", "dv_p": "c, k"}, REBUILD_SETTINGS, TEMP_BUFFERS)
    batches_derive(_batches(), workers=workers, plan=plan, own=own, staged=staged)
    return counted[0], counted[1]


def rollups_rebuild() -> None:
    """Every rollup from the stored sessions and the events (the tables are empty: nothing to subtract)."""
    tz = str(store_tz())
    session_deltas_prepare()
    flipped = session_rollups_add(from_empty=True)
    pair_rollups_add()
    event_rollups_add(tz)
    retention_rollups_add(dict(Customer.objects.values_list("pk", "age_group")))
    people_days_refresh(flipped)
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS dv_ds, dv_dp, dv_dc, dv_ev, dv_p, dv_s, dv_t, dv_w, rb_w, rb_em,"
                    " rb_et, rb_pairs")
    rfm_refresh()


def _server_settings() -> None:
    """``REBUILD_SETTINGS`` for this transaction; ``TEMP_BUFFERS`` when the session has used no temporary
    table yet (PostgreSQL refuses it afterwards: then the rebuild runs with the server's)."""
    with connection.cursor() as cur:
        for name, value in REBUILD_SETTINGS.items():
            cur.execute("SELECT set_config(%s, %s, true)", [name, value])
        try:
            with transaction.atomic():
                cur.execute("SELECT set_config('temp_buffers', %s, true)", [TEMP_BUFFERS])
        except DatabaseError:
            pass


def analytics_rebuild_sql(*, as_of: dt.datetime, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Sessions, carts and every rollup rebuilt set-based (the derived tables already emptied, under the
    derivation lock: ``insights.rebuild.analytics_rebuild``)."""
    _server_settings()
    n_events, n_sessions = sessions_rebuild(as_of=as_of, progress=progress)
    rollups_rebuild()
    return {"events": n_events, "sessions": n_sessions}
