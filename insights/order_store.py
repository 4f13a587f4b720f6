"""Reading the order book (``insights.money.OrderBook``): which orders are cancelled, which line's
order object counts, what browser purchase lines count as (``events.verification``), and an order's
stored events (what a cancel takes out). Lookups by order id use the partial indexes
``event_order_idx`` and ``event_verified_order_idx``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Min, Q, QuerySet

from customers.models import Customer
from events.models import Action, Event
from events.types import StoredEvent
from events.verification import BROWSER_NAMESPACE, BrowserOrders, revenue_mode
from insights.money import OrderBook
from insights.rollup_store import sql_param_adapter
from insights.session_store import EVENT_COLUMNS, raw_events

_CHUNK = 500  # order ids per statement
CARRIES_ORDER = (Q(discount__isnull=False) | Q(shipping__isnull=False) | Q(tax__isnull=False) | ~Q(coupon=""))
# A verified order's lines: purchases with an order id from any store-level source (event_verified_order_idx).
VERIFIED_LINES = Q(action=Action.PURCHASE, order_id__isnull=False) & ~Q(namespace=BROWSER_NAMESPACE)


def _counted(qs: QuerySet[Event]) -> QuerySet[Event]:
    """Events that count in metrics: known bots' are left out unless METRICS_INCLUDE_BOTS."""
    return qs if settings.METRICS_INCLUDE_BOTS else qs.filter(is_bot=False)


def _bots_sql(alias: str) -> str:
    return "" if settings.METRICS_INCLUDE_BOTS else f" AND NOT {alias}.is_bot"


def _chunks(ids: Collection[str]) -> Iterable[list[str]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i:i + _CHUNK]


def orders_cancelled(order_ids: Collection[str] | None, *, excluding_pks: Collection[int] = ()) -> frozenset[str]:
    """The order ids (of these; None: all) with a stored cancel event (other than ``excluding_pks``)."""
    cancels = _counted(Event.objects.filter(action=Action.CANCEL))
    if excluding_pks:
        cancels = cancels.exclude(pk__in=list(excluding_pks))
    if order_ids is None:
        return frozenset(o for o in cancels.values_list("order_id", flat=True).distinct() if o is not None)
    found: set[str] = set()
    for chunk in _chunks(order_ids):
        found.update(o for o in cancels.filter(order_id__in=chunk).values_list("order_id", flat=True) if o is not None)
    return frozenset(found)


def order_winners(order_ids: Collection[str] | None, *, excluding_pks: Collection[int] = ()) -> dict[str, int]:
    """Per order id (of these; None: all), the pk of its first stored line carrying an order object: a
    verified line when one carries one, else a browser line (``insights.money.winners_of``)."""
    lines = _counted(Event.objects.filter(CARRIES_ORDER, action=Action.PURCHASE, order_id__isnull=False))
    if excluding_pks:
        lines = lines.exclude(pk__in=list(excluding_pks))
    out: dict[str, int] = {}
    for part_lines in (lines.exclude(namespace=BROWSER_NAMESPACE), lines.filter(namespace=BROWSER_NAMESPACE)):
        for chunk in [None] if order_ids is None else _chunks(order_ids):
            part = part_lines if chunk is None else part_lines.filter(order_id__in=chunk)
            for order_id, first in part.values("order_id").annotate(first=Min("pk")).values_list("order_id", "first"):
                if order_id is not None:
                    out.setdefault(order_id, first)
    return out


def has_verified_orders(*, excluding_pks: Collection[int] = ()) -> bool:
    """Whether the store has a verified order source: a stored store-level purchase with an order id."""
    lines = _counted(Event.objects.filter(VERIFIED_LINES))
    if excluding_pks:
        lines = lines.exclude(pk__in=list(excluding_pks))
    return lines.exists()


def counts_unconfirmed(*, excluding_pks: Collection[int] = ()) -> bool:
    """Whether browser purchases no verified order confirms count (the revenue source in force is
    ``browser``); ``excluding_pks``: as if those events were not stored."""
    setting = settings.REVENUE_SOURCE
    if setting != "auto":
        return revenue_mode(setting, has_verified_orders=False) == "browser"
    return not has_verified_orders(excluding_pks=excluding_pks)


def verified_order_times(order_ids: Collection[str] | None, *,
                         excluding_pks: Collection[int] = ()) -> dict[str, dt.datetime]:
    """Per order id (of these; None: all), the time of its earliest verified line."""
    lines = _counted(Event.objects.filter(VERIFIED_LINES))
    if excluding_pks:
        lines = lines.exclude(pk__in=list(excluding_pks))
    out: dict[str, dt.datetime] = {}
    for chunk in [None] if order_ids is None else _chunks(order_ids):
        part = lines if chunk is None else lines.filter(order_id__in=chunk)
        out.update((o, t) for o, t in part.values("order_id").annotate(t=Min("timestamp")).values_list("order_id", "t")
                   if o is not None)
    return out


def browser_orders(order_ids: Collection[str] | None, *, excluding_pks: Collection[int] = ()) -> BrowserOrders:
    """What browser lines of these orders (None: all) count as, as the events stand (``excluding_pks``:
    as if those were not stored)."""
    ids = None if order_ids is None else set(order_ids)
    return BrowserOrders(count_unconfirmed=counts_unconfirmed(excluding_pks=excluding_pks),
                         verified_at=verified_order_times(ids, excluding_pks=excluding_pks) if ids != set() else {},
                         window=dt.timedelta(hours=settings.BROWSER_ORDER_CONFIRM_HOURS))


def browser_order_ids(events: Iterable[StoredEvent]) -> set[str]:
    return {e.order_id for e in events if e.browser and e.action == "purchase" and e.order_id is not None}


