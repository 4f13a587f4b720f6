"""Public (browser) keys, DESIGN §5: made by command and admin, accepted only from their origins
(CORS preflight answered for them alone, cached), rate-limited per key and per address, revocable
at once; secret keys refused from browsers with a reason."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from accounts.roles import Role
from events.models import Event, IngestKey
from events.services import OriginError, ingest_key_create, ingest_key_revoke, origin_normalize

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
TS = "2024-01-01T12:00:00Z"


@pytest.fixture
def public_key():
    key, secret = ingest_key_create(name="storefront", public=True, origins=[SHOP, "http://localhost:8080/"])
    return key, secret


def page_call(secret: str, message_id: str = "p-1") -> bytes:
    return json.dumps({"writeKey": secret, "messageId": message_id, "anonymousId": "anon-1", "timestamp": TS,
                       "properties": {"url": f"{SHOP}/shoes?utm_source=news", "referrer": "https://www.google.com/"},
                       "context": {"campaign": {"source": "news", "medium": "email"}}}).encode()


def send(path: str, body: bytes, *, origin: str | None = SHOP, content_type: str = "text/plain", **headers):
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    return Client(enforce_csrf_checks=True).post(path, data=body, content_type=content_type, **headers)


def test_origins_are_normalised_as_browsers_send_them():
    assert origin_normalize("HTTPS://Shop.Example:443/") == SHOP
    assert origin_normalize("http://localhost:8080") == "http://localhost:8080"
    for bad in ("shop.example", "ftp://shop.example", "https://shop.example/path", "https://user@shop.example"):
        with pytest.raises(OriginError):
            origin_normalize(bad)


def test_the_command_makes_a_public_key_with_its_origins(capsys):
    call_command("create_ingest_key", "web", "--public", "--origin", "https://Shop.Example/", "--origin",
                 "https://www.shop.example")
    key = IngestKey.objects.get(name="web")
    assert key.kind == "public" and key.allowed_origins == [SHOP, "https://www.shop.example"]
    out = capsys.readouterr().out
    assert key.public_value in out and key.public_value.startswith("pk_")
    with pytest.raises(CommandError, match="at least one allowed origin"):
        call_command("create_ingest_key", "web2", "--public")
    with pytest.raises(CommandError, match="for public keys"):
        call_command("create_ingest_key", "web3", "--origin", SHOP)


def test_a_preflight_is_answered_for_allowed_origins_alone_and_cached(public_key):
    client = Client()
    ok = client.options("/v1/b", HTTP_ORIGIN=SHOP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type")
    assert ok.status_code == 204
    assert ok["Access-Control-Allow-Origin"] == SHOP and ok["Vary"].startswith("Origin")
    assert "POST" in ok["Access-Control-Allow-Methods"]
    assert "Authorization" in ok["Access-Control-Allow-Headers"]
    assert int(ok["Access-Control-Max-Age"]) >= 600
    wrong = client.options("/api/v1/events", HTTP_ORIGIN="https://evil.example")
    assert wrong.status_code == 403 and "Access-Control-Allow-Origin" not in wrong
    assert "not allowed" in wrong.json()["error"]
    ingest_key_revoke(key=public_key[0])
    assert client.options("/v1/b", HTTP_ORIGIN=SHOP).status_code == 403  # revoked: no origin is allowed now


def test_a_public_key_from_its_origin_stores_and_answers_with_cors_headers(public_key):
    _, secret = public_key
    response = send("/v1/p", page_call(secret))
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == SHOP and response["Vary"].startswith("Origin")
    assert response.json()["accepted"] == 1
    event = Event.objects.get(event_id="p-1")
    assert event.action == "page" and event.product_id is None and event.anonymous_id == "anon-1"
    assert event.customer.external_id == "anon:anon-1"
    assert event.context["utm_source"] == "news" and event.context["utm_medium"] == "email"
    assert event.context["referrer"] == "https://www.google.com/"


@pytest.mark.parametrize("origin,code", [("https://evil.example", "origin_refused"), (None, "origin_required"),
                                         ("null", "origin_refused")])
def test_a_public_key_from_elsewhere_is_refused_with_a_reason(public_key, origin, code):
    response = send("/v1/p", page_call(public_key[1]), origin=origin)
    assert response.status_code == 403
    assert response.json()["code"] == code and response.json()["error"]
    assert Event.objects.count() == 0


def test_no_key_is_401_and_a_revoked_public_key_stops_at_once(public_key):
    key, secret = public_key
    no_key = send("/v1/p", json.dumps({"messageId": "x", "anonymousId": "a"}).encode())
    assert no_key.status_code == 401
    assert send("/v1/p", page_call(secret, "p-1")).status_code == 200
    ingest_key_revoke(key=key)
    assert send("/v1/p", page_call(secret, "p-2")).status_code == 401
    assert list(Event.objects.values_list("event_id", flat=True)) == ["p-1"]


def test_a_secret_key_from_a_browser_is_refused_saying_why(ingest_secret):
    body = json.dumps({"events": [{"event_id": "e1", "customer_id": "c", "action": "view", "product_id": "p",
                                   "timestamp": TS}]}).encode()
    response = send("/api/v1/events", body, content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {ingest_secret}")
    assert response.status_code == 403
    assert response.json()["code"] == "secret_key_from_browser" and "public key" in response.json()["error"]
    segment = send("/v1/p", page_call(ingest_secret))
    assert segment.status_code == 403 and segment.json()["code"] == "secret_key_from_browser"
    # The same key from a server (no Origin) is fine.
    server = send("/api/v1/events", body, origin=None, content_type="application/json",
                  HTTP_AUTHORIZATION=f"Bearer {ingest_secret}")
    assert server.status_code == 200 and Event.objects.count() == 1


def test_a_public_key_may_use_the_native_api_with_a_bearer_header(public_key):
    body = json.dumps({"events": [{"event_id": "e1", "anonymous_id": "v-9", "action": "page", "timestamp": TS,
                                   "context": {"page_url": f"{SHOP}/"}}]}).encode()
    response = send("/api/v1/events", body, content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {public_key[1]}", HTTP_USER_AGENT="Mozilla/5.0 Firefox/120.0")
    assert response.status_code == 200 and response.json()["accepted"] == 1
    event = Event.objects.get()
    assert event.customer.external_id == "anon:v-9"
    assert event.context == {"page_url": f"{SHOP}/", "user_agent": "Mozilla/5.0 Firefox/120.0"}


@override_settings(PUBLIC_ADDRESS_RATE_LIMIT=0.5, PUBLIC_ADDRESS_RATE_BURST=2)
def test_public_keys_are_rate_limited_per_client_address(public_key):
    _, secret = public_key
    answers = [send("/v1/p", page_call(secret, f"r-{i}"), REMOTE_ADDR="203.0.113.7") for i in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2]["Retry-After"]) >= 1
    assert answers[2]["Access-Control-Allow-Origin"] == SHOP  # the page can read why
    assert "this address" in answers[2].json()["error"]
    # Another address is not held back by that one.
    assert send("/v1/p", page_call(secret, "r-9"), REMOTE_ADDR="203.0.113.8").status_code == 200
    assert Event.objects.count() == 3


@override_settings(PUBLIC_KEY_RATE_LIMIT=0.5, PUBLIC_KEY_RATE_BURST=2)
def test_public_keys_are_rate_limited_per_key(public_key):
    _, secret = public_key
    codes = [send("/v1/p", page_call(secret, f"k-{i}"), REMOTE_ADDR=f"198.51.100.{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429]


def pages(secret: str, n: int, prefix: str = "b") -> bytes:
    return json.dumps({"writeKey": secret, "batch": [
        {"type": "page", "messageId": f"{prefix}-{i}", "anonymousId": "anon-1", "timestamp": TS} for i in range(n)]
    }).encode()


@override_settings(PUBLIC_MAX_BATCH_EVENTS=5)
def test_a_public_keys_request_carries_at_most_a_trackers_batch(public_key, ingest_secret):
    _, secret = public_key
    over = send("/v1/b", pages(secret, 6))
    assert over.status_code == 413 and over.json()["code"] == "too_many_events"
    assert "at most 5" in over.json()["error"] and over["Access-Control-Allow-Origin"] == SHOP
    assert send("/v1/b", pages(secret, 5)).json()["accepted"] == 5
    # An order's lines count one each.
    big_order = {"writeKey": secret, "event": "Order Completed", "messageId": "o", "anonymousId": "a", "timestamp": TS,
                 "properties": {"order_id": "o-1", "products": [{"product_id": f"p{i}", "price": 1} for i in range(6)]}}
    lines = send("/v1/t", json.dumps(big_order).encode())
    assert lines.status_code == 413 and "6 events" in lines.json()["error"]
    native = json.dumps({"events": [{"event_id": f"n{i}", "anonymous_id": "v", "action": "page", "timestamp": TS}
                                    for i in range(6)]}).encode()
    refused = send("/api/v1/events", native, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert refused.status_code == 413 and refused.json()["code"] == "too_many_events"
    assert Event.objects.count() == 5
    # A server's key is not a tracker: its batches are as large as INGEST_MAX_BATCH_EVENTS.
    server = send("/v1/b", pages(ingest_secret, 6, "s"), origin=None)
    assert server.status_code == 200 and server.json()["accepted"] == 6


@override_settings(PUBLIC_ADDRESS_RATE_LIMIT=1, PUBLIC_ADDRESS_RATE_BURST=10, PUBLIC_MAX_BATCH_EVENTS=30)
def test_one_large_batch_pays_for_every_event_at_the_per_address_limit(public_key):
    _, secret = public_key
    assert send("/v1/b", pages(secret, 30), REMOTE_ADDR="203.0.113.9").status_code == 200  # a full bucket: in
    held = send("/v1/p", page_call(secret, "next"), REMOTE_ADDR="203.0.113.9")
    assert held.status_code == 429
    # 30 events against a burst of 10 left 20 to pay back at 1 a second: about 21 s before the next one
    # (charging the burst alone, as before, would have asked for 1 s).
    assert held.json()["retry_after"] > 10 and int(held["Retry-After"]) > 10


@override_settings(PUBLIC_MAX_BATCH_EVENTS=100)
def test_a_5000_event_batch_from_a_browser_is_refused_whole(public_key):
    _, secret = public_key
    response = send("/v1/b", pages(secret, 5000))
    assert response.status_code == 413 and Event.objects.count() == 0


def test_public_keys_cannot_open_an_ingest_socket(public_key):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from analytics_site.asgi import application

    async def connect() -> bool:
        communicator = WebsocketCommunicator(application, "/ws/events/",
                                             headers=[(b"authorization", f"Bearer {public_key[1]}".encode())])
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(connect)() is False


def test_admin_makes_a_public_key_and_shows_its_snippet(client_for):
    admin = client_for(Role.ADMIN)
    response = admin.post("/admin/events/ingestkey/add/", {"name": "web", "kind": "public", "is_active": "on",
                                                            "origins": "https://Shop.Example\nhttp://localhost:8080"})
    assert response.status_code == 200
    key = IngestKey.objects.get(name="web")
    assert key.is_public and key.allowed_origins == [SHOP, "http://localhost:8080"]
    assert key.public_value in response.content.decode() and "/tracker.js" in response.content.decode()
    page = admin.get(f"/admin/events/ingestkey/{key.pk}/change/").content.decode()
    assert 'id="tracker-snippet"' in page and key.public_value in page
    refused = admin.post("/admin/events/ingestkey/add/", {"name": "web2", "kind": "public", "is_active": "on"})
    assert refused.status_code == 200 and not IngestKey.objects.filter(name="web2").exists()
    assert "at least one allowed origin" in refused.content.decode()


def test_only_admins_manage_keys(client_for):
    analyst = client_for(Role.ANALYST)
    assert analyst.get("/admin/events/ingestkey/add/").status_code in (302, 403)
