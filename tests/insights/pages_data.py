"""A small store history, stored through the real ingest service (so rollups are maintained)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from customers.models import Customer
from events.services import events_ingest
from insights.services import analytics_process_pending, sessions_close_idle
from products.models import Product


def store_history(*, hours_ago: int = 3) -> dict[str, int]:
    """Two customers: one buys, one abandons a cart. Returns their primary keys."""
    Customer.objects.get_or_create(external_id="1", defaults={"name": "Alice Smith", "email": "alice@example.com",
                                                              "age": 30})
    Customer.objects.get_or_create(external_id="2", defaults={"name": "Bob Jones", "email": "bob@example.com",
                                                              "age": 50})
    Product.objects.get_or_create(external_id="p1", defaults={"title": "Canvas backpack", "category": "bags",
                                                               "price": 40})
    Product.objects.get_or_create(external_id="p2", defaults={"title": "Cotton shirt", "category": "clothing",
                                                               "price": 25})
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=hours_ago)

    def ev(n: int, customer: str, session: str, action: str, product: str, minutes: int, price: float,
           order: str | None = None) -> dict:
        return {"event_id": f"page-{customer}-{n}", "customer_id": customer, "session_id": session,
                "action": action, "product_id": product, "quantity": 1, "product_price": price,
                "order_id": order, "timestamp": (t0 + dt.timedelta(minutes=minutes)).isoformat(),
                "product_title": {"p1": "Canvas backpack", "p2": "Cotton shirt"}[product]}

    events = [
        ev(1, "1", "s-1", "view", "p1", 0, 40.0),
        ev(2, "1", "s-1", "add_to_cart", "p1", 1, 40.0),
        ev(3, "1", "s-1", "checkout", "p1", 2, 40.0),
        ev(4, "1", "s-1", "purchase", "p1", 3, 40.0, "o-1"),
        ev(1, "2", "s-2", "view", "p2", 0, 25.0),
        ev(2, "2", "s-2", "add_to_cart", "p2", 1, 25.0),
        ev(3, "2", "s-2", "abandon", "p2", 5, 25.0),
    ]
    result = events_ingest(raw_events=events, broadcast=False)
    assert result.accepted == len(events), result.as_ack()
    # What the metrics engine's beat tasks do every few seconds: derive sessions and carts, close idle ones.
    analytics_process_pending()
    sessions_close_idle()
    return {"buyer": Customer.objects.get(external_id="1").pk, "abandoner": Customer.objects.get(external_id="2").pk}


# A product whose title and category are HTML: Plotly would draw them as a link (security review).
HOSTILE = '<a href="https://evil">x</a>'


def hostile_product_history(*, hours_ago: int = 3) -> int:
    """Customer "3" views, carts and abandons a product whose title and category are an HTML link.
    Returns the customer's primary key."""
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=hours_ago)
    events = [{"event_id": f"hostile-{n}", "customer_id": "3", "session_id": "s-3", "action": action,
               "product_id": "p-evil", "product_title": HOSTILE, "category": HOSTILE, "product_price": 9.0,
               "quantity": 1, "timestamp": (t0 + dt.timedelta(minutes=n)).isoformat()}
              for n, action in enumerate(["view", "add_to_cart", "abandon"])]
    result = events_ingest(raw_events=events, broadcast=False)
    assert result.accepted == len(events), result.as_ack()
    analytics_process_pending()
    sessions_close_idle()
    assert Product.objects.get(external_id="p-evil").category == HOSTILE
    return Customer.objects.get(external_id="3").pk
