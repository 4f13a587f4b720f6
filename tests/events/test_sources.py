"""Sources and event-id namespaces, through the real entry points: every event records what sent
it, and an event id is unique only within its source's namespace, so nothing a browser (a public
key copied from a shop's page) sends can suppress an event of a server, a connection or an import."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from events.connections.services import connection_create
from events.connections.signing import signature_of
from events.models import Event, Source
from events.services import events_import_csv, ingest_key_create, ingest_key_rotate
from tests.events.webhook_fixtures import body

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
WOO_SECRET = "woo-secret-7Yb!x"
TS = "2024-01-01T12:00:00Z"
BROWSER = {"HTTP_ORIGIN": SHOP, "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"}


@pytest.fixture
def public_secret():
    return ingest_key_create(name="storefront", public=True, origins=[SHOP])[1]


@pytest.fixture
def server_key():
    return ingest_key_create(name="backend")


def native_post(secret: str, events: list[dict], **headers):
    return Client().post("/api/v1/events", data=json.dumps({"events": events}), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {secret}", **headers)


def page(event_id: str) -> dict:
    return {"event_id": event_id, "customer_id": "anon:a1", "action": "page", "timestamp": TS,
            "context": {"page_url": f"{SHOP}/"}}


def woo_order(slug: str = "woo", delivery: str = "1"):
    raw = body("woocommerce_order_created")
    return Client().post(f"/webhooks/woocommerce/{slug}/", data=raw, content_type="application/json",
                         HTTP_X_WC_WEBHOOK_TOPIC="order.created", HTTP_X_WC_WEBHOOK_DELIVERY_ID=delivery,
                         HTTP_X_WC_WEBHOOK_SIGNATURE=signature_of(raw, WOO_SECRET))


def test_a_browser_cannot_squat_a_connections_event_id(public_secret):
    woo = connection_create(platform="woocommerce", slug="woo", secret=WOO_SECRET)
    # The attacker reads the id scheme and sends the order's line ids first, with the public key.
    squat = [page("woo:order:727:line:315"), page("woo:order:727:line:316")]
    ack = native_post(public_secret, squat, **BROWSER).json()
    assert ack["accepted"] == 2
    answer = woo_order().json()
    assert answer["accepted"] == 2 and answer["duplicates"] == 0
    lines = Event.objects.filter(action="purchase", order_id="727")
    assert sorted(e.event_id for e in lines) == sorted(e["event_id"] for e in squat)  # the same ids
    assert {e.namespace for e in lines} == {f"conn:{woo.pk}"}
    assert {e.source.connection_id for e in lines} == {woo.pk}


def test_a_browser_cannot_squat_a_server_event_id(public_secret, server_key):
    key, secret = server_key
    native_post(public_secret, [page("srv-1")], **BROWSER)
    order = {"event_id": "srv-1", "customer_id": "12", "action": "purchase", "product_id": "p1", "price": 10,
             "order_id": "o-1", "timestamp": TS}
    ack = native_post(secret, [order]).json()
    assert ack["accepted"] == 1 and ack["duplicates"] == []
    stored = Event.objects.get(namespace="server", event_id="srv-1")
    assert stored.action == "purchase" and stored.source.ingest_key == key
    assert Event.objects.get(namespace="browser", event_id="srv-1").source.kind == Source.Kind.PUBLIC_KEY


def test_a_resent_event_is_counted_once_within_its_namespace_and_after_rotation(server_key):
    key, secret = server_key
    event = {"event_id": "e-1", "customer_id": "12", "action": "view", "product_id": "p1", "timestamp": TS}
    assert native_post(secret, [event]).json()["accepted"] == 1
    _, rotated = ingest_key_rotate(key=key)
    again = native_post(rotated, [event]).json()
    assert again["accepted"] == 0 and again["duplicates"] == ["e-1"]
    assert Event.objects.filter(event_id="e-1").count() == 1


def test_two_public_keys_share_the_browser_namespace(public_secret):
    other = ingest_key_create(name="other storefront", public=True, origins=[SHOP])[1]
    assert native_post(public_secret, [page("b-1")], **BROWSER).json()["accepted"] == 1
    assert native_post(other, [page("b-1")], **BROWSER).json()["duplicates"] == ["b-1"]


def test_every_entry_point_records_its_source(public_secret, server_key):
    native_post(server_key[1], [{"event_id": "s", "customer_id": "1", "action": "view", "product_id": "p",
                                 "timestamp": TS}])
    native_post(public_secret, [page("b")], **BROWSER)
    lines = ["event_id,customer_id,action,product_id,timestamp\n", f"c,1,view,p,{TS}\n"]
    events_import_csv(lines=lines, broadcast=False, name="history.csv")
    kinds = dict(Event.objects.values_list("event_id", "source__kind"))
    assert kinds == {"s": "secret_key", "b": "public_key", "c": "import"}
    imported = Source.objects.get(kind="import")
    assert imported.name == "history.csv" and imported.namespace == "import" and imported.trust == "store"
    assert Source.objects.get(kind="public_key").trust == "browser"
    assert Source.objects.get(kind="secret_key").last_used_at is not None
