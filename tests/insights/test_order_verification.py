"""Browser-reported and verified orders (docs/trust.md#browser-reported-and-verified-orders), through the
real entry points: the Segment paths with the public key and the shop's Origin, WooCommerce webhooks
signed with the connection's secret, and the Segment paths with a secret key (a store's server)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.roles import Role
from customers.models import Customer
from events.connections.services import connection_create
from events.models import IngestKey, Source
from events.services import events_ingest, ingest_key_create, source_of_key, source_server
from insights import selectors
from insights.filters import MetricFilter
from insights.models import EventDaily, SessionDaily, TrafficDaily
from insights.rebuild import analytics_rebuild
from insights.services import analytics_process_pending
from insights.source_removal import source_remove
from insights.upkeep import customer_events_erase
from tests.events.webhook_fixtures import signed_post, woo_order
from tests.insights.test_services import snapshot

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
SECRET = "whsec-test-orders"
DAY = "2017-03-22"  # the WooCommerce fixture's order is created 2017-03-22T19:28:02Z
PERIOD = MetricFilter.from_query({"start": DAY, "end": DAY})
AFTER = dt.datetime(2017, 3, 25, tzinfo=dt.UTC)  # every confirmation window of DAY has passed
CENT = Decimal("0.01")


@pytest.fixture
def keys():
    _, public = ingest_key_create(name="storefront", public=True, origins=[SHOP])
    _, secret = ingest_key_create(name="server")
    return public, secret


def browser_purchase(public: str, order_id: str, *, price: float = 99.0, user: str = "7", minute: int = 20) -> None:
    """A visit from an email campaign: a page, an add to cart and the purchase the thank-you page reports."""
    ctx = {"campaign": {"source": "newsletter", "medium": "email", "name": "spring"}, "sessionId": f"b-{order_id}"}
    at = [f"{DAY}T19:{minute:02d}:{second:02d}Z" for second in range(5)]  # in order, a second apart
    batch = [{"type": "page", "messageId": f"p-{order_id}", "userId": user, "timestamp": at[0], "context": ctx},
             {"type": "track", "event": "Product Viewed", "messageId": f"v-{order_id}", "userId": user,
              "timestamp": at[1], "context": ctx, "properties": {"product_id": "93", "price": price}},
             {"type": "track", "event": "Product Added", "messageId": f"a-{order_id}", "userId": user,
              "timestamp": at[2], "context": ctx, "properties": {"product_id": "93", "price": price, "quantity": 1}},
             {"type": "track", "event": "Checkout Started", "messageId": f"c-{order_id}", "userId": user,
              "timestamp": at[3], "context": ctx, "properties": {"products": [{"product_id": "93", "price": price}]}},
             {"type": "track", "event": "Order Completed", "messageId": f"o-{order_id}", "userId": user,
              "timestamp": at[4], "context": ctx, "properties": {
                  "order_id": order_id, "products": [{"product_id": "93", "price": price, "quantity": 1}]}}]
    answer = Client().post("/v1/batch", data=json.dumps({"batch": batch, "writeKey": public}).encode(),
                           content_type="text/plain", HTTP_ORIGIN=SHOP, REMOTE_ADDR="203.0.113.5")
    assert answer.status_code == 200 and answer.json()["accepted"] == 5, answer.content


def webhook_order(order_id: int, subtotal: str = "18.00", *, delivery: str = "d-1") -> None:
    data = woo_order(order_id, 7, "processing", [(1, 93, 1, subtotal)])
    answer = signed_post("woocommerce", "shop", SECRET, "order.created", data, delivery=delivery)
    assert answer.status_code == 200, answer.content


def server_order(secret: str, order_id: str, amount: float, *, minute: int = 21) -> None:
    message = {"type": "track", "event": "Order Completed", "messageId": f"srv-{order_id}", "userId": "7",
               "timestamp": f"{DAY}T19:{minute:02d}:00Z",
               "properties": {"order_id": order_id, "products": [{"product_id": "93", "price": amount}]}}
    auth = "Basic " + base64.b64encode(f"{secret}:".encode()).decode()
    answer = Client().post("/v1/batch", data=json.dumps({"batch": [message]}).encode(),
                           content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.content


def figures(now: dt.datetime = AFTER) -> dict:
    analytics_process_pending(as_of=now)
    kpis = selectors.kpis_stats(PERIOD)
    email = TrafficDaily.objects.filter(channel="Email")
    coupons = selectors.coupons_stats(PERIOD)  # the one panel reading order lines: the same orders and money
    assert (coupons["orders"], coupons["without_coupon"]["gross_revenue"]) == (kpis["orders"], kpis["gross_revenue"])
    return {"orders": kpis["orders"], "gross": kpis["gross_revenue"],
            "converting_sessions": sum(SessionDaily.objects.filter(category="").values_list(
                "purchasing_sessions", flat=True)),
            "email_purchasing_sessions": sum(email.values_list("purchasing_sessions", flat=True)),
            "email_carts_converted": sum(email.values_list("carts_converted", flat=True)),
            "funnel_purchase": selectors.funnel_stats(PERIOD)["steps"][-1]["sessions"],
            "source": selectors.revenue_source_stats(PERIOD, now=now)}


def assert_rebuild_equals(now: dt.datetime = AFTER) -> None:
    incremental = snapshot()
    analytics_rebuild(as_of=now)
    assert snapshot() == incremental


@pytest.mark.parametrize("webhook_first", [False, True])
def test_a_connection_order_confirms_the_browser_purchase_and_alone_brings_its_money(keys, webhook_first):
    public, _ = keys
    connection_create(platform="woocommerce", slug="shop", secret=SECRET)
    sends = [lambda: browser_purchase(public, "1001", price=99.0), lambda: webhook_order(1001, "18.00")]
    for send in reversed(sends) if webhook_first else sends:
        send()
        analytics_process_pending(as_of=AFTER)
    got = figures()
    # one order; the money is the webhook's 18.00 (the browser's 99.00 is ignored); the browser session
    # converted, in its channel, and reached the funnel's last step
    assert (got["orders"], got["gross"]) == (1, 18.0)
    assert got["email_purchasing_sessions"] == 1 and got["email_carts_converted"] == 1
    assert got["funnel_purchase"] == 1
    assert got["source"]["mode"] == "verified" and got["source"]["unconfirmed"] == 0
    assert got["source"]["note"] is None
    assert_rebuild_equals()


def test_a_browser_order_never_confirmed_counts_nowhere_and_is_shown_unconfirmed(keys, client_for):
    public, _ = keys
    connection_create(platform="woocommerce", slug="shop", secret=SECRET)
    webhook_order(1001, "18.00")
    browser_purchase(public, "2002", price=50.0, user="8")
    within = dt.datetime(2017, 3, 22, 20, 0, tzinfo=dt.UTC)
    awaiting = figures(now=within)["source"]
    assert (awaiting["awaiting"], awaiting["unconfirmed"]) == (1, 0)
    assert "1 browser order awaiting confirmation" in awaiting["note"]
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (1, 18.0, 0)
    assert (got["source"]["awaiting"], got["source"]["unconfirmed"]) == (0, 1)
    viewer = client_for(Role.VIEWER)
    api = viewer.get("/api/v1/metrics/kpis", {"start": DAY, "end": DAY}).json()
    assert api["revenue_source"]["unconfirmed"] == 1 and api["gross_revenue"] == 18.0
    page = viewer.get("/", {"start": DAY, "end": DAY}).content.decode()
    assert "1 browser order unconfirmed (not counted)" in page
    assert_rebuild_equals()


def test_without_a_verified_source_browser_purchases_count_and_the_figures_say_so(keys, client_for):
    public, _ = keys
    browser_purchase(public, "3003", price=40.0)
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (1, 40.0, 1)
    assert got["source"]["mode"] == "browser" and got["source"]["browser_reported"]
    viewer = client_for(Role.VIEWER)
    api = viewer.get("/api/v1/metrics/kpis", {"start": DAY, "end": DAY}).json()
    assert api["revenue_source"]["browser_reported"] is True
    assert "Revenue is browser-reported" in viewer.get("/", {"start": DAY, "end": DAY}).content.decode()
    assert_rebuild_equals()


def test_the_first_verified_order_stops_earlier_unconfirmed_browser_purchases_counting(keys):
    public, secret = keys
    browser_purchase(public, "4004", price=40.0)
    browser_purchase(public, "4005", price=30.0, user="8", minute=30)
    assert figures()["gross"] == 70.0
    server_order(secret, "4005", 25.0, minute=31)  # auto turns verified: 4004 is unconfirmed, 4005 confirmed
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (1, 25.0, 1)
    assert (got["source"]["mode"], got["source"]["unconfirmed"]) == ("verified", 1)
    assert_rebuild_equals()


def test_a_secret_key_order_confirms_the_browser_purchase(keys):
    public, secret = keys
    browser_purchase(public, "5005", price=80.0)
    server_order(secret, "5005", 64.5)
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (1, 64.5, 1)
    assert_rebuild_equals()


def test_a_verified_order_later_than_the_window_does_not_confirm(keys, settings):
    public, secret = keys
    settings.BROWSER_ORDER_CONFIRM_HOURS = 0
    browser_purchase(public, "6006", price=80.0, minute=20)
    server_order(secret, "6006", 64.5, minute=21)
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (1, 64.5, 0)
    assert got["source"]["unconfirmed"] == 1
    assert_rebuild_equals()


def test_revenue_source_browser_counts_unconfirmed_browser_purchases_beside_verified_ones(keys, settings):
    public, _ = keys
    settings.REVENUE_SOURCE = "browser"
    connection_create(platform="woocommerce", slug="shop", secret=SECRET)
    webhook_order(1001, "18.00")
    browser_purchase(public, "1001", price=99.0)  # confirmed: still counted once, from the webhook
    browser_purchase(public, "7007", price=40.0, user="8")
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (2, 58.0, 2)
    assert got["source"]["browser_reported"] and got["source"]["unconfirmed"] == 0
    assert_rebuild_equals()


def test_revenue_source_verified_counts_no_browser_purchase_without_a_verified_source(keys, settings):
    public, _ = keys
    settings.REVENUE_SOURCE = "verified"
    browser_purchase(public, "8008", price=40.0)
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (0, 0.0, 0)
    assert (got["source"]["mode"], got["source"]["unconfirmed"]) == ("verified", 1)
    assert_rebuild_equals()


def test_a_browser_order_id_is_matched_in_the_connections_own_id_space(keys):
    """A non-primary connection's orders are ``<slug>:<id>``: a browser purchase naming the bare id is
    not that store's order (it may be the primary store's)."""
    public, _ = keys
    connection_create(platform="woocommerce", slug="first", secret="whsec-first")
    connection_create(platform="woocommerce", slug="shop", secret=SECRET)
    webhook_order(1001, "18.00")
    browser_purchase(public, "1001", price=99.0)
    browser_purchase(public, "shop:1001", price=99.0, user="8", minute=25)
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (1, 18.0, 1)
    assert got["source"]["unconfirmed"] == 1
    assert Decimal(str(got["gross"])) == Decimal("18.00")


# --- incremental == rebuild, and the money is what the rules say -------------------------------------

T0 = dt.datetime(2024, 3, 4, 9, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(days=30)


@st.composite
def order_streams(draw):
    """Orders sent from a browser, verified (by a store's server), both, or cancelled; and the money
    and orders the rules give them, for each revenue source setting."""
    setting = draw(st.sampled_from(["auto", "verified", "browser"]))
    events: list[tuple[str, dict]] = []  # (sender, event)
    plans = []
    for n in range(draw(st.integers(1, 4))):
        order_id, when = f"o{n}", T0 + dt.timedelta(hours=n)
        browser = draw(st.integers(0, 2))  # browser lines
        verified = draw(st.booleans())
        lag = dt.timedelta(hours=draw(st.sampled_from([-1, 0, 2, 30])))  # the verified line after the browser's
        cancelled = verified and draw(st.booleans()) and draw(st.booleans())
        customer = str(draw(st.integers(1, 3)))
        for k in range(browser):
            events.append(("browser", {"event_id": f"{order_id}-b{k}", "anonymous_id": f"v{customer}",
                                       "action": "purchase", "product_id": "1", "product_price": "10.00",
                                       "order_id": order_id, "session_id": f"s{order_id}",
                                       "timestamp": (when + dt.timedelta(minutes=k)).isoformat()}))
        if verified:
            events.append(("server", {"event_id": f"{order_id}-v", "customer_id": customer, "action": "purchase",
                                      "product_id": "2", "product_price": "7.00", "order_id": order_id,
                                      "timestamp": (when + lag).isoformat()}))
        if cancelled:
            events.append(("server", {"event_id": f"{order_id}-x", "customer_id": customer, "action": "cancel",
                                      "order_id": order_id, "timestamp": (when + lag).isoformat()}))
        plans.append((browser, verified, cancelled))
    if draw(st.booleans()):  # a browser purchase without an order id
        events.append(("browser", {"event_id": "loose", "anonymous_id": "v9", "action": "purchase",
                                   "product_id": "1", "product_price": "5.00", "timestamp": T0.isoformat()}))
    counts_browser = setting == "browser" or (setting == "auto" and not any(v for _, v, _ in plans))
    gross, orders = Decimal(0), 0
    for browser, verified, cancelled in plans:
        if cancelled:
            continue
        if verified:
            gross, orders = gross + Decimal("7.00"), orders + 1
        elif browser and counts_browser:
            gross, orders = gross + Decimal("10.00") * browser, orders + 1
    if counts_browser and any(e["event_id"] == "loose" for _, e in events):
        gross, orders = gross + Decimal("5.00"), orders + 1
    return setting, events, (gross, orders), draw(st.randoms(use_true_random=False))


@pytest.mark.django_db
@hypothesis_settings(max_examples=10, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=order_streams())
def test_browser_and_verified_orders_incremental_equals_rebuild(stream, settings):
    setting, events, (gross, orders), rng = stream
    settings.REVENUE_SOURCE = setting
    with transaction.atomic():
        _, public = ingest_key_create(name="storefront", public=True, origins=[SHOP])
        sources = {"browser": source_of_key(IngestKey.objects.get(name="storefront")), "server": source_server()}
        rng.shuffle(events)
        while events:
            sender = events[0][0]
            size = next((k for k, (s, _) in enumerate(events[:3]) if s != sender), min(3, len(events)))
            batch, events = events[:size], events[size:]
            result = events_ingest(raw_events=[e for _, e in batch], source=sources[sender], broadcast=False)
            assert not result.rejected, result.rejected
            if rng.random() < 0.5:
                analytics_process_pending(as_of=LATER)
        analytics_process_pending(as_of=LATER)
        assert Decimal(str(EventDaily.objects.aggregate(t=Sum("revenue"))["t"] or 0)).quantize(CENT) == gross
        assert sum(SessionDaily.objects.filter(category="").values_list("orders", flat=True)) == orders
        incremental = snapshot()
        analytics_rebuild(as_of=LATER)
        assert snapshot() == incremental
        transaction.set_rollback(True)


@pytest.mark.parametrize("how", ["remove_source", "erase_customer"])
def test_when_the_last_verified_orders_go_browser_purchases_count_again(keys, how):
    public, secret = keys
    browser_purchase(public, "9009", price=40.0, user="8")
    server_order(secret, "9100", 25.0)  # customer 7's: the store's only verified order
    assert (figures()["gross"], figures()["source"]["unconfirmed"]) == (25.0, 1)
    if how == "remove_source":
        source_remove(source_pk=Source.objects.get(ingest_key__name="server").pk)
    else:
        customer_events_erase(customer=Customer.objects.get(external_id="7"))
    got = figures()
    assert (got["orders"], got["gross"], got["email_purchasing_sessions"]) == (1, 40.0, 1)
    assert got["source"]["browser_reported"]
    assert_rebuild_equals()
