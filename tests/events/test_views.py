"""HTTP ingest: POST /api/v1/events and the Segment-compatible /v1/batch and /v1/track."""

from __future__ import annotations

import base64
import gzip
import json
from decimal import Decimal

import pytest
from django.test import Client

from events.models import Event

TS = "2024-01-01T12:00:00Z"


def event(i: int, **overrides) -> dict:
    return {"event_id": f"h-{i}", "customer_id": "c-1", "action": "view", "product_id": "p-1",
            "product_price": 10, "timestamp": TS, **overrides}


def post(path: str, body, *, auth: str | None = None, gzipped: bool = False, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {}
    if auth:
        headers["HTTP_AUTHORIZATION"] = auth
    if gzipped:
        data = gzip.compress(data)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    return Client(enforce_csrf_checks=True).post(path, data=data, content_type="application/json", **headers)


def basic(secret: str) -> str:
    return "Basic " + base64.b64encode(f"{secret}:".encode()).decode()


@pytest.mark.django_db
def test_native_batch_is_stored_and_acknowledged(ingest_secret):
    response = post("/api/v1/events", {"events": [event(1), event(2, quantity=3, action="purchase")]},
                    auth=f"Bearer {ingest_secret}")
    assert response.status_code == 200
    assert response.json() == {"type": "ack", "accepted": 2, "duplicates": [], "rejected": []}
    stored = Event.objects.get(event_id="h-2")
    assert (stored.action, stored.quantity, stored.price) == ("purchase", 3, Decimal("10.00"))
    again = post("/api/v1/events", event(1), auth=f"Bearer {ingest_secret}")  # one event, resent
    assert again.json()["duplicates"] == ["h-1"]


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["none", "wrong", "revoked", "basic-instead-of-bearer"])
def test_native_api_refuses_without_a_valid_active_key(how, revoked_secret, ingest_secret):
    auth = {"none": None, "wrong": "Bearer ak_wrong", "revoked": f"Bearer {revoked_secret}",
            "basic-instead-of-bearer": basic(ingest_secret)}[how]
    response = post("/api/v1/events", {"events": [event(1)]}, auth=auth)
    assert response.status_code == 401
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_native_api_answers_400_for_non_json_and_413_over_the_limits(ingest_secret, settings):
    settings.INGEST_MAX_BATCH_EVENTS = 2
    settings.INGEST_MAX_MESSAGE_BYTES = 1000
    auth = f"Bearer {ingest_secret}"
    not_json = post("/api/v1/events", None, auth=auth, raw=b"{oops")
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    assert post("/api/v1/events", [event(1)], auth=auth).status_code == 400
    assert post("/api/v1/events", {"events": [event(i) for i in range(3)]}, auth=auth).status_code == 413
    big = post("/api/v1/events", {"events": [event(1, description="x" * 2000)]}, auth=auth)
    assert big.status_code == 413 and "larger than 1000 bytes" in big.json()["error"]
    bomb = post("/api/v1/events", {"events": [event(1, description="x" * 50_000)]}, auth=auth, gzipped=True)
    assert bomb.status_code == 413
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_other_posts_keep_csrf():
    # Endpoints of the rest of the site are not exempt (the login form is a POST).
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403


def segment_message(event_name: str, message_id: str, properties: dict, **extra) -> dict:
    return {"type": "track", "event": event_name, "messageId": message_id, "userId": "u-7",
            "timestamp": "2024-02-03T04:05:06.000Z", "properties": properties, **extra}


@pytest.mark.django_db
def test_segment_batch_maps_ecommerce_v2_events(ingest_secret):
    batch = [
        segment_message("Product Viewed", "m-1", {"product_id": "sku-1", "name": "Lamp", "price": 40,
                                                  "category": "home"}),
        segment_message("Product Added", "m-2", {"product_id": "sku-1", "price": 40, "quantity": 2},
                        userId=None, anonymousId="anon-1"),
        segment_message("Checkout Started", "m-3", {"order_id": "o-1"}),
        segment_message("Order Completed", "m-4", {"order_id": "o-1", "products": [
            {"product_id": "sku-1", "price": 40, "quantity": 2},
            {"product_id": "sku-2", "name": "Bulb", "price": 2.5, "quantity": 4}]}),
        segment_message("Signed Up", "m-5", {}),
        {"type": "identify", "userId": "u-7", "messageId": "m-6"},
    ]
    response = post("/v1/batch", {"batch": batch}, auth=basic(ingest_secret), gzipped=True)
    assert response.status_code == 200
    ack = response.json()
    assert ack["accepted"] == 6  # five lines and the identify call (recorded)
    assert ack["rejected"] == []
    assert [(i["index"], i["event_id"]) for i in ack["ignored"]] == [(4, "m-5")]  # maps to nothing: not an error
    rows = {e.event_id: e for e in Event.objects.select_related("customer", "product")}
    assert set(rows) == {"m-1", "m-2", "m-3", "m-4:0", "m-4:1"}
    assert rows["m-1"].action == "view" and rows["m-1"].product.title == "Lamp"
    assert rows["m-1"].product.category == "home"
    assert rows["m-2"].customer.external_id == "anon:anon-1" and rows["m-2"].quantity == 2
    assert rows["m-2"].anonymous_id == "anon-1"
    assert rows["m-3"].action == "checkout" and rows["m-3"].order_id == "o-1"
    line = rows["m-4:1"]
    assert (line.action, line.product.external_id, line.price, line.quantity, line.order_id) == (
        "purchase", "sku-2", Decimal("2.50"), 4, "o-1")
    assert line.customer.external_id == "u-7"
    assert line.timestamp.isoformat() == "2024-02-03T04:05:06+00:00"


