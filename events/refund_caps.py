"""A refund counts up to what remains of its order (docs/money.md).

What remains of an order is what its lines were paid, their total less the order's discount, minus
the refunds stored before: the lines and refunds as stored (and those of the same batch, in batch
order). A refund beyond it is stored with its amount capped to the remainder (0 when nothing
remains), and the ack says so. Capped, not refused: a platform's full refund includes shipping and
tax (outside revenue), and a refund in another currency is converted at its own day's rate, so a
true full refund often exceeds the order's revenue by a little; capping counts it as exactly the
order, so the order nets to zero, as it should.

A refund of an order no line of which is stored (yet) is stored as sent, within the bound every
amount has (``events.wire.values.MAX_MONEY``): platforms may deliver a refund before its order, and
orders placed before the store sent its events are refunded too.

``refunds_capped`` reads the stored lines and refunds of the batch's refunded orders (the order
index) in the ingest transaction, which on PostgreSQL holds each order's lock
(``events.persistence``): refunds of one order sent at the same time are capped as if sent one
after the other. ``caps_apply`` is the pure rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from events.models import Action, Event
from events.types import line_total
from events.wire import NativeEvent, Reason

ZERO = Decimal("0.00")
_CHUNK = 500  # order ids per statement


@dataclass
class OrderPaid:
    """One order as stored: its lines' total, its discount, its refunds, and the event ids seen."""

    lines: Decimal = ZERO
    discount: Decimal | None = None  # of the line whose order object counts (the first stored one)
    refunded: Decimal = ZERO
    has_lines: bool = False
    event_ids: set[tuple[str, str]] = field(default_factory=set)  # (namespace, event id)

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.lines - (self.discount or ZERO) - self.refunded)


@dataclass(frozen=True)
class Capped:
    """A refund stored with less than it was sent with."""

    sent: Decimal
    stored: Decimal
    reason: Reason

    def as_ack(self) -> dict[str, str]:
        return {"field": "amount", "sent": str(self.sent), "stored": str(self.stored), "reason": str(self.reason),
                "code": self.reason.code}


def _capped_reason(order_id: str, remaining: Decimal) -> Reason:
    return Reason(f"more than remains of order {order_id!r} (its lines less its discount and earlier refunds): "
                  f"counted as {remaining}", "refund_capped")


def orders_paid(order_ids: Iterable[str]) -> dict[str, OrderPaid]:
    """Each of these orders as stored (orders with nothing stored are absent)."""
    books: dict[str, OrderPaid] = {}
    ordered = sorted(set(order_ids))
    for i in range(0, len(ordered), _CHUNK):
        rows = (Event.objects.filter(order_id__in=ordered[i:i + _CHUNK], action__in=(Action.PURCHASE, Action.REFUND))
                .order_by("pk").values_list("order_id", "action", "namespace", "event_id", "price", "quantity",
                                            "amount", "discount", "shipping", "tax", "coupon"))
        for order_id, action, namespace, event_id, price, quantity, amount, discount, shipping, tax, coupon in rows:
            carries = discount is not None or shipping is not None or tax is not None or coupon != ""
            _count(books.setdefault(str(order_id), OrderPaid()), action, (namespace, event_id),
                   line_total(price, quantity, amount), discount, carries)
    return books


def _count(book: OrderPaid, action: str, key: tuple[str, str], total: Decimal, discount: Decimal | None,
           carries_order: bool) -> None:
    book.event_ids.add(key)
    if action == Action.PURCHASE:
        book.lines += total
        book.has_lines = True
        if carries_order and book.discount is None:
            book.discount = discount if discount is not None else ZERO
    else:
        book.refunded += total


def caps_apply(events: Sequence[NativeEvent], prices: Sequence[Decimal], books: dict[str, OrderPaid],
               namespace: str) -> tuple[list[NativeEvent], dict[str, Capped]]:
    """The events (sent in ``namespace``) with each refund of an order with lines capped to what
    remains of it (``books``: the orders as stored, updated in place with the batch's lines first,
    then its refunds in batch order), and the refunds capped. Events already stored (by namespace and
    event id) are duplicates: they count nothing again and are not capped."""
    refunded = {e.order_id for e in events if e.action == Action.REFUND and e.order_id is not None}
    for e, price in zip(events, prices, strict=True):
        order_id = e.order_id
        if e.action == Action.PURCHASE and order_id is not None and order_id in refunded:
            book = books.setdefault(order_id, OrderPaid())
            if (namespace, e.event_id) not in book.event_ids:
                _count(book, e.action, (namespace, e.event_id), line_total(price, e.quantity, e.amount),
                       e.order.discount if e.order is not None else None, e.order is not None)
    out: list[NativeEvent] = []
    capped: dict[str, Capped] = {}
    for e, price in zip(events, prices, strict=True):
        order = books.get(e.order_id) if e.action == Action.REFUND and e.order_id is not None else None
        if order is not None and order.has_lines and (namespace, e.event_id) not in order.event_ids:
            sent, remaining = line_total(price, e.quantity, e.amount), order.remaining
            if sent > remaining:
                capped[e.event_id] = Capped(sent, remaining, _capped_reason(e.order_id or "", remaining))
                e = dataclasses.replace(e, amount=remaining)
            _count(order, e.action, (namespace, e.event_id), min(sent, remaining), None, False)
        out.append(e)
    return out, capped


def refunds_capped(events: Sequence[NativeEvent], prices: Sequence[Decimal], namespace: str
                   ) -> tuple[list[NativeEvent], dict[str, Capped]]:
    """``caps_apply`` with the batch's refunded orders as stored."""
    orders = {e.order_id for e in events if e.action == Action.REFUND and e.order_id is not None}
    if not orders:
        return list(events), {}
    return caps_apply(events, prices, orders_paid(orders), namespace)
