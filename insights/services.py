"""Writes for derived analytics: sessions, carts and rollups.

Two steps keep the ingest path cheap (a handful of set-based statements per batch, never per event):

1. ``analytics_apply_events`` runs inside the ingest transaction. It adds the new events' own counters
   to the event-grained rollups (so event counts and revenue are live the moment the batch commits)
   and records, per customer, the time window the batch touched (``PendingWindow``).
2. ``analytics_process_pending`` (the ``process_pending_analytics_task`` beat task, every 2 s)
   re-derives the sessions and carts of those windows with the pure ``insights.derivation`` and
   adjusts the session-grained rollups by the difference (old contribution out, new in). A late event
   re-derives exactly the sessions it touches. ``sessions_close_idle`` (beat, every minute) closes
   sessions idle for 30 minutes the same way, which turns their open carts abandoned or emptied.

``analytics_rebuild`` recomputes everything from the events with the same contribution functions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from customers.models import Customer
from events.models import Event
from events.types import StoredEvent
from insights.contributions import (
    Contributions,
    add_event_contributions,
    add_session_contributions,
    new_contributions,
)
from insights.derivation import IDLE, DerivedSession, derive_sessions
from insights.filters import store_tz
from insights.models import (
    Cart,
    CartValueDaily,
    CustomerDaily,
    CustomerTotals,
    EventDaily,
    EventHourly,
    PendingWindow,
    ProductDaily,
    Session,
    SessionDaily,
    SessionHourly,
)
from products.models import Product

ROLLUPS: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "ev_h": (EventHourly, ("hour", "action", "age_group")),
    "ev_d": (EventDaily, ("day", "action", "age_group", "category")),
    "ss_h": (SessionHourly, ("hour", "age_group")),
    "ss_d": (SessionDaily, ("day", "age_group", "category")),
    "pr_d": (ProductDaily, ("day", "product_id", "age_group")),
    "cu_d": (CustomerDaily, ("day", "customer_id")),
    "cv_d": (CartValueDaily, ("day", "age_group", "category", "bucket")),
    "cu_t": (CustomerTotals, ("customer_id",)),
}
MIN_COLUMNS = {"first_seen"}
MAX_COLUMNS = {"last_seen", "last_purchase_at"}
DERIVED_MODELS: tuple[type[models.Model], ...] = (Cart, Session, PendingWindow, *(m for m, _ in ROLLUPS.values()))
_LOCK_ID = 815_514_005  # pg advisory lock serialising session re-derivation
_CHUNK_ROWS = 400


# --- low-level: add contributions to the rollup tables ------------------------------------------


def _adapter() -> Callable[[Any], Any] | None:
    """Parameter conversion for raw SQL: psycopg2 adapts datetimes, dates and Decimals itself; SQLite
    needs Django's text forms (naive UTC datetimes) to compare with what the ORM stored."""
    if connection.vendor == "postgresql":
        return None
    ops = connection.ops

    def adapt(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, dt.date):
            return ops.adapt_datefield_value(value)
        if isinstance(value, Decimal):
            return str(value)
        return value

    return adapt


def _upsert_add(table_key: str, rows: Mapping[tuple, Mapping[str, Any]]) -> int:
    """INSERT … ON CONFLICT DO UPDATE SET c = c + excluded.c for every counter (min/max for times)."""
    model, key_cols = ROLLUPS[table_key]
    live = {k: v for k, v in rows.items() if any(v.values())}
    if not live:
        return 0
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key and f.column not in key_cols]
    table = connection.ops.quote_name(model._meta.db_table)
    q = connection.ops.quote_name
    least, greatest = ("MIN", "MAX") if connection.vendor == "sqlite" else ("LEAST", "GREATEST")
    sets = []
    for c in columns:
        if c in MIN_COLUMNS or c in MAX_COLUMNS:
            fn = least if c in MIN_COLUMNS else greatest
            sets.append(f"{q(c)} = {fn}(COALESCE({table}.{q(c)}, EXCLUDED.{q(c)}), "
                        f"COALESCE(EXCLUDED.{q(c)}, {table}.{q(c)}))")
        else:
            sets.append(f"{q(c)} = {table}.{q(c)} + EXCLUDED.{q(c)}")
    all_cols = list(key_cols) + columns
    placeholder = "(" + ", ".join(["%s"] * len(all_cols)) + ")"
    head = f"INSERT INTO {table} ({', '.join(q(c) for c in all_cols)}) VALUES "
    tail = f" ON CONFLICT ({', '.join(q(c) for c in key_cols)}) DO UPDATE SET {', '.join(sets)}"
    keys = sorted(live)  # one lock order for every writer: no deadlocks between concurrent batches
    defaults = [None if c in MIN_COLUMNS or c in MAX_COLUMNS else 0 for c in columns]
    adapt = _adapter()
    with connection.cursor() as cur:
        for i in range(0, len(keys), _CHUNK_ROWS):
            chunk = keys[i:i + _CHUNK_ROWS]
            params: list[Any] = []
            for k in chunk:
                values = live[k]
                params.extend(k)
                params.extend([values.get(c, d) for c, d in zip(columns, defaults, strict=True)])
            if adapt is not None:
                params = [adapt(p) for p in params]
            cur.execute(head + ", ".join([placeholder] * len(chunk)) + tail, params)
    return len(live)