@pytest.mark.django_db
def test_segment_write_key_in_body_and_track_endpoint(ingest_secret):
    message = segment_message("Product Viewed", "m-1", {"product_id": "sku-1", "price": 1})
    response = post("/v1/track", {**message, "writeKey": ingest_secret})
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert Event.objects.filter(event_id="m-1", action="view").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["none", "wrong", "revoked"])
def test_segment_refuses_without_a_valid_active_key(how, revoked_secret):
    body = {"batch": [segment_message("Product Viewed", "m-1", {"product_id": "sku-1"})]}
    if how == "wrong":
        body["writeKey"] = "ak_wrong"
    elif how == "revoked":
        body["writeKey"] = revoked_secret
    assert post("/v1/batch", body).status_code == 401
    assert post("/v1/track", body["batch"][0] | {"writeKey": body.get("writeKey")}).status_code == 401
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_segment_limits_and_bad_bodies(ingest_secret):
    auth = basic(ingest_secret)
    big_event = segment_message("Product Viewed", "m-1", {"product_id": "sku-1", "description": "x" * 33_000})
    # In a batch an oversized message is rejected alone (issue 10: it must not fail its neighbours).
    small_event = segment_message("Product Viewed", "m-2", {"product_id": "sku-1"})
    response = post("/v1/batch", {"batch": [big_event, small_event]}, auth=auth)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"] == [{"index": 0, "event_id": "m-1",
                                            "errors": {"message": "larger than 32768 bytes"}}]
    assert post("/v1/track", big_event, auth=auth).status_code == 413
    Event.objects.all().delete()
    many = [segment_message("Product Viewed", f"m-{i}", {"product_id": "sku-1", "d": "x" * 20_000})
            for i in range(30)]
    response = post("/v1/batch", {"batch": many}, auth=auth, gzipped=True)
    assert response.status_code == 413 and "bytes" in response.json()["error"]
    assert post("/v1/batch", None, auth=auth, raw=b"not json").status_code == 400
    assert post("/v1/batch", {"nobatch": []}, auth=auth).status_code == 400
    assert Event.objects.count() == 0


# --- issue 10: rate limit, transient failures ----------------------------------------------------

@pytest.mark.django_db
def test_over_the_rate_limit_http_answers_429_with_retry_after_for_every_entry_point_of_the_key(
        ingest_secret, settings):
    settings.INGEST_RATE_LIMIT = 1  # a token a second: the next requests come well within it, even on a busy machine
    settings.INGEST_RATE_BURST = 5
    settings.INGEST_MAX_BATCH_EVENTS = 5
    bearer = f"Bearer {ingest_secret}"
    assert post("/api/v1/events", {"events": [event(i) for i in range(5)]}, auth=bearer).json()["accepted"] == 5
    refused = post("/api/v1/events", {"events": [event(10)]}, auth=bearer)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert refused.json()["code"] == "rate_limited" and 0 < refused.json()["retry_after"] <= 1
    # The same key's bucket, whichever entry point spends it.
    segment = post("/v1/batch", {"batch": [segment_message("Product Viewed", "m-1", {"product_id": "sku-1"})]},
                   auth=basic(ingest_secret))
    assert segment.status_code == 429 and segment["Retry-After"] == "1"
    other_key = post("/api/v1/events", {"events": [event(11)]}, auth=f"Bearer {_another_secret()}")
    assert other_key.status_code == 200
    assert Event.objects.filter(event_id__in=["h-10", "m-1"]).count() == 0


def _another_secret() -> str:
    from events.services import ingest_key_create

    return ingest_key_create(name="another")[1]


@pytest.mark.django_db(transaction=True)
def test_a_transient_database_failure_is_503_with_retry_after(ingest_secret, lock_events_table):
    from events.services import ingest_key_authenticate

    ingest_key_authenticate(secret=ingest_secret)  # records last use now: authenticating writes nothing
    with lock_events_table():
        native = post("/api/v1/events", {"events": [event(1)]}, auth=f"Bearer {ingest_secret}")
        segment = post("/v1/batch", {"batch": [segment_message("Product Viewed", "m-1", {"product_id": "sku-1"})]},
                       auth=basic(ingest_secret))
    for response in (native, segment):
        assert response.status_code == 503 and response["Retry-After"] == "1"
        assert response.json()["code"] == "unavailable" and "resend" in response.json()["error"]
    assert Event.objects.count() == 0
