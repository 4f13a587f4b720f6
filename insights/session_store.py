"""Loading and storing what session derivation reads and writes: events and stored sessions by
customer time windows (one statement for any number of windows), sessions and carts by multi-row
INSERT. The SQLite/PostgreSQL differences live here and in ``insights.rollup_store``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from events.models import Event
from events.types import StoredEvent
from events.verification import BROWSER_NAMESPACE
from insights.derivation import CART_OPEN, GAP_KEY, IDLE, DerivedSession, client_key
from insights.models import Cart, Session
from insights.rollup_store import rows_delete_by_pk, rows_insert, sql_param_adapter


class Window(NamedTuple):
    """A customer's time to re-derive: every idle-gap session it reaches, and the client sessions of
    ``keys`` (their session keys), or with ``keys`` None every client session overlapping it
    (docs/derivation.md#what-the-sql-engine-does)."""

    lo: dt.datetime
    hi: dt.datetime
    keys: frozenset[str] | None = None


Windows = dict[int, Window]  # customer pk → window
# (customer pk, first, last[, client session keys]): a span without keys reaches every client session
Span = tuple[int, dt.datetime, dt.datetime] | tuple[int, dt.datetime, dt.datetime, frozenset[str] | None]

EVENT_FIELDS = ("pk", "event_id", "customer_id", "product_id", "session_id", "action", "quantity", "price",
                "order_id", "timestamp", "amount", "discount", "coupon", "shipping", "tax", "context", "namespace")
EVENT_COLUMNS = ", ".join(f"e.{c}" for c in ("id", *EVENT_FIELDS[1:]))  # the same, in raw SQL (alias e)
SESSION_COLUMNS = ("customer_id", "key", "session_id", "age_group", "started_at", "last_event_at", "closed",
                   "event_count", "funnel_step", "purchased", "revenue", "order_count", "summary", "channel", "source",
                   "medium", "campaign", "landing_page", "discounts")
CART_COLUMNS = ("session_id", "customer_id", "age_group", "channel", "state", "items", "value", "revenue_left",
                "opened_at", "closed_at")
_SESSION_SELECT = "s.id, s.customer_id, s.key, s.age_group, s.started_at, s.last_event_at, s.summary"
_CENT = Decimal("0.01")
_KEYS_PER_QUERY = 400
EVENT_CHUNK = 20_000


@dataclass(slots=True)
class StoredSession:
    """A stored session as re-derivation needs it (its summary is ``DerivedSession.to_json``)."""

    pk: int
    customer_id: int
    key: str
    age_group: str
    started_at: dt.datetime
    last_event_at: dt.datetime
    summary: dict


def windows_merge(spans: Iterable[Span], into: Windows | None = None) -> Windows:
    """Each customer's (first, last) time covering all of their spans (and their window in ``into``),
    with the union of their client session keys (None when a span has none: every client session)."""
    windows: Windows = {} if into is None else into
    for span in spans:
        customer, lo, hi = span[0], span[1], span[2]
        keys = span[3] if len(span) > 3 else None
        w = windows.get(customer)
        if w is None:
            windows[customer] = Window(lo, hi, keys)
        else:  # a batch's events mostly repeat a window's sessions: no new set then
            both = None if w.keys is None or keys is None else w.keys if keys <= w.keys else w.keys | keys
            if lo < w.lo or hi > w.hi or both is not w.keys:
                windows[customer] = Window(min(w.lo, lo), max(w.hi, hi), both)
    return windows


_NONE: frozenset[str] = frozenset()


def event_names(session_id: str) -> frozenset[str]:
    """What a new event's span names: its client session, or none (an event without a session id reaches
    only idle-gap sessions)."""
    return frozenset((client_key(session_id),)) if session_id else _NONE


def window_widen(windows: Windows, customer: int, lo: dt.datetime, hi: dt.datetime) -> bool:
    """Widen a customer's window to cover (lo, hi), its keys unchanged; whether it grew."""
    w = windows[customer]
    if lo >= w.lo and hi <= w.hi:
        return False
    windows[customer] = w._replace(lo=min(w.lo, lo), hi=max(w.hi, hi))
    return True


def windows_json(windows: Windows) -> dict[str, list]:
    """Windows as a ``PendingWindow`` keeps them: whole seconds, widened outwards (re-deriving a slightly
    wider window is harmless), ``[first, last]`` or ``[first, last, [keys]]``."""
    out: dict[str, list] = {}
    for c, w in windows.items():
        span: list = [math.floor(w.lo.timestamp()), math.ceil(w.hi.timestamp())]
        out[str(c)] = span if w.keys is None else [*span, sorted(w.keys)]
    return out


def windows_from_json(rows: Iterable[dict[str, list]]) -> Windows:
    """The windows of ``PendingWindow`` rows (``windows_json``), merged."""
    return windows_merge((int(c), _epoch(v[0]), _epoch(v[1]), frozenset(v[2]) if len(v) > 2 else None)
                         for row in rows for c, v in row.items())


def _epoch(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def in_window(w: Window, key: str) -> bool:
    """Whether window ``w`` re-derives the session of this key (idle-gap sessions always)."""
    return w.keys is None or key.startswith(GAP_KEY) or key in w.keys


def stored_event(row: Sequence[Any]) -> StoredEvent:
    """An ``EVENT_FIELDS`` row as derivation reads it."""
    (pk, event_id, customer_pk, product_pk, session_id, action, quantity, price, order_id, ts, amount,
     discount, coupon, shipping, tax, context, namespace) = row
    return StoredEvent(pk=pk, event_id=event_id, customer_pk=customer_pk, product_pk=product_pk,
                       session_id=session_id or "", action=action, quantity=quantity, price=price,
                       order_id=order_id, timestamp=ts, amount=amount, discount=discount, coupon=coupon or "",
                       shipping=shipping, tax=tax, context=_json(context), browser=namespace == BROWSER_NAMESPACE)


def _cents(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(_CENT)


def _sqlite_event(r: Sequence[Any]) -> StoredEvent:
    """A raw SQLite row: text times and float-ish money, turned into what the ORM would give."""
    return StoredEvent(r[0], r[1], r[2], r[3], r[4] or "", r[5], r[6], Decimal(str(r[7])).quantize(_CENT), r[8],
                       _read_datetime(r[9]), _cents(r[10]), _cents(r[11]), r[12] or "", _cents(r[13]),
                       _cents(r[14]), _json(r[15]), r[16] == BROWSER_NAMESPACE)


def _json(value: Any) -> Any:
    """A JSON column as read raw: parsed by psycopg2 (jsonb), text on SQLite."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def raw_events(sql: str, params: Sequence[Any]) -> list[StoredEvent]:
    """Events of a raw ``SELECT {EVENT_COLUMNS} …`` as derivation reads them."""
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    convert = stored_event if connection.vendor == "postgresql" else _sqlite_event
    return [convert(r) for r in rows]


def _read_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _windows_cte(windows: Windows, pad: dt.timedelta) -> tuple[str, list]:
    """``WITH w(c, lo, hi) AS (VALUES …)``: one statement for any number of customer windows."""
    adapt = sql_param_adapter() or (lambda v: v)
    params: list[Any] = []
    for customer, w in windows.items():
        params.extend((customer, adapt(w.lo - pad), adapt(w.hi + pad)))
    cast = "::timestamptz" if connection.vendor == "postgresql" else ""
    first = f"(%s, %s{cast}, %s{cast})"
    values = ", ".join([first] + ["(%s, %s, %s)"] * (len(windows) - 1))
    return f"WITH w(c, lo, hi) AS (VALUES {values})", params


def events_in_windows(windows: Windows) -> list[StoredEvent]:
    """Every event of these customers within their windows (edges included) that their sessions hold:
    without a session id, or of a client session the window names."""
    if not windows:
        return []
    cte, params = _windows_cte(windows, dt.timedelta(0))
    bots = "" if settings.METRICS_INCLUDE_BOTS else " AND NOT e.is_bot"  # known bots count nowhere
    events = raw_events(f"{cte} SELECT {EVENT_COLUMNS} FROM {Event._meta.db_table} e JOIN w ON e.customer_id = w.c"
                        f" AND e.timestamp >= w.lo AND e.timestamp <= w.hi{bots}", params)
    return [e for e in events if not e.session_id or in_window(windows[e.customer_pk], client_key(e.session_id))]


def _event_rows(qs: QuerySet[Event]) -> Iterator[tuple]:
    """Events that count in metrics: known bots' are left out unless METRICS_INCLUDE_BOTS (as ingest
    leaves them out of the live rollups), so rebuilds and erasures agree with it."""
    if not settings.METRICS_INCLUDE_BOTS:
        qs = qs.filter(is_bot=False)
    return qs.order_by("customer_id", "timestamp", "id").values_list(*EVENT_FIELDS).iterator(chunk_size=EVENT_CHUNK)


def events_by_customer_batches() -> Iterator[list[StoredEvent]]:
    """Every event, by customer and time, in batches of whole customers (about ``EVENT_CHUNK`` each):
    a customer's sessions never straddle two batches."""
    batch: list[StoredEvent] = []
    for row in _event_rows(Event.objects.all()):
        e = stored_event(row)
        if len(batch) >= EVENT_CHUNK and batch[-1].customer_pk != e.customer_pk:
            yield batch
            batch = []
        batch.append(e)
    if batch:
        yield batch


def customer_events(customer_pk: int) -> Iterator[list[StoredEvent]]:
    """One customer's events in time order, in chunks (constant memory for any history)."""
    rows = _event_rows(Event.objects.filter(customer_id=customer_pk))
    while chunk := [stored_event(row) for row in islice(rows, EVENT_CHUNK)]:
        yield chunk


def _session_rows(sql: str, params: list) -> list[StoredSession]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    return [StoredSession(r[0], r[1], r[2], r[3], _read_datetime(r[4]), _read_datetime(r[5]),
                          json.loads(r[6]) if isinstance(r[6], str | bytes) else r[6]) for r in rows]


def sessions_in_windows(windows: Windows) -> list[StoredSession]:
    """The stored sessions of these customers that re-deriving their windows can change: idle-gap sessions
    within the idle gap of a window (a new event there joins them), client sessions overlapping it (their
    events there may have changed; a client session does not depend on its neighbours: docs/derivation.md)
    and, where the window names its client sessions, only those."""
    if not windows:
        return []
    cte, params = _windows_cte(windows, IDLE)
    near = _session_rows(f"{cte} SELECT {_SESSION_SELECT} FROM {Session._meta.db_table} s JOIN w"
                         f" ON s.customer_id = w.c AND s.last_event_at >= w.lo AND s.started_at <= w.hi", params)
    return [s for s in near if s.key.startswith(GAP_KEY)
            or (in_window(w := windows[s.customer_id], s.key) and s.last_event_at >= w.lo and s.started_at <= w.hi)]


def sessions_by_key(keys: Iterable[tuple[int, str]]) -> list[StoredSession]:
    """Stored sessions by (customer pk, session key)."""
    keys = list(keys)
    out: list[StoredSession] = []
    for i in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[i:i + _KEYS_PER_QUERY]
        values = ", ".join(["(%s, %s)"] * len(chunk))
        params = [x for k in chunk for x in k]
        out.extend(_session_rows(f"WITH k(c, key) AS (VALUES {values}) SELECT {_SESSION_SELECT}"
                                 f" FROM {Session._meta.db_table} s JOIN k ON s.customer_id = k.c AND s.key = k.key",
                                 params))
    return out


def customer_sessions(customer_pk: int) -> list[tuple[DerivedSession, str]]:
    """A customer's stored sessions (as derived) with the age group each was counted under."""
    return [(DerivedSession.from_json(summary), age) for summary, age in
            Session.objects.filter(customer_id=customer_pk).order_by("started_at", "id")
            .values_list("summary", "age_group")]


def sessions_insert(derived: Sequence[DerivedSession], ages: Mapping[int, str]) -> None:
    """Store derived sessions and their carts (multi-row INSERTs; RETURNING the ids for the carts)."""
    if not derived:
        return
    rows = [(d.customer_pk, d.key, d.session_id, ages.get(d.customer_pk, "unknown"), d.started_at, d.last_event_at,
             d.closed, d.event_count, d.funnel_step, d.purchased, d.revenue, d.order_count, json.dumps(d.to_json()),
             *traffic_columns(d), d.discounts)
            for d in derived]
    ids = rows_insert(Session._meta.db_table, SESSION_COLUMNS, rows, returning_ids=True)
    carts = [(pk, d.customer_pk, ages.get(d.customer_pk, "unknown"), d.traffic.channel, d.cart.state, d.cart.items,
              d.cart.value, d.cart.revenue_left, d.cart.opened_at, d.cart.closed_at)
             for pk, d in zip(ids, derived, strict=True) if d.cart is not None]
    rows_insert(Cart._meta.db_table, CART_COLUMNS, carts, returning_ids=False)


def traffic_columns(d: DerivedSession) -> tuple[str, str, str, str, str]:
    """The session's traffic source as stored (cut to the columns' lengths; the summary keeps it whole)."""
    t = d.traffic
    return t.channel, t.source[:200], t.medium[:100], t.campaign[:200], t.landing_page[:500]


def sessions_delete(session_pks: Sequence[int]) -> None:
    """Delete stored sessions and their carts."""
    rows_delete_by_pk(Cart, session_pks, field="session_id")
    rows_delete_by_pk(Session, session_pks)


def sessions_close_quietly(*, idle_before: dt.datetime, exclude: Iterable[int], limit: int) -> int:
    """Mark closed up to ``limit`` open sessions whose last event is before ``idle_before`` and whose cart
    is not open (of customers not in ``exclude``); returns how many. Closing changes nothing else of such
    a session (docs/derivation.md#closing-idle-sessions): a re-derivation would store the same summary
    with ``cl`` true, and no rollup counts the flag, so none changes."""
    sessions, carts = connection.ops.quote_name(Session._meta.db_table), connection.ops.quote_name(Cart._meta.db_table)
    skip = sorted(set(exclude))
    if connection.vendor == "postgresql":
        closed, summary, others = "true", "jsonb_set(summary, '{cl}', 'true')", "NOT (customer_id = ANY(%s))"
        params: list[Any] = [idle_before, skip, limit]
    else:
        closed, summary = "1", "json_set(summary, '$.cl', json('true'))"
        others = f"customer_id NOT IN ({', '.join(['%s'] * len(skip))})" if skip else "1 = 1"
        params = [(sql_param_adapter() or (lambda v: v))(idle_before), *skip, limit]
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {sessions} SET closed = {closed}, summary = {summary} WHERE id IN ("
                    f"SELECT s.id FROM {sessions} s WHERE NOT s.closed AND s.last_event_at <= %s AND {others}"
                    f" AND NOT EXISTS (SELECT 1 FROM {carts} c WHERE c.session_id = s.id AND c.state = '{CART_OPEN}')"
                    f" ORDER BY s.last_event_at LIMIT %s)", params)
        return int(cur.rowcount or 0)
