"""Platform payloads → native events and traits (events/connections: pure, no database)."""

from __future__ import annotations

import pytest

from events.connections import shopify, woocommerce
from events.connections.translation import IdSpace, event_id, guest_id, money
from tests.events.webhook_fixtures import payload

SHOP, WOO = IdSpace("shop"), IdSpace("woo")
BOB = {"name": "Bob Norman", "email": "bob.norman@mail.example.com", "city": "Ottawa", "country": "Canada"}
TOKEN = "bd5a8aa1ecd019dd3520ff791ee3a24c"
ORDER_MONEY = {"discount": 10.0, "coupon": "TENOFF", "shipping": 4.99, "tax": 108.68}


def shopify_line(line_id: str, product_id: str, title: str, quantity: int, price: float, **extra) -> dict:
    return {"event_id": f"shop:order:450789469:line:{line_id}", "customer_id": "207119551", "order_id": "450789469",
            "timestamp": "2024-03-14T10:15:00-04:00", "session_id": TOKEN, "action": "purchase",
            "product_id": product_id, "product_title": title, "quantity": quantity, "product_price": price,
            "currency": "CAD", **extra}


SHOPIFY_ORDER_LINES = [
    shopify_line("466157049", "632910392", "IPod Nano - 8gb", 1, 199.0, order=ORDER_MONEY),
    shopify_line("518995019", "632910392", "IPod Nano - 8gb", 2, 199.0),
    shopify_line("703073504", "921728736", "IPod Touch 8GB", 1, 249.0),
]


@pytest.mark.parametrize("topic, name", [("orders/create", "shopify_orders_create"),
                                         ("orders/paid", "shopify_orders_paid")])
def test_shopify_order_lines_in_shop_money_with_the_order_money_once(topic, name):
    out = shopify.translate(topic, payload(name), space=SHOP)
    assert out.events == SHOPIFY_ORDER_LINES  # created and paid: the same events (one order)
    assert out.customers == {"207119551": BOB}
    assert out.orders == {"450789469": "207119551"}
    assert not out.ignored


def test_shopify_cancelled_order_is_its_lines_then_a_cancel():
    out = shopify.translate("orders/cancelled", payload("shopify_orders_cancelled"), space=SHOP)
    assert out.events[:3] == SHOPIFY_ORDER_LINES
    assert out.events[3] == {"event_id": "shop:order:450789469:cancel", "customer_id": "207119551",
                             "action": "cancel", "order_id": "450789469", "timestamp": "2024-03-14T12:00:00-04:00"}


def test_shopify_guest_order_is_a_stable_guest_id_from_the_email():
    out = shopify.translate("orders/create", payload("shopify_orders_create_guest"), space=SHOP)
    guest = guest_id("shop", "jane.guest@example.com", "unused")
    assert guest.startswith("guest:") and len(guest) == 30 and "example" not in guest
    assert [e["customer_id"] for e in out.events] == [guest]
    assert "session_id" not in out.events[0]  # no checkout token
    assert out.events[0]["order"] == {"discount": 0.0, "shipping": 4.99, "tax": 108.68}  # no coupon
    assert out.customers == {guest: {"name": "Jane Guest", "email": "Jane.Guest@Example.com", "city": "Montreal",
                                     "country": "Canada"}}


def test_shopify_refund_lines_use_the_subtotal_and_the_orders_customer():
    out = shopify.translate("refunds/create", payload("shopify_refunds_create"), space=SHOP,
                            order_customers={"450789469": "207119551"})
    assert out.events == [{"event_id": "shop:refund:509562969:line:703073504", "customer_id": "207119551",
                           "action": "refund", "order_id": "450789469", "timestamp": "2024-03-20T09:30:00-04:00",
                           "product_id": "921728736", "product_title": "IPod Touch 8GB", "quantity": 1,
                           "amount": 246.06, "currency": "CAD"}]


def test_shopify_refund_without_lines_is_the_refunded_amount_of_an_unknown_orders_customer():
    out = shopify.translate("refunds/create", payload("shopify_refunds_create_amount"), space=SHOP)
    assert out.events == [{"event_id": "shop:refund:509562970", "customer_id": "guest:shop:order:450789469",
                           "action": "refund", "order_id": "450789469", "timestamp": "2024-03-22T11:00:00-04:00",
                           "amount": 15.0, "currency": "CAD"}]


def test_shopify_checkout_is_add_to_cart_per_line_and_one_checkout_in_the_tokens_session():
    created = shopify.translate("checkouts/create", payload("shopify_checkouts_create"), space=SHOP)
    updated = shopify.translate("checkouts/update", payload("shopify_checkouts_update"), space=SHOP)
    add = {"customer_id": "207119551", "session_id": TOKEN, "action": "add_to_cart", "currency": "CAD"}
    assert created.events == [
        {"event_id": f"shop:checkout:{TOKEN}:line:39072856", **add, "product_id": "632910392",
         "product_title": "IPod Nano - 8gb", "quantity": 1, "product_price": 199.0,
         "timestamp": "2024-03-14T10:05:00-04:00"},
        {"event_id": f"shop:checkout:{TOKEN}", "customer_id": "207119551", "session_id": TOKEN, "action": "checkout",
         "timestamp": "2024-03-14T10:05:00-04:00"}]
    # The update repeats the first line and the checkout (same ids: stored once) and adds two lines.
    assert [e["event_id"] for e in updated.events] == [
        f"shop:checkout:{TOKEN}:line:39072856", f"shop:checkout:{TOKEN}:line:49148385",
        f"shop:checkout:{TOKEN}:line:457924702", f"shop:checkout:{TOKEN}"]
    assert updated.events[1]["timestamp"] == "2024-03-14T10:09:30-04:00"
    assert updated.events[1]["quantity"] == 2
    assert created.customers == {"207119551": BOB}


