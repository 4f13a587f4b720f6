"""POST /webhooks/shopify/<slug>/ and /webhooks/woocommerce/<slug>/ end to end: signature, topics,
redeliveries, customers, and what the current ingest stores.

The Shopify examples are priced in CAD (the store currency is USD): the shop fixture loads the shipped
exchange-rate excerpt (``import_rates --sample``), so their amounts are converted at ingest.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from customers.models import Customer
from events.connections.models import ConnectionOrder, StoreConnection, WebhookDelivery
from events.connections.services import connection_create
from events.connections.signing import signature_of
from events.connections.translation import guest_id
from events.models import Event
from tests.events.webhook_fixtures import body

pytestmark = pytest.mark.django_db
SECRET = "shpss_0123456789abcdef0123456789abcdef"
WOO_SECRET = "woo-secret-7Yb!x"


@pytest.fixture
def shop():
    call_command("import_rates", "--sample", stdout=StringIO())  # the examples are in CAD
    return connection_create(platform="shopify", slug="shop", secret=SECRET)


@pytest.fixture
def woo():
    return connection_create(platform="woocommerce", slug="woo", secret=WOO_SECRET)


def shopify_post(topic: str, raw: bytes, *, delivery: str = "d-1", secret: str | None = SECRET, slug: str = "shop",
                 signature: str | None = None):
    headers = {"HTTP_X_SHOPIFY_TOPIC": topic, "HTTP_X_SHOPIFY_WEBHOOK_ID": delivery,
               "HTTP_X_SHOPIFY_SHOP_DOMAIN": "shop.myshopify.com"}
    if signature is None and secret is not None:
        signature = signature_of(raw, secret)
    if signature is not None:
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = signature
    return Client(enforce_csrf_checks=True).post(f"/webhooks/shopify/{slug}/", data=raw,
                                                 content_type="application/json", **headers)


def woo_post(topic: str, raw: bytes, *, delivery: str = "w-1", secret: str | None = WOO_SECRET):
    headers = {"HTTP_X_WC_WEBHOOK_TOPIC": topic, "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery,
               "HTTP_X_WC_WEBHOOK_SOURCE": "https://woo.example.com/"}
    if secret is not None:
        headers["HTTP_X_WC_WEBHOOK_SIGNATURE"] = signature_of(raw, secret)
    return Client(enforce_csrf_checks=True).post("/webhooks/woocommerce/woo/", data=raw,
                                                 content_type="application/json", **headers)


# --- Signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "wrong secret", "garbage", "other body", "unknown slug", "inactive"])
def test_shopify_unsigned_or_missigned_delivery_is_401_and_stores_nothing(shop, how):
    raw = body("shopify_orders_create")
    kwargs: dict = {"missing": {"secret": None}, "wrong secret": {"secret": "not-the-secret"},
                    "garbage": {"signature": "bm90IGEgc2lnbmF0dXJl"},
                    "other body": {"signature": signature_of(raw + b" ", SECRET)},
                    "unknown slug": {"slug": "other"}, "inactive": {}}[how]
    if how == "inactive":
        StoreConnection.objects.filter(pk=shop.pk).update(is_active=False)
    response = shopify_post("orders/create", raw, **kwargs)
    assert response.status_code == 401
    assert Event.objects.count() == 0 and Customer.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0 and ConnectionOrder.objects.count() == 0


def test_woocommerce_missigned_delivery_is_401_and_stores_nothing(woo):
    response = woo_post("order.created", body("woocommerce_order_created"), secret="wrong")
    assert response.status_code == 401
    assert Event.objects.count() == 0 and Customer.objects.count() == 0


def test_the_secret_is_stored_encrypted(shop):
    assert SECRET not in shop.secret_encrypted and SECRET not in str(StoreConnection.objects.values().get())


def test_webhooks_need_no_session_or_csrf_token_and_only_accept_post(shop):
    assert Client().get("/webhooks/shopify/shop/").status_code == 405
    assert shopify_post("orders/create", body("shopify_orders_create")).status_code == 200  # enforce_csrf_checks


def test_a_body_over_the_limit_is_413(shop, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    response = shopify_post("orders/create", body("shopify_orders_create"))
    assert response.status_code == 413 and Event.objects.count() == 0


def test_a_signed_body_that_is_not_json_is_400(shop):
    assert shopify_post("orders/create", b"not json").status_code == 400


# --- Shopify topics ---------------------------------------------------------------------------


def test_shopify_order_created_then_paid_is_one_order(shop):
    first = shopify_post("orders/create", body("shopify_orders_create"), delivery="d-create")
    assert first.status_code == 200
    assert first.json()["status"] == "stored" and first.json()["accepted"] == 3
    paid = shopify_post("orders/paid", body("shopify_orders_paid"), delivery="d-paid")
    assert paid.json()["accepted"] == 0 and paid.json()["duplicates"] == 3
    lines = Event.objects.filter(action="purchase", order_id="450789469").order_by("event_id")
    # Sent in CAD, stored in the store currency (USD) at the rate of the order's date, which is kept.
    rate = lines[0].fx_rate
    assert rate is not None and {(e.currency, e.fx_rate) for e in lines} == {("CAD", rate)}
    assert [(e.product.external_id, e.quantity, e.price) for e in lines] == [
        (pid, qty, (Decimal(cad) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP))
        for pid, qty, cad in (("632910392", 1, "199.00"), ("632910392", 2, "199.00"), ("921728736", 1, "249.00"))]
    assert {e.customer.external_id for e in lines} == {"207119551"}
    assert {e.session_id for e in lines} == {"bd5a8aa1ecd019dd3520ff791ee3a24c"}
    assert WebhookDelivery.objects.filter(connection=shop).count() == 2
    assert StoreConnection.objects.get(pk=shop.pk).last_delivery_at is not None


def test_shopify_redelivery_stores_nothing_new(shop):
    shopify_post("orders/create", body("shopify_orders_create"), delivery="same")
    again = shopify_post("orders/create", body("shopify_orders_create"), delivery="same")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert Event.objects.count() == 3 and WebhookDelivery.objects.count() == 1


def test_shopify_order_customer_is_the_stores_customer_with_traits(shop):
    tracked = Customer.objects.create(external_id="207119551")  # seen first by the tracker / another API
    shopify_post("orders/create", body("shopify_orders_create"))
    tracked.refresh_from_db()
    assert (tracked.name, tracked.email, tracked.city, tracked.country) == (
        "Bob Norman", "bob.norman@mail.example.com", "Ottawa", "Canada")
    assert Customer.objects.count() == 1


def test_shopify_guest_order_is_the_guest_id_of_the_email(shop):
    shopify_post("orders/create", body("shopify_orders_create_guest"))
    guest = Customer.objects.get(external_id=guest_id("shop", "jane.guest@example.com", ""))
    assert guest.email == "Jane.Guest@Example.com" and guest.events.count() == 1


def test_shopify_order_money_is_stored_in_its_currency(shop):
    shopify_post("orders/create", body("shopify_orders_create"))
    line = Event.objects.get(event_id="shop:order:450789469:line:466157049")
    assert line.currency == "CAD"


def test_shopify_cancelled_order_stores_a_cancel(shop):
    response = shopify_post("orders/cancelled", body("shopify_orders_cancelled"))
    assert response.json()["rejected"] == [] and response.json()["accepted"] == 4
    assert Event.objects.filter(action="cancel", order_id="450789469").count() == 1


def test_shopify_refund_stores_a_refund_line_for_the_orders_customer(shop):
    shopify_post("orders/paid", body("shopify_orders_paid"), delivery="d-paid")
    response = shopify_post("refunds/create", body("shopify_refunds_create"), delivery="d-refund")
    assert response.json()["rejected"] == [] and response.json()["accepted"] == 1
    refund = Event.objects.get(event_id="shop:refund:509562969:line:703073504")
    assert (refund.action, refund.order_id, refund.customer.external_id) == ("refund", "450789469", "207119551")


def test_shopify_refund_of_an_amount_is_stored(shop):
    response = shopify_post("refunds/create", body("shopify_refunds_create_amount"))
    assert response.json()["rejected"] == [] and response.json()["accepted"] == 1
    assert Event.objects.filter(action="refund", event_id="shop:refund:509562970").count() == 1


def test_shopify_refund_is_answered_200_and_recorded_whatever_ingest_says(shop):
    # Before the money engine the refund action is refused per event; the delivery is still a 200
    # (a 4xx would make Shopify retry, then drop the webhook) and its outcome is recorded.
    response = shopify_post("refunds/create", body("shopify_refunds_create"), delivery="d-refund")
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(delivery_id="d-refund")
    assert delivery.topic == "refunds/create" and delivery.outcome.startswith("stored:")


def test_shopify_checkouts_then_order_convert_the_cart_and_a_lone_checkout_is_abandoned(shop):
    from insights.models import Cart
    from insights.services import analytics_process_pending, sessions_close_idle

    assert shopify_post("checkouts/create", body("shopify_checkouts_create"), delivery="c1").json()["accepted"] == 2
    update = shopify_post("checkouts/update", body("shopify_checkouts_update"), delivery="c2").json()
    assert (update["accepted"], update["duplicates"]) == (2, 2)
    shopify_post("checkouts/create", body("shopify_checkouts_create_abandoned"), delivery="c3")
    shopify_post("orders/paid", body("shopify_orders_paid"), delivery="o1")
    assert Event.objects.filter(action="checkout").count() == 2
    analytics_process_pending()
    sessions_close_idle()
    carts = {c.customer.external_id: c.state for c in Cart.objects.select_related("customer")}
    carla = guest_id("shop", "carla.shopper@example.com", "")
    assert carts == {"207119551": "converted", carla: "abandoned"}


@pytest.mark.parametrize("topic, name", [("customers/create", "shopify_customers_create"),
                                         ("customers/update", "shopify_customers_update")])
def test_shopify_customer_topics_create_or_update_the_customer(shop, topic, name):
    response = shopify_post(topic, body(name))
    assert response.status_code == 200 and response.json()["customers"] == 1
    customer = Customer.objects.get(external_id="706405506930370084")
    assert customer.email == "bob@biller.com" and customer.name.startswith("Bob Biller")
    assert Event.objects.count() == 0


def test_shopify_customer_update_changes_traits_and_keeps_what_it_does_not_send(shop):
    shopify_post("customers/create", body("shopify_customers_create"), delivery="1")
    Customer.objects.filter(external_id="706405506930370084").update(gender="female")
    shopify_post("customers/update", body("shopify_customers_update"), delivery="2")
    customer = Customer.objects.get(external_id="706405506930370084")
    assert (customer.name, customer.city, customer.gender) == ("Bob Biller-Smith", "Ottawa", "female")


def test_shopify_unknown_topic_is_200_ignored(shop):
    response = shopify_post("products/create", b'{"id": 632910392, "title": "IPod Nano - 8GB"}')
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert Event.objects.count() == 0 and Customer.objects.count() == 0


# --- WooCommerce topics -----------------------------------------------------------------------


def test_woocommerce_ping_is_answered_200_and_stores_nothing(woo):
    response = Client(enforce_csrf_checks=True).post(
        "/webhooks/woocommerce/woo/", data=b"webhook_id=12", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.json()["status"] == "ping"
    assert WebhookDelivery.objects.count() == 0 and Event.objects.count() == 0


def test_woocommerce_ping_of_an_unknown_connection_is_401(db):
    response = Client().post("/webhooks/woocommerce/nope/", data=b"webhook_id=12",
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401


def test_woocommerce_order_created_then_completed_is_one_order(woo):
    created = woo_post("order.created", body("woocommerce_order_created"), delivery="1")
    assert created.status_code == 200 and created.json()["accepted"] == 2
    completed = woo_post("order.updated", body("woocommerce_order_updated_completed"), delivery="2")
    assert completed.json()["accepted"] == 0 and completed.json()["duplicates"] == 2
    lines = Event.objects.filter(order_id="727").order_by("event_id")
    assert [(e.product.external_id, e.quantity, str(e.line_total)) for e in lines] == [
        ("93", 2, "6.00"), ("22", 1, "12.00")]
    assert {e.customer.external_id for e in lines} == {"25"}
    assert lines[1].product.title == "Ship Your Idea – Color: Black, Size: M Test"


def test_woocommerce_redelivery_stores_nothing_new(woo):
    woo_post("order.created", body("woocommerce_order_created"), delivery="same")
    again = woo_post("order.created", body("woocommerce_order_created"), delivery="same")
    assert again.json()["status"] == "duplicate" and Event.objects.count() == 2


def test_woocommerce_refunded_order_stores_its_refunds(woo):
    response = woo_post("order.updated", body("woocommerce_order_updated_refunded"))
    assert response.json()["rejected"] == [] and response.json()["accepted"] == 4
    assert Event.objects.filter(action="refund", order_id="727").count() == 2


def test_woocommerce_cancelled_order_stores_a_cancel(woo):
    response = woo_post("order.updated", body("woocommerce_order_updated_cancelled"))
    assert response.json()["rejected"] == [] and response.json()["accepted"] == 1
    assert Event.objects.filter(action="cancel", order_id="728").count() == 1


def test_woocommerce_pending_order_is_ignored_but_its_customer_is_known(woo):
    response = woo_post("order.created", body("woocommerce_order_created_pending"))
    assert response.json()["status"] == "ignored" and Event.objects.count() == 0
    assert Customer.objects.get(external_id=guest_id("woo", "ann.guest@example.com", "")).name == "Ann Guest"


@pytest.mark.parametrize("topic, name, city", [("customer.created", "woocommerce_customer_created", "San Francisco"),
                                               ("customer.updated", "woocommerce_customer_updated", "Oakland")])
def test_woocommerce_customer_topics(woo, topic, name, city):
    assert woo_post(topic, body(name)).status_code == 200
    customer = Customer.objects.get(external_id="25")
    assert (customer.email, customer.city, customer.country) == ("john.doe@example.com", city, "US")


def test_a_transient_database_failure_is_503_and_the_delivery_is_not_recorded(lock_events_table):
    call_command("import_rates", "--sample", stdout=StringIO())  # the example is in CAD
    connection_create(platform="shopify", slug="shop", secret=SECRET)
    with lock_events_table():
        response = shopify_post("orders/create", body("shopify_orders_create"), delivery="d-1")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert Event.objects.count() == 0 and WebhookDelivery.objects.count() == 0
    retried = shopify_post("orders/create", body("shopify_orders_create"), delivery="d-1")  # Shopify resends
    assert retried.json()["accepted"] == 3 and WebhookDelivery.objects.count() == 1
