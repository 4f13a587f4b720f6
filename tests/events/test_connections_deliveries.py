"""What a signed delivery may not do, through the real endpoints: a currency without a rate is kept
and stored once rates arrive; odd payloads and negative prices are 400 and store nothing; an older
profile never replaces a newer one; too many lines is 413; a SECRET_KEY change keeps secrets
readable (SECRET_KEY_FALLBACKS) and the log says why a signature is refused; erasure forgets what
connections kept of a customer."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.roles import Role
from customers.models import Customer
from events.connections.models import ConnectionCustomer, ConnectionOrder, StoreConnection, WebhookDelivery
from events.connections.services import connection_create
from events.models import Event, ExchangeRate
from events.services.rates import rates_import
from insights.filters import MetricFilter
from insights.selectors import kpis_stats
from insights.services import analytics_process_pending, sessions_close_idle
from insights.upkeep import customer_events_erase
from tests.events.webhook_fixtures import payload, signed_post, woo_customer, woo_order

pytestmark = pytest.mark.django_db
SECRET = "shpss_0123456789abcdef0123456789abcdef"
MARCH_2024 = MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))


@pytest.fixture
def shop():
    return connection_create(platform="shopify", slug="shop", secret=SECRET)


def post(topic, data, delivery="d-1", *, slug="shop", platform="shopify", secret=SECRET):
    return signed_post(platform, slug, secret, topic, data, delivery=delivery)


def nothing_stored() -> bool:
    return not any(m.objects.exists() for m in (Event, Customer, ConnectionOrder, ConnectionCustomer,
                                                 WebhookDelivery))


# --- A currency without a rate ------------------------------------------------------------------


def test_a_currency_without_a_rate_is_kept_answered_200_and_stored_once_rates_arrive(
        shop, django_capture_on_commit_callbacks):
    order = post("orders/create", payload("shopify_orders_create"), "d-order")
    assert order.status_code == 200 and order.json()["status"] == "waiting"
    assert order.json()["reason"].startswith("waiting for an exchange rate CAD: CAD to USD")
    refund = post("refunds/create", payload("shopify_refunds_create"), "d-refund")
    assert refund.status_code == 200 and refund.json()["status"] == "waiting"
    assert post("orders/create", payload("shopify_orders_create"), "d-order").json()["status"] == "duplicate"
    assert not Event.objects.exists() and not Customer.objects.exists()  # kept whole, nothing else
    kept = WebhookDelivery.objects.get(delivery_id="d-order")
    assert (kept.status, kept.currency, json.loads(kept.payload)["id"]) == ("waiting_rate", "CAD", 450789469)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_rates", "--sample", stdout=StringIO())

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"done"}
    assert set(WebhookDelivery.objects.values_list("payload", flat=True)) == {""}  # dropped once stored
    assert Event.objects.filter(action="purchase", order_id="450789469").count() == 3
    refunded = Event.objects.get(action="refund")
    assert refunded.customer.external_id == "207119551" and refunded.currency == "CAD"  # order stored first
    analytics_process_pending()
    sessions_close_idle()
    kpis = kpis_stats(MARCH_2024)
    assert kpis["orders"] == 1 and kpis["gross_revenue"] > 0 and kpis["refunds"] == float(refunded.amount)


def test_a_kept_delivery_holds_any_text_the_platform_sent(shop, django_capture_on_commit_callbacks):
    order = {**payload("shopify_orders_create"), "note": "a\x00b \ud800", "tags": "HUGE"}
    # A NUL, a lone surrogate and a number too long to convert, in fields nothing reads.
    raw = json.dumps(order).replace('"HUGE"', "9" * 5000).encode()
    assert post("orders/create", raw).json()["status"] == "waiting"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_rates", "--sample", stdout=StringIO())
    assert WebhookDelivery.objects.get().status == "done" and Event.objects.count() == 3


def test_the_message_names_the_orders_currency_when_the_store_currencys_rate_is_missing(shop):
    ExchangeRate.objects.create(day=dt.date(2024, 3, 1), currency="CAD", per_eur=Decimal("1.47"))  # no USD
    response = post("orders/create", payload("shopify_orders_create"))
    reason = response.json()["reason"]
    assert response.status_code == 200 and reason.startswith("waiting for an exchange rate CAD: CAD to USD")
    assert "'USD'" in reason  # what is missing: the store currency's rate


def test_a_kept_delivery_waits_on_while_its_rate_is_missing_and_admin_can_store_it(shop, client_for):
    post("orders/create", payload("shopify_orders_create"))
    rates_import(rows=[(dt.date(2024, 3, 1), "GBP", Decimal("0.85"))])  # the import replays: still no CAD
    from events.connections.services import webhooks_replay_waiting

    assert webhooks_replay_waiting().waiting == 1
    ExchangeRate.objects.bulk_create([ExchangeRate(day=dt.date(2024, 3, 1), currency="CAD", per_eur=Decimal("1.47")),
                                      ExchangeRate(day=dt.date(2024, 3, 1), currency="USD", per_eur=Decimal("1.08"))])
    kept = WebhookDelivery.objects.get()
    response = client_for(Role.ADMIN).post("/admin/events/webhookdelivery/",
                                           {"action": "replay_waiting", "_selected_action": [kept.pk]})
    assert response.status_code == 302
    kept.refresh_from_db()
    assert kept.status == "done" and Event.objects.filter(order_id="450789469").count() == 3


# --- Odd payloads and negative prices: 400, nothing stored ------------------------------------------


def _order_with(change) -> dict:
    order = copy.deepcopy(payload("shopify_orders_create"))
    change(order)
    return order


def _negative_price(order):
    line = order["line_items"][0]
    line["price"] = line["price_set"]["shop_money"]["amount"] = "-25.00"


def _negative_discount(order):
    order["total_discounts"] = order["total_discounts_set"]["shop_money"]["amount"] = "-10.00"


ODD = {
    "NUL in the order id": (lambda o: o.update(id="450789469\x00"), "control character"),
    "customer id over 100 characters": (lambda o: o["customer"].update(id="7" * 101), "longer than 100"),
    "line_items a number": (lambda o: o.update(line_items=5), "line_items: must be a list"),
    "a line that is not an object": (lambda o: o.update(line_items=["x"]), "must be a JSON object"),
    "the order id an object": (lambda o: o.update(id={"a": 1}), "id: must be a string or an integer id"),
    "a line priced -25.00": (_negative_price, "negative amount -25.00"),
    "a negative discount": (_negative_discount, "order discount: negative amount"),
    "a negative quantity": (lambda o: o["line_items"][0].update(quantity=-2), "quantity"),
}


@pytest.mark.parametrize("case", ODD)
def test_an_odd_shopify_payload_is_400_with_a_reason_and_stores_nothing(shop, case):
    call_command("import_rates", "--sample", stdout=StringIO())
    change, reason = ODD[case]
    response = post("orders/create", _order_with(change))
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid_delivery" and any(reason in r for r in answer["reasons"]), answer
    assert nothing_stored()


def test_a_payload_that_is_not_an_object_is_400(shop):
    response = post("orders/create", [1, 2])
    assert response.status_code == 400 and "not a JSON object" in response.json()["error"] and nothing_stored()


def test_a_negative_woocommerce_line_is_400_but_its_negative_refund_totals_are_refunds():
    connection_create(platform="woocommerce", slug="woo", secret=SECRET)
    bad = woo_order(1, 7, "completed", [(1, 93, 1, "-5.00")])
    response = post("order.updated", bad, platform="woocommerce", slug="woo")
    assert response.status_code == 400 and "line 1 subtotal: negative amount -5.00" in response.json()["error"]
    assert nothing_stored()
    good = woo_order(2, 7, "completed", [(1, 93, 1, "5.00")], refunds=((9, "-2.50"),))
    assert post("order.updated", good, "w-2", platform="woocommerce", slug="woo").json()["accepted"] == 2
    assert Event.objects.get(action="refund").amount == Decimal("2.50")


# --- Stale profiles, line cap ------------------------------------------------------------------


def test_an_older_profile_update_changes_nothing(shop):
    update = payload("shopify_customers_update")  # updated_at 2024-03-05T09:00:00-05:00
    newer = {**update, "last_name": "Newer", "updated_at": "2024-03-06T09:00:00-05:00"}
    assert post("customers/update", update, "u-1").status_code == 200
    assert post("customers/update", newer, "u-2").json()["customers"] == 1
    replayed = post("customers/update", update, "u-3")  # the old one again, under a new delivery id
    assert replayed.status_code == 200 and replayed.json()["customers"] == 0
    assert Customer.objects.get(external_id="706405506930370084").name == "Bob Newer"
    stored = ConnectionCustomer.objects.get(customer_id="706405506930370084").profile_updated_at
    assert stored == dt.datetime(2024, 3, 6, 14, tzinfo=dt.UTC)


def test_an_older_woocommerce_customer_update_changes_nothing():
    connection_create(platform="woocommerce", slug="woo", secret=SECRET)
    post("customer.updated", woo_customer(7, first_name="New", email="a@example.com", city="Oslo",
                                          modified="2017-03-26T10:00:00"), "w-1", platform="woocommerce", slug="woo")
    post("customer.updated", woo_customer(7, first_name="Old", email="b@example.com", city="Lyon",
                                          modified="2017-03-25T10:00:00"), "w-2", platform="woocommerce", slug="woo")
    customer = Customer.objects.get(external_id="7")
    assert (customer.email, customer.city) == ("a@example.com", "Oslo")


def test_more_lines_than_the_cap_is_413_and_stores_nothing(shop, settings):
    assert settings.WEBHOOK_MAX_LINES == 5000  # the default
    settings.WEBHOOK_MAX_LINES = 2
    response = post("orders/create", payload("shopify_orders_create"))  # three lines
    assert response.status_code == 413 and response.json()["code"] == "too_many_lines"
    assert "3 lines in one delivery (line_items 3); at most 2" in response.json()["error"]
    assert nothing_stored()


# --- SECRET_KEY changes and refused signatures -------------------------------------------------------


def test_secrets_survive_a_secret_key_change_through_the_fallbacks_then_are_reencrypted(shop, settings, caplog):
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "k" * 40
    caplog.set_level(logging.WARNING, logger="events.connections.views")
    refused = post("customers/update", payload("shopify_customers_update"), "k-1")
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"  # the same answer as a bad one
    assert "cannot be decrypted: SECRET_KEY changed" in caplog.text and "SECRET_KEY_FALLBACKS" in caplog.text
    settings.SECRET_KEY_FALLBACKS = [old]
    assert post("customers/update", payload("shopify_customers_update"), "k-2").status_code == 200
    out = StringIO()
    call_command("reencrypt_connection_secrets", stdout=out)
    assert "1 connection secrets re-encrypted" in out.getvalue() and "shop" in out.getvalue()
    settings.SECRET_KEY_FALLBACKS = []
    assert post("customers/update", payload("shopify_customers_update"), "k-3").status_code == 200
    assert SECRET not in caplog.text and StoreConnection.objects.get().secret_encrypted not in caplog.text


def test_a_wrong_secret_is_logged_as_such_and_an_unreadable_one_fails_the_reencryption(shop, settings, caplog):
    caplog.set_level(logging.WARNING, logger="events.connections.views")
    assert post("orders/create", payload("shopify_orders_create"), secret="not-the-secret").status_code == 401
    assert "the signature does not match" in caplog.text and "not-the-secret" not in caplog.text
    settings.SECRET_KEY = "another-secret-key-entirely-" + "z" * 40
    with pytest.raises(CommandError, match="cannot be decrypted.*shop"):
        call_command("reencrypt_connection_secrets", stdout=StringIO())


# --- Erasure ---------------------------------------------------------------------------------------


def test_erasing_a_customer_removes_what_connections_kept_of_them():
    connection_create(platform="woocommerce", slug="woo", secret=SECRET)
    kw = {"platform": "woocommerce", "slug": "woo"}
    post("order.created", woo_order(1, 7, "processing", [(1, 93, 1, "5.00")]), "w-1", **kw)
    post("order.created", woo_order(2, 8, "processing", [(2, 93, 1, "5.00")]), "w-2", **kw)
    post("customer.updated", woo_customer(7, first_name="Al", email="al@example.com", city="Oslo",
                                          modified="2017-03-26T10:00:00"), "w-3", **kw)
    in_cad = {**woo_order(3, 7, "processing", [(3, 93, 1, "5.00")]), "currency": "CAD"}
    assert post("order.created", in_cad, "w-4", **kw).json()["status"] == "waiting"
    other_in_cad = {**woo_order(4, 8, "processing", [(4, 93, 1, "5.00")]), "currency": "CAD"}
    post("order.created", other_in_cad, "w-5", **kw)

    customer_events_erase(customer=Customer.objects.get(external_id="7"))

    assert not ConnectionOrder.objects.filter(customer_id="7").exists()
    assert not ConnectionCustomer.objects.filter(customer_id="7").exists()
    assert ConnectionOrder.objects.filter(customer_id="8").count() == 1  # the others' stay
    dropped = WebhookDelivery.objects.get(delivery_id="w-4")
    assert (dropped.status, dropped.payload, dropped.outcome) == ("refused", "", "dropped: its customer was erased")
    assert WebhookDelivery.objects.get(delivery_id="w-5").status == "waiting_rate"
