"""What each event adds to the money of the store (docs/money.md). PURE: data in, data out.

- **Gross revenue**: a purchase line's ``line_total`` (converted to STORE_CURRENCY at ingest).
- **Discounts**: an order's ``discount``, counted once: from the order's *first stored* line carrying an
  ``order`` object (the lowest event pk; ``OrderBook.winners``). Other lines' order objects are kept on
  their events but count nowhere (senders should repeat the same values; the first stored wins). A
  line without an ``order_id`` is its own order: its order object counts.
- **Refunds**: a refund event's ``line_total`` (its ``amount``, else price × quantity), counted on the
  refund's own time, also for an order never seen.
- **Cancelled orders** (an order id with a ``cancel`` event, whenever it arrives) count nowhere: none of
  their lines' revenue, their discount or their refunds (``OrderBook.cancelled``). Their events still
  count as events (activity).
- **Browser-reported purchases** (``events.verification``): a browser line counts its money only when
  its verdict is ``COUNTED`` (``OrderBook.browser``); a confirmed or void line counts none, and the
  discount of an order comes from a verified line when one carries an order object.
- **Net revenue** = gross − discounts − refunds.

The book is the only state beyond the events themselves; the services read it from the database for
the events at hand, so incremental upkeep and a rebuild see the same book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from events.types import StoredEvent
from events.verification import COUNT_ALL, COUNTED, BrowserOrders

ZERO = Decimal("0")


@dataclass(frozen=True)
class OrderBook:
    """Cancelled order ids, per order id the pk of the line whose order object counts, and what
    browser purchase lines count as."""

    cancelled: frozenset[str] = frozenset()
    winners: Mapping[str, int] = field(default_factory=dict)
    browser: BrowserOrders = COUNT_ALL


NO_CANCELS = OrderBook()


@dataclass(frozen=True, slots=True)
class EventMoney:
    gross: Decimal = ZERO
    discount: Decimal = ZERO
    refund: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.gross - self.discount - self.refund


NOTHING = EventMoney()


def event_money(e: StoredEvent, book: OrderBook) -> EventMoney:
    """This event's share of gross, discounts and refunds under ``book``."""
    action = e.action
    if action == "purchase":
        order = e.order_id
        if order is not None and order in book.cancelled:
            return NOTHING
        if e.browser and book.browser.verdict(order, e.timestamp) != COUNTED:
            return NOTHING
        discount = ZERO
        if e.discount is not None and (order is None or book.winners.get(order) == e.pk):
            discount = e.discount
        return EventMoney(gross=e.line_total, discount=discount)
    if action == "refund":
        if e.order_id in book.cancelled:
            return NOTHING
        return EventMoney(refund=e.line_total)
    return NOTHING


def winners_of(events: Iterable[StoredEvent]) -> dict[str, int]:
    """Per order id, the lowest pk of these events' purchase lines carrying an order object: of its
    verified lines when one carries one, else of its browser lines."""
    best: dict[str, tuple[bool, int]] = {}
    for e in events:
        if e.action == "purchase" and e.order_id is not None and e.carries_order:
            rank = (e.browser, e.pk)
            if e.order_id not in best or rank < best[e.order_id]:
                best[e.order_id] = rank
    return {order: pk for order, (_, pk) in best.items()}


def money_total(events: Iterable[StoredEvent], book: OrderBook) -> EventMoney:
    """Gross, discounts and refunds of these events under ``book`` (what a test or a report adds up)."""
    gross = discount = refund = ZERO
    for e in events:
        m = event_money(e, book)
        gross += m.gross
        discount += m.discount
        refund += m.refund
    return EventMoney(gross, discount, refund)