def _apply(contrib: Contributions) -> None:
    for table_key in ROLLUPS:
        if table_key in contrib:
            _upsert_add(table_key, contrib[table_key])


def _categories(product_pks: Iterable[int | None]) -> dict[int, str]:
    pks = {pk for pk in product_pks if pk is not None}
    if not pks:
        return {}
    return dict(Product.objects.filter(pk__in=pks).values_list("pk", "category"))


def _ages(customer_pks: Iterable[int]) -> dict[int, str]:
    pks = list(set(customer_pks))
    if connection.vendor == "postgresql":  # one array parameter: much cheaper than thousands of IN params
        with connection.cursor() as cur:
            # JOIN unnest, not ``id = ANY(array)``: on a small table the planner picks a sequential
            # scan that compares every row with every array element (~50 ms for 3,500 ids).
            cur.execute(f"SELECT c.id, c.age_group FROM {Customer._meta.db_table} c"
                        f" JOIN unnest(%s::bigint[]) AS u(id) ON c.id = u.id", [pks])
            return dict(cur.fetchall())
    out: dict[int, str] = {}
    for i in range(0, len(pks), 900):
        out.update(Customer.objects.filter(pk__in=pks[i:i + 900]).values_list("pk", "age_group"))
    return out


# --- the ingest hook ------------------------------------------------------------------------------


def analytics_apply_events(*, events: Sequence[StoredEvent]) -> None:
    """Called by the ingest service inside its transaction with the newly stored events (never duplicates).

    Adds their event-grained counters and queues their customers' windows for session re-derivation.
    Runs in the caller's transaction (no atomic block of its own: it must commit or roll back with the
    events)."""
    if not events:
        return
    contrib = new_contributions()
    add_event_contributions(contrib, events, age_of=_ages(e.customer_pk for e in events),
                            category_of=_categories(e.product_pk for e in events), tz=store_tz())
    _apply(contrib)
    windows: dict[int, list[dt.datetime]] = {}
    for e in events:
        w = windows.get(e.customer_pk)
        if w is None:
            windows[e.customer_pk] = [e.timestamp, e.timestamp]
        elif e.timestamp < w[0]:
            w[0] = e.timestamp
        elif e.timestamp > w[1]:
            w[1] = e.timestamp
    # Whole seconds, widened outwards: re-deriving a slightly wider window is harmless.
    PendingWindow.objects.create(windows={str(c): [int(lo.timestamp()), int(hi.timestamp()) + 1]
                                          for c, (lo, hi) in windows.items()}, events=len(events))


# --- session re-derivation ---------------------------------------------------------------------


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
    # SQLite: transactions are IMMEDIATE, so writers are already serialised.


def _to_stored(row: tuple) -> StoredEvent:
    pk, event_id, customer_pk, product_pk, session_id, action, quantity, price, order_id, ts, amount = row
    return StoredEvent(pk=pk, event_id=event_id, customer_pk=customer_pk, product_pk=product_pk,
                       session_id=session_id or "", action=action, quantity=quantity, price=price,
                       order_id=order_id, timestamp=ts, amount=amount)


EVENT_FIELDS = ("pk", "event_id", "customer_id", "product_id", "session_id", "action", "quantity", "price",
                "order_id", "timestamp", "amount")
_CENT = Decimal("0.01")


@dataclass(slots=True)
class _StoredSession:
    pk: int
    customer_id: int
    key: str
    age_group: str
    started_at: dt.datetime
    last_event_at: dt.datetime
    summary: dict


