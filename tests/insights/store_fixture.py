"""The hand-built store of issue 5, sent through the real ingest path (events.services.events_ingest).

All on Monday 2024-03-04 (UTC). Products p1 Phone (electronics, 100), p2 Shirt (clothing, 20),
p3 Ring (jewelery, 50). Customers A (30 → 26-35), B (40 → 36-45), C (22 → 18-25), D (no age → unknown).

A1  A, no session id  10:00 view p1, 10:02 add p1, 10:05 checkout, 10:06 purchase p1 ×1 + p2 ×2 (order o-1)
                      → funnel 4, cart converted (value 100), multi-line order, revenue 140
A2  A, no session id  10:37 view p2, 10:38 add p2 (31 minutes after A1's last event: a new session)
                      → funnel 2, cart abandoned (idle), 20 left
B1  B, "b-1"          11:00 view p3, 11:01 add p3, 11:02 add p2, 11:03 remove p3, 11:04 remove p2
                      → funnel 2, cart emptied
B2  B, "b-2"          12:00 view p1, 12:01 add p1 ×2, 12:03 abandon (explicit) → funnel 2, abandoned, 200 left
C1  C, no session id  13:00 view p2, 13:05 view p3 → funnel 1, no cart
C2  C, no session id  15:01 add p3, 15:02 checkout, 15:03 purchase p3 (no order id → one order)
                      + LATE: 14:58 view p3, sent after the rest → funnel 0 before, 4 after; starts 14:58
D1  D, no session id  15:59 view p2, 16:00 purchase p2 (order o-2) → funnel 1, no cart
One event is sent twice (stored once).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.factories import CustomerFactory, ProductFactory

DAY = dt.date(2024, 3, 4)


def _ts(hhmm: str) -> str:
    return f"2024-03-04T{hhmm}:00Z"


def _e(n: int, customer: str, hhmm: str, action: str, product: str | None = None, *, quantity: int = 1,
       price: str | None = None, order_id: str | None = None, session_id: str | None = None) -> dict:
    prices = {"p1": "100.00", "p2": "20.00", "p3": "50.00"}
    event = {"event_id": f"fx-{n:03d}", "customer_id": customer, "action": action, "timestamp": _ts(hhmm),
             "quantity": quantity}
    if product:
        event["product_id"] = product
        event["product_price"] = price or prices[product]
    if order_id:
        event["order_id"] = order_id
    if session_id:
        event["session_id"] = session_id
    return event


MAIN = [
    _e(1, "A", "10:00", "view", "p1"), _e(2, "A", "10:02", "add_to_cart", "p1"), _e(3, "A", "10:05", "checkout"),
    _e(4, "A", "10:06", "purchase", "p1", order_id="o-1"),
    _e(5, "A", "10:06", "purchase", "p2", quantity=2, order_id="o-1"),
    _e(6, "A", "10:37", "view", "p2"), _e(7, "A", "10:38", "add_to_cart", "p2"),
    _e(8, "B", "11:00", "view", "p3", session_id="b-1"), _e(9, "B", "11:01", "add_to_cart", "p3", session_id="b-1"),
    _e(10, "B", "11:02", "add_to_cart", "p2", session_id="b-1"),
    _e(11, "B", "11:03", "remove_from_cart", "p3", session_id="b-1"),
    _e(12, "B", "11:04", "remove_from_cart", "p2", session_id="b-1"),
    _e(13, "B", "12:00", "view", "p1", session_id="b-2"),
    _e(14, "B", "12:01", "add_to_cart", "p1", quantity=2, session_id="b-2"),
    _e(15, "B", "12:03", "abandon", session_id="b-2"),
    _e(16, "C", "13:00", "view", "p2"), _e(17, "C", "13:05", "view", "p3"),
    _e(18, "C", "15:01", "add_to_cart", "p3"), _e(19, "C", "15:02", "checkout"), _e(20, "C", "15:03", "purchase", "p3"),
    _e(21, "D", "15:59", "view", "p2"), _e(22, "D", "16:00", "purchase", "p2", order_id="o-2"),
]
DUPLICATE = MAIN[3]
LATE = _e(23, "C", "14:58", "view", "p3")


def make_catalogue() -> dict:
    products = {
        "p1": ProductFactory(external_id="p1", title="Phone", category="electronics", price=Decimal("100.00")),
        "p2": ProductFactory(external_id="p2", title="Shirt", category="clothing", price=Decimal("20.00")),
        "p3": ProductFactory(external_id="p3", title="Ring", category="jewelery", price=Decimal("50.00")),
    }
    customers = {
        "A": CustomerFactory(external_id="A", name="Alice Archer", email="alice@example.com", age=30),
        "B": CustomerFactory(external_id="B", name="Bob Baker", email="bob@example.com", age=40),
        "C": CustomerFactory(external_id="C", name="Cleo Cole", email="cleo@example.com", age=22),
        "D": CustomerFactory(external_id="D", name="Dan Dale", email="dan@example.com", age=None),
    }
    return {"products": products, "customers": customers}


def ingest(events: list[dict]) -> None:
    from events.services import events_ingest

    result = events_ingest(raw_events=events, broadcast=False)
    assert not result.rejected, result.rejected


def build_store(*, late: bool = True) -> dict:
    """The whole fixture through the ingest path, with the queued session work processed."""
    from insights.services import analytics_process_pending

    objs = make_catalogue()
    ingest(MAIN)
    ingest([DUPLICATE])
    analytics_process_pending()
    if late:
        ingest([LATE])
        analytics_process_pending()
    return objs
