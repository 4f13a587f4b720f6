"""Two store connections with overlapping order and customer ids: each store's figures are those it
has alone (signed webhooks shaped like the platforms' documented examples, derived, then compared).

The rule (docs/connections.md): the primary connection (the first) shares the store's own ids; every
other connection's customer, order and product ids are prefixed ``<slug>:``. The same e-mail in two
connections is two customers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from customers.models import Customer
from events.connections.models import ConnectionCustomer, ConnectionOrder
from events.connections.services import connection_create
from events.models import Event
from events.services import events_ingest
from insights.filters import MetricFilter
from insights.models import CustomerTotals
from insights.selectors import kpis_stats
from insights.services import analytics_process_pending, sessions_close_idle
from products.models import Product
from tests.events.webhook_fixtures import body, signed_post, woo_customer, woo_order

pytestmark = pytest.mark.django_db
SECRET_A, SECRET_B = "secret-of-store-a-1234", "secret-of-store-b-5678"
KPIS = ("events", "customers", "orders", "gross_revenue", "net_revenue", "refunds", "discounts")
Delivery = tuple[str, str, Any]  # (topic, delivery id, payload: dict or raw bytes)


def _woo_a() -> list[Delivery]:
    return [
        ("order.created", "d-1", woo_order(1001, 7, "processing", [(1, 93, 2, "6.00"), (2, 22, 1, "12.00")],
                                           first_name="Alice", email="alice@example.com")),
        ("order.updated", "d-2", woo_order(1002, 8, "completed", [(3, 93, 1, "3.00")], refunds=((50, "-1.00"),),
                                           first_name="Carl", email="carl@example.com",
                                           modified="2017-03-23T10:00:00")),
        ("customer.updated", "d-3", woo_customer(7, first_name="Alice", email="alice@example.com", city="Lyon",
                                                 modified="2017-03-25T10:00:00")),
    ]


def _woo_b() -> list[Delivery]:
    bea = {"first_name": "Bea", "email": "alice@example.com"}  # the same e-mail as store A's customer 7
    return [
        ("order.created", "d-1", woo_order(1001, 7, "processing", [(1, 93, 5, "50.00")], **bea)),
        ("order.updated", "d-2", woo_order(1001, 7, "cancelled", [(1, 93, 5, "50.00")], **bea,
                                           modified="2017-03-23T08:00:00")),
        ("order.updated", "d-3", woo_order(1003, 7, "completed", [(4, 40, 1, "20.00")], refunds=((51, "-5.00"),),
                                           **bea, modified="2017-03-24T08:00:00")),
        ("customer.updated", "d-4", woo_customer(7, first_name="Bea", email="alice@example.com", city="Oslo",
                                                 modified="2017-03-26T10:00:00")),
        ("order.created", "d-5", woo_order(1004, 0, "processing", [(5, 22, 1, "12.00")], first_name="Gus",
                                           email="alice@example.com")),  # a guest, again the same e-mail
    ]


def _figures(posts: list[Callable[[], Any]], period: MetricFilter) -> tuple[dict[str, tuple], dict[str, Any]]:
    """Send the deliveries, derive, and read each customer's all-time figures and profile and the
    period's KPIs; then roll everything back (a savepoint), as if it never happened."""
    sid = transaction.savepoint()
    try:
        for post in posts:
            response = post()
            assert response.status_code == 200, response.content
        analytics_process_pending()
        sessions_close_idle()
        totals = {t.customer_id: t for t in CustomerTotals.objects.all()}
        people = {}
        for c in Customer.objects.all():
            t = totals.get(c.pk)
            money = (t.events, t.orders, t.revenue, t.discounts, t.refunds) if t else None
            people[c.external_id] = (c.name, c.email, c.city, money)
        kpis = kpis_stats(period)
        return people, {k: kpis[k] for k in KPIS}
    finally:
        transaction.savepoint_rollback(sid)


def _poster(platform: str, slug: str, secret: str, delivery: Delivery) -> Callable[[], Any]:
    topic, delivery_id, data = delivery
    return lambda: signed_post(platform, slug, secret, topic, data, delivery=delivery_id)


def _each_store_alone(platform: str, a: list[Delivery], b: list[Delivery], period: MetricFilter) -> dict:
    """Store A (primary, slug "a") and store B (slug "b"): figures of each alone and of both, their
    deliveries interleaved; each store's part of the whole equals its figures alone."""
    connection_create(platform=platform, slug="a", secret=SECRET_A)
    connection_create(platform=platform, slug="b", secret=SECRET_B)
    posts_a = [_poster(platform, "a", SECRET_A, d) for d in a]
    posts_b = [_poster(platform, "b", SECRET_B, d) for d in b]
    together = [p for pair in zip(posts_a, posts_b, strict=False) for p in pair]
    together += posts_a[len(posts_b):] + posts_b[len(posts_a):]
    (alone_a, kpis_a), (alone_b, kpis_b) = _figures(posts_a, period), _figures(posts_b, period)
    both, kpis_both = _figures(together, period)
    assert {k: v for k, v in both.items() if not k.startswith("b:")} == alone_a
    assert {k: v for k, v in both.items() if k.startswith("b:")} == alone_b
    assert not any(k.startswith("b:") for k in alone_a) and all(k.startswith("b:") for k in alone_b)
    for key in KPIS:
        assert kpis_both[key] == pytest.approx(kpis_a[key] + kpis_b[key]), key
    return both