def _read_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _windows_cte(windows: Mapping[int, tuple[dt.datetime, dt.datetime]], pad: dt.timedelta) -> tuple[str, list]:
    """``WITH w(c, lo, hi) AS (VALUES …)``: one statement for any number of customer windows."""
    adapt = _adapter() or (lambda v: v)
    params: list[Any] = []
    for cust, (lo, hi) in windows.items():
        params.extend((cust, adapt(lo - pad), adapt(hi + pad)))
    cast = "::timestamptz" if connection.vendor == "postgresql" else ""
    first = f"(%s, %s{cast}, %s{cast})"
    values = ", ".join([first] + ["(%s, %s, %s)"] * (len(windows) - 1))
    return f"WITH w(c, lo, hi) AS (VALUES {values})", params


def _load_events(windows: Mapping[int, tuple[dt.datetime, dt.datetime]]) -> list[StoredEvent]:
    if not windows:
        return []
    cte, params = _windows_cte(windows, dt.timedelta(0))
    table = Event._meta.db_table
    sql = (f"{cte} SELECT e.id, e.event_id, e.customer_id, e.product_id, e.session_id, e.action, e.quantity,"
           f" e.price, e.order_id, e.timestamp, e.amount FROM {table} e JOIN w ON e.customer_id = w.c"
           f" AND e.timestamp >= w.lo AND e.timestamp <= w.hi")
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    if connection.vendor == "postgresql":
        return [_to_stored(r) for r in rows]
    return [StoredEvent(r[0], r[1], r[2], r[3], r[4] or "", r[5], r[6], Decimal(str(r[7])).quantize(_CENT), r[8],
                        _read_datetime(r[9]), None if r[10] is None else Decimal(str(r[10])).quantize(_CENT))
            for r in rows]


def _session_rows(sql: str, params: list) -> list[_StoredSession]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    return [_StoredSession(r[0], r[1], r[2], r[3], _read_datetime(r[4]), _read_datetime(r[5]),
                           json.loads(r[6]) if isinstance(r[6], str | bytes) else r[6]) for r in rows]


_SESSION_COLS = "s.id, s.customer_id, s.key, s.age_group, s.started_at, s.last_event_at, s.summary"


def _load_sessions(windows: Mapping[int, tuple[dt.datetime, dt.datetime]]) -> list[_StoredSession]:
    """Stored sessions of these customers overlapping their windows widened by the idle gap."""
    if not windows:
        return []
    cte, params = _windows_cte(windows, IDLE)
    return _session_rows(f"{cte} SELECT {_SESSION_COLS} FROM {Session._meta.db_table} s JOIN w"
                         f" ON s.customer_id = w.c AND s.last_event_at >= w.lo AND s.started_at <= w.hi", params)


def _load_sessions_by_key(keys: Iterable[tuple[int, str]]) -> list[_StoredSession]:
    keys = list(keys)
    out: list[_StoredSession] = []
    for i in range(0, len(keys), 400):
        chunk = keys[i:i + 400]
        values = ", ".join(["(%s, %s)"] * len(chunk))
        params = [x for k in chunk for x in k]
        out.extend(_session_rows(f"WITH k(c, key) AS (VALUES {values}) SELECT {_SESSION_COLS}"
                                 f" FROM {Session._meta.db_table} s JOIN k ON s.customer_id = k.c AND s.key = k.key",
                                 params))
    return out