@pytest.mark.parametrize("topic, name, expected", [
    ("customers/create", "shopify_customers_create", {"name": "Bob Biller", "email": "bob@biller.com"}),
    ("customers/update", "shopify_customers_update", {"name": "Bob Biller-Smith", "email": "bob@biller.com",
                                                      "city": "Ottawa", "country": "Canada"}),
])
def test_shopify_customer_topics_are_traits_only(topic, name, expected):
    out = shopify.translate(topic, payload(name), space=SHOP)
    assert out.events == []
    assert out.customers == {"706405506930370084": expected}


def test_shopify_unknown_topic_is_ignored():
    out = shopify.translate("products/create", {"id": 1}, space=SHOP)
    assert out.events == [] and out.customers == {} and "products/create" in out.ignored


WOO_LINES = [
    {"event_id": "woo:order:727:line:315", "customer_id": "25", "order_id": "727", "action": "purchase",
     "quantity": 2, "product_price": 3.0, "amount": 6.0, "timestamp": "2017-03-22T19:28:02Z", "currency": "USD",
     "product_id": "93", "product_title": "Woo Single #1",
     "order": {"discount": 3.0, "coupon": "spring3", "shipping": 10.0, "tax": 1.35}},
    {"event_id": "woo:order:727:line:316", "customer_id": "25", "order_id": "727", "action": "purchase",
     "quantity": 1, "product_price": 12.0, "amount": 12.0, "timestamp": "2017-03-22T19:28:02Z", "currency": "USD",
     "product_id": "22", "product_title": "Ship Your Idea – Color: Black, Size: M Test"},
]
JOHN = {"name": "John Doe", "email": "john.doe@example.com", "city": "San Francisco", "country": "US"}


@pytest.mark.parametrize("topic, name", [("order.created", "woocommerce_order_created"),
                                         ("order.updated", "woocommerce_order_updated_completed")])
def test_woocommerce_processing_or_completed_order_is_purchase_lines(topic, name):
    out = woocommerce.translate(topic, payload(name), space=WOO)
    assert out.events == WOO_LINES
    assert out.customers == {"25": JOHN}
    assert out.orders == {"727": "25"}


def test_woocommerce_refunded_order_is_its_lines_and_a_refund_per_refund():
    out = woocommerce.translate("order.updated", payload("woocommerce_order_updated_refunded"), space=WOO)
    assert out.events[:2] == WOO_LINES
    refund = {"customer_id": "25", "order_id": "727", "action": "refund", "timestamp": "2017-03-28T14:00:00Z",
              "currency": "USD"}
    assert out.events[2:] == [{"event_id": "woo:refund:726", **refund, "amount": 10.0},
                              {"event_id": "woo:refund:731", **refund, "amount": 16.35}]


def test_woocommerce_cancelled_guest_order_is_a_cancel():
    out = woocommerce.translate("order.updated", payload("woocommerce_order_updated_cancelled"), space=WOO)
    guest = guest_id("woo", "ann.guest@example.com", "unused")
    assert out.events == [{"event_id": "woo:order:728:cancel", "customer_id": guest, "order_id": "728",
                           "action": "cancel", "timestamp": "2017-03-23T08:00:00Z"}]


def test_woocommerce_pending_order_stores_no_event():
    out = woocommerce.translate("order.created", payload("woocommerce_order_created_pending"), space=WOO)
    assert out.events == [] and "pending" in out.ignored


@pytest.mark.parametrize("topic, name, expected", [
    ("customer.created", "woocommerce_customer_created", JOHN),
    ("customer.updated", "woocommerce_customer_updated", {**JOHN, "name": "John Doe-Smith", "city": "Oakland"}),
])
def test_woocommerce_customer_topics_are_traits_only(topic, name, expected):
    out = woocommerce.translate(topic, payload(name), space=WOO)
    assert out.events == [] and out.customers == {"25": expected}


def test_long_event_ids_are_hashed_to_fit_and_stay_stable():
    long = event_id("s" * 40, "checkout", "t" * 80, "line", "k")
    assert len(long) <= 100 and long == event_id("s" * 40, "checkout", "t" * 80, "line", "k")
    assert long != event_id("s" * 40, "checkout", "t" * 80, "line", "j")


@pytest.mark.parametrize("value, expected", [("199.00", 199.0), ("-10.00", -10.0), (246.055, 246.06), ("", None),
                                             (None, None), ("abc", None), (True, None), ("NaN", None)])
def test_money(value, expected):
    assert money(value) == expected
