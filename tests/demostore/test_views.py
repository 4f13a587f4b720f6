"""The demo store's pages and its key (issue 12): public, from the shipped products, instrumented only
through /tracker.js with the public key ``manage.py demo_store_key`` (``make run``) creates."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from demostore.selectors import demo_store_key
from events.models import Event, IngestKey
from events.services import events_ingest, source_simulator
from insights import selectors
from insights.filters import MetricFilter
from insights.models import Session
from insights.services import analytics_process_pending
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
PAGES = ("/demo-store/", "/demo-store/p/lamp-1/", "/demo-store/cart/", "/demo-store/checkout/", "/demo-store/login/")


@pytest.fixture
def enabled(settings):
    settings.DEMO_STORE_ENABLED = True  # make run sets it



def test_the_key_command_creates_one_public_key_and_extends_its_origins(capsys):
    call_command("demo_store_key", "--origin", "http://127.0.0.1:8000")
    call_command("demo_store_key", "--origin", "http://localhost:8000", "--origin", "http://127.0.0.1:8000")
    key = IngestKey.objects.get(name="demo-store")
    assert key.kind == IngestKey.Kind.PUBLIC and key.public_value == demo_store_key()
    assert key.allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert "Created" in capsys.readouterr().out


def test_pages_are_public_and_load_only_the_tracker_with_the_public_key(client, enabled):
    ProductFactory(external_id="lamp-1", title="Desk lamp", price=40, category="home")
    call_command("demo_store_key", "--origin", "http://testserver")
    key = demo_store_key()
    home = client.get("/demo-store/").content.decode()
    assert "Desk lamp" in home and f'<script src="/tracker.js" data-key="{key}" defer>' in home
    page = client.get("/demo-store/p/lamp-1/").content.decode()
    assert 'data-product-id="lamp-1"' in page and 'data-product-price="40.00"' in page
    for path in ("/demo-store/cart/", "/demo-store/checkout/", "/demo-store/login/"):
        assert client.get(path).status_code == 200
    assert client.get("/demo-store/p/nope/").status_code == 404


def test_without_a_key_the_store_says_how_to_make_one(client, enabled):
    assert "manage.py demo_store_key" in client.get("/demo-store/").content.decode()


def test_the_dashboard_header_links_to_the_demo_store(client_for, enabled):
    assert 'href="/demo-store/"' in client_for(Role.VIEWER).get("/").content.decode()


def test_without_the_setting_the_store_is_not_served_and_not_linked(client, client_for):
    ProductFactory(external_id="lamp-1", title="Desk lamp", price=40, category="home")
    call_command("demo_store_key", "--origin", "http://testserver")
    assert [client.get(path).status_code for path in PAGES] == [404] * len(PAGES)
    assert "Desk lamp" not in client.get("/demo-store/").content.decode()
    assert 'href="/demo-store/"' not in client_for(Role.VIEWER).get("/").content.decode()


def test_make_run_turns_the_store_on():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "scripts" / "run.sh").read_text()
    assert 'export DEMO_STORE_ENABLED="${DEMO_STORE_ENABLED:-1}"' in script


def test_the_checkout_reports_the_order_from_the_server_so_the_browsers_purchase_counts(enabled):
    """As under ``make run``: the simulator's orders make the store's revenue verified-only (auto); the
    demo checkout's order is placed server-side (a verified order at catalogue prices), the page's
    purchase with its id is matched to it: one order, the server's money, the visit converted."""
    ProductFactory(external_id="lamp-1", title="Desk lamp", price=40, category="home")
    call_command("demo_store_key", "--origin", "http://testserver")
    now = timezone.now().replace(microsecond=0)
    events_ingest(raw_events=[{"event_id": "sim-1", "customer_id": "1", "action": "purchase", "product_id": "lamp-1",
                               "product_price": "40.00", "order_id": "sim-1", "timestamp": now.isoformat()}],
                  source=source_simulator())
    shop = Client(enforce_csrf_checks=True)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                      shop.get("/demo-store/checkout/").content.decode()).group(1)
    lines = [{"product_id": "lamp-1", "quantity": 2}]
    refused = shop.post("/demo-store/order/", data=json.dumps({"customer_id": "shopper-7", "lines": lines}),
                        content_type="application/json")
    assert refused.status_code == 403  # no CSRF token: not from the shop's page
    answer = shop.post("/demo-store/order/", data=json.dumps({"customer_id": "shopper-7", "session_id": "ses-1",
                                                              "lines": lines}),
                       content_type="application/json", HTTP_X_CSRFTOKEN=token)
    order_id = answer.json()["order_id"]
    ctx = {"session_id": "ses-1", "campaign": {"source": "newsletter", "medium": "email"}}
    purchase = {"type": "track", "event": "Order Completed", "messageId": "m-1", "userId": "shopper-7",
                "anonymousId": "a-1", "timestamp": now.isoformat(), "context": ctx,
                "properties": {"order_id": order_id, "products": [{"product_id": "lamp-1", "price": 1, "quantity": 2}]}}
    sent = Client().post("/v1/batch", data=json.dumps({"batch": [purchase], "writeKey": demo_store_key()}).encode(),
                         content_type="text/plain", HTTP_ORIGIN="http://testserver")
    assert sent.json()["accepted"] == 1
    analytics_process_pending()
    kpis = selectors.kpis_stats(MetricFilter.default())
    assert (kpis["orders"], kpis["gross_revenue"]) == (2, 120.0)  # the simulator's 40 and the demo order's 2 × 40
    assert kpis["revenue_source"]["mode"] == "verified" and kpis["revenue_source"]["unconfirmed"] == 0
    session = Session.objects.get(customer__external_id="shopper-7")
    assert session.purchased and session.channel == "Email" and session.order_count == 1


def test_the_checkout_refuses_unknown_products_and_a_missing_shopper(client, enabled):
    ProductFactory(external_id="lamp-1", title="Desk lamp", price=40, category="home")
    for body, reason in (({"customer_id": "", "lines": [{"product_id": "lamp-1", "quantity": 1}]}, "log in"),
                         ({"customer_id": "s", "lines": [{"product_id": "nope", "quantity": 1}]}, "no such product"),
                         ({"customer_id": "s", "lines": []}, "1 to 50 lines"), ({"lines": 3}, "as JSON")):
        answer = client.post("/demo-store/order/", data=json.dumps(body), content_type="application/json")
        assert answer.status_code == 400 and reason in answer.json()["error"]
    assert not Event.objects.exists()