def _rederive_chunk(windows: dict[int, tuple[dt.datetime, dt.datetime]], *, as_of: dt.datetime) -> dict[str, int]:
    """Re-derive every session of these customers' windows; replace the changed ones; adjust rollups."""
    old: dict[int, _StoredSession] = {}
    windows = dict(windows)

    def take(found: Iterable[_StoredSession]) -> bool:
        grew = False
        for s in found:
            if s.pk in old:
                continue
            old[s.pk] = s
            lo, hi = windows[s.customer_id]
            if s.started_at < lo or s.last_event_at > hi:
                windows[s.customer_id] = (min(lo, s.started_at), max(hi, s.last_event_at))
                grew = True
        return grew

    events: list[StoredEvent] = []
    for _ in range(20):
        # Grow each window until no stored session overlaps its edges (within 30 minutes).
        while take(_load_sessions(windows)):
            pass
        events = _load_events(windows)
        # A client session id seen here may have older events beyond the window: take its whole span.
        known = {(s.customer_id, s.key) for s in old.values()}
        missing = {(e.customer_pk, f"s:{e.session_id}") for e in events if e.session_id} - known
        if not missing or not take(_load_sessions_by_key(missing)):
            break

    derived = derive_sessions(events, as_of=as_of)
    ages = _ages(windows)
    old_by_key = {(s.customer_id, s.key): s for s in old.values()}
    new_by_key = {(d.customer_pk, d.key): d for d in derived}
    unchanged = {k for k, s in old_by_key.items()
                 if k in new_by_key and s.summary == new_by_key[k].to_json()
                 and s.age_group == ages.get(k[0], "unknown")}
    gone = [s for k, s in old_by_key.items() if k not in unchanged]
    fresh = [d for k, d in new_by_key.items() if k not in unchanged]
    if not gone and not fresh:
        return {"removed": 0, "added": 0}

    old_derived = [(DerivedSession.from_json(s.summary), s.age_group) for s in gone]
    product_pks = {pk for d, _ in old_derived for pk in d.products} | {pk for d in fresh for pk in d.products}
    category_of = _categories(product_pks)
    contrib = new_contributions()
    tz = store_tz()
    add_session_contributions(contrib, old_derived, category_of=category_of, tz=tz, sign=-1)
    add_session_contributions(contrib, [(d, ages.get(d.customer_pk, "unknown")) for d in fresh],
                              category_of=category_of, tz=tz, sign=1)
    gone_pks = [s.pk for s in gone]
    for i in range(0, len(gone_pks), 900):
        Cart.objects.filter(session_id__in=gone_pks[i:i + 900])._raw_delete(connection.alias)
        Session.objects.filter(pk__in=gone_pks[i:i + 900])._raw_delete(connection.alias)
    _insert_sessions(fresh, ages)
    _apply(contrib)
    return {"removed": len(gone), "added": len(fresh)}


def _insert_many(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, returning: bool) -> list[int]:
    q = connection.ops.quote_name
    adapt = _adapter()
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    ids: list[int] = []
    with connection.cursor() as cur:
        for i in range(0, len(rows), 500):
            chunk = rows[i:i + 500]
            params = [v for row in chunk for v in row]
            if adapt is not None:
                params = [adapt(v) for v in params]
            sql = (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES "
                   + ", ".join([placeholder] * len(chunk)) + (" RETURNING id" if returning else ""))
            cur.execute(sql, params)
            if returning:
                ids.extend(r[0] for r in cur.fetchall())
    return ids


SESSION_COLUMNS = ("customer_id", "key", "session_id", "age_group", "started_at", "last_event_at", "closed",
                   "event_count", "funnel_step", "purchased", "revenue", "order_count", "summary")
CART_COLUMNS = ("session_id", "customer_id", "age_group", "state", "items", "value", "revenue_left", "opened_at",
                "closed_at")


def _insert_sessions(derived: Sequence[DerivedSession], ages: Mapping[int, str]) -> None:
    """Plain multi-row INSERTs (RETURNING the ids for the carts): no model instances to build."""
    if not derived:
        return
    rows = [(d.customer_pk, d.key, d.session_id, ages.get(d.customer_pk, "unknown"), d.started_at, d.last_event_at,
             d.closed, d.event_count, d.funnel_step, d.purchased, d.revenue, d.order_count, json.dumps(d.to_json()))
            for d in derived]
    ids = _insert_many(Session._meta.db_table, SESSION_COLUMNS, rows, returning=True)
    carts = [(pk, d.customer_pk, ages.get(d.customer_pk, "unknown"), d.cart.state, d.cart.items, d.cart.value,
              d.cart.revenue_left, d.cart.opened_at, d.cart.closed_at)
             for pk, d in zip(ids, derived, strict=True) if d.cart is not None]
    _insert_many(Cart._meta.db_table, CART_COLUMNS, carts, returning=False)


@transaction.atomic
def sessions_rederive(*, windows: Mapping[int, tuple[dt.datetime, dt.datetime]],
                      as_of: dt.datetime | None = None) -> dict[str, int]:
    """Re-derive the sessions of the given customers' time windows (see module docstring)."""
    _lock()
    return _rederive_chunk(dict(windows), as_of=as_of or timezone.now())


