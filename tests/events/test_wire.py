"""Pure parsing and mapping of the wire formats (no database)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.models import Customer
from events import wire
from events.models import Event
from products.models import Product

LATEST = datetime(2030, 1, 1, tzinfo=UTC)


def base(**overrides):
    return {"event_id": "e", "customer_id": "c", "action": "view", "product_id": "p",
            "timestamp": "2024-01-01T00:00:00Z", **overrides}


def test_limits_match_the_models():
    assert wire.MAX_EVENT_ID == Event._meta.get_field("event_id").max_length
    assert wire.MAX_SESSION_ID == Event._meta.get_field("session_id").max_length
    assert wire.MAX_ORDER_ID == Event._meta.get_field("order_id").max_length
    assert wire.MAX_CUSTOMER_ID == Customer._meta.get_field("external_id").max_length
    assert wire.MAX_PRODUCT_ID == Product._meta.get_field("external_id").max_length
    assert wire.MAX_PRODUCT_TITLE == Product._meta.get_field("title").max_length
    assert wire.MAX_PRODUCT_IMAGE == Product._meta.get_field("image_url").max_length
    assert wire.MAX_CATEGORY == Product._meta.get_field("category").max_length
    assert set(wire.ACTIONS.values()) == {value for value, _label in Event._meta.get_field("action").choices}


def test_a_valid_event_is_normalised():
    event = wire.parse_event(base(customer_id=12, quantity="3", product_price="1.005",
                                  timestamp="2024-06-01T10:00:00-02:00", action="purchase_cart"), LATEST)
    assert isinstance(event, wire.NativeEvent)
    assert event.customer_id == "12"
    assert event.quantity == 3
    assert event.price == Decimal("1.01")
    assert event.action == "purchase"
    assert event.timestamp == datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert event.session_id == "" and event.order_id is None


@pytest.mark.parametrize("field,value,reason", [
    ("event_id", None, "required"),
    ("event_id", "", "must not be empty"),
    ("event_id", "x" * 101, "longer than 100 characters"),
    ("event_id", ["a"], "must be a string"),
    ("customer_id", True, "must be a string"),
    ("action", "buy", "unknown action"),
    ("action", None, "required"),
    ("timestamp", "01/02/2024", "not an ISO 8601 date-time"),
    ("timestamp", 1700000000, "must be an ISO 8601 string"),
    ("timestamp", "2031-01-01T00:00:00Z", "more than 5 minutes in the future"),
    ("quantity", 0, "must be >= 1"),
    ("quantity", 1.5, "must be an integer"),
    ("quantity", True, "must be an integer"),
    ("quantity", 2**31, "must be <= 2147483647"),
    ("product_price", -0.01, "must be >= 0"),
    ("product_price", math.inf, "must be a finite number"),
    ("product_price", "NaN", "must be a finite number"),
    ("product_price", "abc", "must be a number"),
    ("product_price", False, "must be a number"),
    ("product_price", 1e12, "must be <= 9999999999.99"),
    ("product_title", "t" * 301, "longer than 300 characters"),
    ("product_image", "i" * 501, "longer than 500 characters"),
    ("category", {"a": 1}, "must be a string"),
    ("session_id", "s" * 101, "longer than 100 characters"),
])
def test_invalid_fields_get_a_reason(field, value, reason):
    assert wire.parse_event(base(**{field: value}), LATEST) == {field: reason}


def test_product_lines_need_a_product_but_checkout_does_not():
    assert wire.parse_event(base(product_id=None), LATEST) == {"product_id": "required for view (or product_title)"}
    assert isinstance(wire.parse_event(base(product_id=None, product_title="Lamp"), LATEST), wire.NativeEvent)
    assert isinstance(wire.parse_event(base(product_id=None, action="checkout"), LATEST), wire.NativeEvent)
    assert wire.parse_event("x", LATEST) == {"event": "must be a JSON object"}


def test_segment_order_completed_becomes_one_purchase_line_per_product():
    lines = wire.segment_to_native({
        "type": "track", "event": "Order Completed", "messageId": "m1", "anonymousId": "a1",
        "timestamp": "2024-01-01T00:00:00Z",
        "properties": {"order_id": "o1", "products": [{"product_id": "p1", "price": 3, "quantity": 2},
                                                      {"sku": "p2", "name": "Bulb", "price": 1}]}})
    assert [(x["event_id"], x["product_id"], x["action"], x["customer_id"], x["order_id"]) for x in lines] == [
        ("m1:0", "p1", "purchase", "a1", "o1"), ("m1:1", "p2", "purchase", "a1", "o1")]
    assert lines[1]["product_title"] == "Bulb"


@pytest.mark.parametrize("message,field", [
    ({"type": "identify"}, "type"),
    ({"event": "Signed Up"}, "event"),
    ({"event": "Product Viewed", "userId": "u"}, "messageId"),
    ({"event": "Product Viewed", "messageId": "m"}, "userId"),
    ({"event": "Order Completed", "messageId": "m", "userId": "u", "properties": {}}, "properties.products"),
])
def test_segment_messages_that_cannot_be_mapped(message, field):
    with pytest.raises(wire.SegmentError) as info:
        wire.segment_to_native(message)
    assert field in info.value.errors