def order_book(events: Iterable[StoredEvent]) -> OrderBook:
    """The book for these (stored) events: their orders' cancels, and the counting line of the orders
    where one of them carries an order object (only those lines' discounts consult it)."""
    events = list(events)
    browser = browser_orders(browser_order_ids(events)) if any(e.browser and e.action == "purchase"
                                                               for e in events) else None
    orders = {e.order_id for e in events if e.order_id is not None and e.action in ("purchase", "refund")}
    if not orders:
        return OrderBook() if browser is None else OrderBook(browser=browser)
    carrying = {e.order_id for e in events if e.order_id is not None and e.action == "purchase" and e.carries_order}
    book = OrderBook(cancelled=orders_cancelled(orders), winners=order_winners(carrying) if carrying else {})
    return book if browser is None else replace(book, browser=browser)


def book_of_orders(orders: Collection[str]) -> OrderBook:
    """The book of these orders as the events stand: cancels, winners and their browser lines."""
    return OrderBook(cancelled=orders_cancelled(orders), winners=order_winners(orders),
                     browser=browser_orders(orders))


def full_order_book() -> OrderBook:
    """The whole store's book (a rebuild)."""
    return OrderBook(cancelled=orders_cancelled(None), winners=order_winners(None), browser=browser_orders(None))


def browser_purchase_lines(*, excluding_pks: Collection[int] = ()) -> list[StoredEvent]:
    """Every stored browser purchase line (event_browser_purchase_idx): what a change of the revenue
    source in force re-counts."""
    excluded = set(excluding_pks)
    return [e for e in raw_events(f"SELECT {EVENT_COLUMNS} FROM {Event._meta.db_table} e WHERE e.action = 'purchase'"
                                  f" AND e.namespace = %s{_bots_sql('e')}", [BROWSER_NAMESPACE])
            if e.pk not in excluded]


def order_events(order_ids: Collection[str]) -> list[StoredEvent]:
    """Every stored purchase line and refund of these orders."""
    out: list[StoredEvent] = []
    for chunk in _chunks(order_ids):
        marks = ", ".join(["%s"] * len(chunk))
        out.extend(raw_events(f"SELECT {EVENT_COLUMNS} FROM {Event._meta.db_table} e WHERE e.order_id IN ({marks})"
                              f" AND e.action IN ('purchase', 'refund'){_bots_sql('e')}", chunk))
    return out


def coupon_totals(*, lo: dt.datetime | None, hi: dt.datetime | None, age_group: str | None
                  ) -> list[tuple[str, int, Decimal, Decimal, Decimal]]:
    """Per coupon ("" = none): orders whose lines fall in [lo, hi) (not cancelled; browser lines as
    ``_counted_browser_lines_sql`` says), their gross, the discount of each order's first stored line
    carrying an order object, and every refund of those orders. One statement; only one row per
    coupon comes back."""
    e, c = Event._meta.db_table, Customer._meta.db_table
    adapt = sql_param_adapter() or (lambda v: v)
    where, params = ["l.action = 'purchase'", f"l.order_id IS NOT NULL{_bots_sql('l')}",
                     _counted_browser_lines_sql(e)], [BROWSER_NAMESPACE]
    if lo is not None:
        where.append("l.timestamp >= %s")
        params.append(adapt(lo))
    if hi is not None:
        where.append("l.timestamp < %s")
        params.append(adapt(hi))
    if age_group:
        where.append(f"l.customer_id IN (SELECT id FROM {c} WHERE age_group = %s)")
        params.append(age_group)
    total = "COALESCE({t}.amount, {t}.price * {t}.quantity)"
    carries = "l.discount IS NOT NULL OR l.coupon <> '' OR l.shipping IS NOT NULL OR l.tax IS NOT NULL"
    # Refunds and cancels are looked up per order (event_order_idx), never joined wholesale: a join
    # planned on a fresh table's estimates (one row a CTE) loops over every refund for every order.
    sql = (f"WITH o AS (SELECT l.order_id, SUM({total.format(t='l')}) AS gross,"
           f" MIN(CASE WHEN {carries} THEN l.id END) AS winner FROM {e} l WHERE {' AND '.join(where)}"
           f" GROUP BY l.order_id),"
           f" m AS (SELECT o.order_id, o.gross, o.winner, (SELECT SUM({total.format(t='x')}) FROM {e} x"
           f" WHERE x.order_id = o.order_id AND x.action = 'refund'{_bots_sql('x')}) AS refunds FROM o"
           f" WHERE NOT EXISTS (SELECT 1 FROM {e} k WHERE k.order_id = o.order_id AND k.action = 'cancel'"
           f"{_bots_sql('k')}))"
           f" SELECT COALESCE(w.coupon, ''), COUNT(*), SUM(m.gross), SUM(COALESCE(w.discount, 0)),"
           f" SUM(COALESCE(m.refunds, 0)) FROM m LEFT JOIN {e} w ON w.id = m.winner"
           f" GROUP BY COALESCE(w.coupon, '')")
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    return [(code, int(n), _decimal(g), _decimal(d), _decimal(r)) for code, n, g, d, r in rows]


def _counted_browser_lines_sql(table: str) -> str:
    """The order lines whose money counts (``events.verification``): every verified line; a browser
    line only while unconfirmed browser purchases count and no verified line has its order id. One
    parameter: the browser namespace."""
    if not counts_unconfirmed():
        return "l.namespace <> %s"
    return (f"(l.namespace <> %s OR NOT EXISTS (SELECT 1 FROM {table} v WHERE v.order_id = l.order_id"
            f" AND v.action = 'purchase' AND v.namespace <> 'browser'))")


def _decimal(value: Any) -> Decimal:
    """A SUM as PostgreSQL (Decimal) or SQLite (float) gives it, to the cent."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))