@transaction.atomic
def _process_pending_chunk(*, max_rows: int, as_of: dt.datetime) -> int:
    _lock()
    pending = list(PendingWindow.objects.order_by("id").values_list("id", "windows")[:max_rows])
    if not pending:
        return 0
    windows: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    for _, batch in pending:
        for cust_key, (lo_s, hi_s) in batch.items():
            cust = int(cust_key)
            lo, hi = dt.datetime.fromtimestamp(lo_s, dt.UTC), dt.datetime.fromtimestamp(hi_s, dt.UTC)
            w = windows.get(cust)
            windows[cust] = (lo, hi) if w is None else (min(w[0], lo), max(w[1], hi))
    customers = sorted(windows)
    for i in range(0, len(customers), 200):
        _rederive_chunk({c: windows[c] for c in customers[i:i + 200]}, as_of=as_of)
    PendingWindow.objects.filter(id__in=[p[0] for p in pending]).delete()
    return len(pending)


def analytics_process_pending(*, max_rows: int = 20, as_of: dt.datetime | None = None) -> int:
    """Process every queued window (in chunks, one transaction each). Returns how many were processed."""
    total = 0
    while True:
        n = _process_pending_chunk(max_rows=max_rows, as_of=as_of or timezone.now())
        total += n
        if n < max_rows:
            return total


def sessions_close_idle(*, as_of: dt.datetime | None = None) -> int:
    """Close sessions idle for 30 minutes (their open carts become abandoned or emptied)."""
    as_of = as_of or timezone.now()
    closed = 0
    while True:
        with transaction.atomic():
            _lock()
            rows = list(Session.objects.filter(closed=False, last_event_at__lte=as_of - IDLE)
                        .order_by("last_event_at").values_list("customer_id", "started_at", "last_event_at")[:500])
            if not rows:
                return closed
            windows: dict[int, tuple[dt.datetime, dt.datetime]] = {}
            for cust, lo, hi in rows:
                w = windows.get(cust)
                windows[cust] = (lo, hi) if w is None else (min(w[0], lo), max(w[1], hi))
            _rederive_chunk(windows, as_of=as_of)
            closed += len(rows)


# --- full rebuild ----------------------------------------------------------------------------------


@transaction.atomic
def analytics_rebuild(*, as_of: dt.datetime | None = None,
                      progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Recompute sessions, carts and every rollup from the events (the reference for incremental upkeep)."""
    _lock()
    as_of = as_of or timezone.now()
    for model in DERIVED_MODELS:  # carts first: no cascade collection, one statement a table
        model._default_manager.all()._raw_delete(connection.alias)
    tz = store_tz()
    category_of = dict(Product.objects.values_list("pk", "category"))
    ages = dict(Customer.objects.values_list("pk", "age_group"))
    contrib = new_contributions()
    n_events = n_sessions = 0
    batch: list[StoredEvent] = []

    def flush(batch: list[StoredEvent]) -> None:
        nonlocal n_sessions
        add_event_contributions(contrib, batch, age_of=ages, category_of=category_of, tz=tz)
        derived = derive_sessions(batch, as_of=as_of)
        add_session_contributions(contrib, [(d, ages.get(d.customer_pk, "unknown")) for d in derived],
                                  category_of=category_of, tz=tz)
        _insert_sessions(derived, ages)
        n_sessions += len(derived)

    qs = Event.objects.order_by("customer_id", "timestamp", "id").values_list(*EVENT_FIELDS)
    for row in qs.iterator(chunk_size=20_000):
        e = _to_stored(row)
        if len(batch) >= 20_000 and batch[-1].customer_pk != e.customer_pk:
            flush(batch)
            if progress:
                progress(len(batch))
            batch = []
        batch.append(e)
        n_events += 1
    if batch:
        flush(batch)
        if progress:
            progress(len(batch))
    _apply(contrib)
    return {"events": n_events, "sessions": n_sessions}


def dashboard_session_end(*, session_key: str | None) -> None:
    """Close the dashboard sockets opened with this login session (called on logout).

    Best effort: a channel layer that is down must not fail the logout. Sockets that do not hear it
    (another process on the in-memory layer) still stop, because each reads its session again
    before every push."""
    if not session_key:
        return
    import logging

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from insights.consumers import session_group

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(session_group(session_key), {"type": "session.ended"})
    except Exception:  # noqa: BLE001 - the logout itself has happened; sockets re-check their session
        logging.getLogger(__name__).exception("closing dashboard sockets on logout failed")
