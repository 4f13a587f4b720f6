"""A hand-computed store for retention and affinity (issue 14), sent through the real ingest path.

Products p1 (100), p2 (20), p3 (50); store time zone UTC; every order's lines have quantity 1.

R1 (30 → 26-35)  2024-01-05 o1 p1+p2 (120) · 2024-01-20 o2 p1 (100) · 2024-03-10 o3 p1+p3 (150)
R2 (40 → 36-45)  2024-01-15 o4 p1+p2 (120) · 2024-02-14 10:00 o5 p2 (20) and 10:10 o6 p3 (50), one session
R3 (22 → 18-25)  2024-02-03 add p1, p2, p3, then o7 p1+p2+p3 (170): a converted cart
R4 (no age)      2024-02-20 o8 p2 (20) · 2024-04-02 o9 p2 (20)
R5 (30)          2024-03-01 add p1, p3 and leaves: an abandoned cart, no order

By hand:
- cohort 2024-01 = {R1, R2}: month 0 both (3 orders, 340), month 1 R2 (2 orders, 70), month 2 R1 (150),
  month 3 nobody → retention 1, .5, .5, 0; cumulative revenue per customer 170, 205, 280, 280.
- cohort 2024-02 = {R3, R4}: month 0 both (190), month 1 nobody, month 2 R4 (20) → 1, 0, .5;
  cumulative per customer 95, 95, 105.
- buyers 4, with ≥ 2 orders 3 (R1 3, R2 3, R4 2, R3 1) → repeat purchase rate .75;
  orders per customer 1: 1, 2: 1, 3: 2.
- days between orders: R1 15, 50; R2 30, 0 (same day); R4 42 → median 30.
- returning in Feb 2024: buyers R2 (ordered in January, and twice), R3, R4 (first orders) → 1/3;
  in March: R1 (ordered before) → 1/1.
- orders as baskets: 9; holding p1 5, p2 6, p3 3; p1+p2 3 (o1, o4, o7), p1+p3 2 (o3, o7), p2+p3 1 (o7):
  lift(p1, p3) = (2/9) / ((5/9)(3/9)) = 1.2; lift(p1, p2) = (3/9) / ((5/9)(6/9)) = 0.9;
  confidence(p1 → p2) = 3/5. Carts as baskets: 2 (R3's, R5's); p1+p3 in both.
"""

from __future__ import annotations

from decimal import Decimal

from tests.factories import CustomerFactory, ProductFactory

PRICES = {"p1": "100.00", "p2": "20.00", "p3": "50.00"}


def _line(n: int, customer: str, at: str, action: str, product: str | None = None, order: str | None = None) -> dict:
    event = {"event_id": f"rt-{n:03d}", "customer_id": customer, "action": action, "timestamp": at, "quantity": 1}
    if product:
        event["product_id"] = product
        event["product_price"] = PRICES[product]
    if order:
        event["order_id"] = order
    return event


def _order(n: int, customer: str, at: str, order: str, products: list[str]) -> list[dict]:
    return [_line(n * 10 + i, customer, at, "purchase", p, order) for i, p in enumerate(products)]


ORDERS = {
    "o1": _order(1, "R1", "2024-01-05T10:00:00Z", "o1", ["p1", "p2"]),
    "o2": _order(2, "R1", "2024-01-20T10:00:00Z", "o2", ["p1"]),
    "o3": _order(3, "R1", "2024-03-10T10:00:00Z", "o3", ["p1", "p3"]),
    "o4": _order(4, "R2", "2024-01-15T10:00:00Z", "o4", ["p1", "p2"]),
    "o5": _order(5, "R2", "2024-02-14T10:00:00Z", "o5", ["p2"]),
    "o6": _order(6, "R2", "2024-02-14T10:10:00Z", "o6", ["p3"]),
    "o7": [_line(201, "R3", "2024-02-03T09:50:00Z", "add_to_cart", "p1"),
           _line(202, "R3", "2024-02-03T09:51:00Z", "add_to_cart", "p2"),
           _line(203, "R3", "2024-02-03T09:52:00Z", "add_to_cart", "p3"),
           *_order(7, "R3", "2024-02-03T10:00:00Z", "o7", ["p1", "p2", "p3"])],
    "o8": _order(8, "R4", "2024-02-20T10:00:00Z", "o8", ["p2"]),
    "o9": _order(9, "R4", "2024-04-02T10:00:00Z", "o9", ["p2"]),
    "r5": [_line(301, "R5", "2024-03-01T10:00:00Z", "add_to_cart", "p1"),
           _line(302, "R5", "2024-03-01T10:01:00Z", "add_to_cart", "p3")],
}


def make_retention_catalogue() -> dict:
    products = {pid: ProductFactory(external_id=pid, title=title, category=cat, price=Decimal(PRICES[pid]))
                for pid, title, cat in (("p1", "Phone", "electronics"), ("p2", "Case", "accessories"),
                                        ("p3", "Charger", "accessories"))}
    customers = {cid: CustomerFactory(external_id=cid, email=f"{cid.lower()}@example.com", age=age)
                 for cid, age in (("R1", 30), ("R2", 40), ("R3", 22), ("R4", None), ("R5", 30))}
    return {"products": products, "customers": customers}


def build_retention_store(order: list[str] | None = None) -> dict:
    """The store through the ingest path; ``order``: the batches' order (each processed after it)."""
    from insights.services import analytics_process_pending
    from tests.insights.store_fixture import ingest

    objs = make_retention_catalogue()
    for key in order or list(ORDERS):
        ingest(ORDERS[key])
        analytics_process_pending()
    return objs
