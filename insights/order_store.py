"""Reading the order book (``insights.money.OrderBook``): which orders are cancelled, which line's
order object counts, and an order's stored events (what a cancel takes out). Lookups by order id
use the partial index ``event_order_idx``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from django.db.models import Min, Q

from events.models import Action, Event
from events.types import StoredEvent
from insights.money import OrderBook
from insights.session_store import EVENT_COLUMNS, raw_events

_CHUNK = 500  # order ids per statement
CARRIES_ORDER = (Q(discount__isnull=False) | Q(shipping__isnull=False) | Q(tax__isnull=False) | ~Q(coupon=""))


def _chunks(ids: Collection[str]) -> Iterable[list[str]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i:i + _CHUNK]


def orders_cancelled(order_ids: Collection[str] | None, *, excluding_pks: Collection[int] = ()) -> frozenset[str]:
    """The order ids (of these; None: all) with a stored cancel event (other than ``excluding_pks``)."""
    cancels = Event.objects.filter(action=Action.CANCEL)
    if excluding_pks:
        cancels = cancels.exclude(pk__in=list(excluding_pks))
    if order_ids is None:
        return frozenset(o for o in cancels.values_list("order_id", flat=True).distinct() if o is not None)
    found: set[str] = set()
    for chunk in _chunks(order_ids):
        found.update(o for o in cancels.filter(order_id__in=chunk).values_list("order_id", flat=True) if o is not None)
    return frozenset(found)


def order_winners(order_ids: Collection[str] | None) -> dict[str, int]:
    """Per order id (of these; None: all), the pk of its first stored line carrying an order object."""
    lines = Event.objects.filter(CARRIES_ORDER, action=Action.PURCHASE, order_id__isnull=False)
    out: dict[str, int] = {}
    for chunk in [None] if order_ids is None else _chunks(order_ids):
        part = lines if chunk is None else lines.filter(order_id__in=chunk)
        for order_id, first in part.values("order_id").annotate(first=Min("pk")).values_list("order_id", "first"):
            if order_id is not None:
                out[order_id] = first
    return out


def order_book(events: Iterable[StoredEvent]) -> OrderBook:
    """The book for these (stored) events: their orders' cancels, and the counting line of the orders
    where one of them carries an order object (only those lines' discounts consult it)."""
    events = list(events)
    orders = {e.order_id for e in events if e.order_id is not None and e.action in ("purchase", "refund")}
    if not orders:
        return OrderBook()
    carrying = {e.order_id for e in events if e.order_id is not None and e.action == "purchase" and e.carries_order}
    return OrderBook(cancelled=orders_cancelled(orders), winners=order_winners(carrying) if carrying else {})


def full_order_book() -> OrderBook:
    """The whole store's book (a rebuild)."""
    return OrderBook(cancelled=orders_cancelled(None), winners=order_winners(None))


def order_events(order_ids: Collection[str]) -> list[StoredEvent]:
    """Every stored purchase line and refund of these orders."""
    out: list[StoredEvent] = []
    for chunk in _chunks(order_ids):
        marks = ", ".join(["%s"] * len(chunk))
        out.extend(raw_events(f"SELECT {EVENT_COLUMNS} FROM {Event._meta.db_table} e WHERE e.order_id IN ({marks})"
                              f" AND e.action IN ('purchase', 'refund')", chunk))
    return out