def test_two_woocommerce_stores_with_the_same_order_and_customer_ids_keep_their_own_figures():
    both = _each_store_alone("woocommerce", _woo_a(), _woo_b(), MetricFilter(start=dt.date(2017, 3, 1),
                                                                            end=dt.date(2017, 4, 30)))
    # Store B's cancel of its order 1001 left store A's order 1001 counted; B's customer 7 is not A's.
    assert both["7"][:3] == ("Alice Doe-Smith", "alice@example.com", "Lyon")
    assert both["7"][3][1:3] == (1, 18)  # one order, $18 gross
    assert both["b:7"][:3] == ("Bea Doe-Smith", "alice@example.com", "Oslo")
    assert both["b:7"][3][1:] == (1, 20, 0, 5)  # order 1003 only (1001 cancelled), refund 5
    # The same e-mail is three customers: A's 7, B's 7 and B's guest (an e-mail never merges people).
    guests = [k for k in both if k.startswith("b:guest:")]
    assert len(guests) == 1 and both[guests[0]][1] == "alice@example.com"


def test_two_shopify_stores_refunds_find_their_own_orders_customer():
    call_command("import_rates", "--sample", stdout=StringIO())  # the examples are priced in CAD
    deliveries = [("orders/paid", "d-1", body("shopify_orders_paid")),
                  ("refunds/create", "d-2", body("shopify_refunds_create")),
                  ("customers/update", "d-3", body("shopify_customers_update"))]
    both = _each_store_alone("shopify", deliveries, deliveries, MetricFilter(start=dt.date(2024, 3, 1),
                                                                            end=dt.date(2024, 3, 31)))
    assert {"207119551", "b:207119551", "706405506930370084", "b:706405506930370084"} <= set(both)
    assert both["b:207119551"] == both["207119551"]  # the same deliveries: the same figures, apart


def test_what_each_connection_stores_is_in_its_own_id_space():
    connection_create(platform="woocommerce", slug="a", secret=SECRET_A)
    connection_create(platform="woocommerce", slug="b", secret=SECRET_B)
    for slug, secret in (("a", SECRET_A), ("b", SECRET_B)):
        for topic, delivery_id, data in _woo_b()[:3]:
            assert signed_post("woocommerce", slug, secret, topic, data, delivery=delivery_id).status_code == 200
    assert set(Event.objects.filter(action="cancel").values_list("order_id", flat=True)) == {"1001", "b:1001"}
    assert set(Event.objects.filter(customer__external_id="b:7").values_list("order_id", flat=True)) == {
        "b:1001", "b:1003"}
    assert {"93", "b:93", "40", "b:40"} <= set(Product.objects.values_list("external_id", flat=True))
    assert set(ConnectionOrder.objects.values_list("connection__slug", "order_id", "customer_id")) == {
        ("a", "1001", "7"), ("a", "1003", "7"), ("b", "1001", "b:7"), ("b", "1003", "b:7")}
    assert set(ConnectionCustomer.objects.values_list("connection__slug", "customer_id")) == {("a", "7"), ("b", "b:7")}


def test_the_primary_connections_customers_are_those_the_server_keys_and_the_tracker_name():
    connection_create(platform="woocommerce", slug="a", secret=SECRET_A)
    topic, delivery_id, data = _woo_a()[0]
    assert signed_post("woocommerce", "a", SECRET_A, topic, data, delivery=delivery_id).status_code == 200
    result = events_ingest(raw_events=[{"event_id": "srv-1", "customer_id": "7", "action": "view",
                                        "product_id": "93", "timestamp": "2017-03-22T20:00:00Z"}])
    assert result.accepted == 1
    assert Customer.objects.filter(external_id="7").count() == 1
    assert Customer.objects.get(external_id="7").events.count() == 3  # two order lines and the view


def test_one_connection_at_most_shares_the_store_ids():
    connection_create(platform="woocommerce", slug="a", secret=SECRET_A)
    with pytest.raises(ValueError, match="already shares the store's ids"):
        connection_create(platform="shopify", slug="b", secret=SECRET_B, shares_store_ids=True)
    assert connection_create(platform="shopify", slug="b", secret=SECRET_B).id_prefix == "b:"
    with pytest.raises(ValueError, match="not one of anon, guest"):
        connection_create(platform="shopify", slug="anon", secret=SECRET_B)
