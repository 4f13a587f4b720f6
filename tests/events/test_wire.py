"""Pure parsing and mapping of the wire formats (no database)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.models import Customer
from events import wire
from events.models import Event
from events.wire import values
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
    # only an anonymous id: customer_id is left out and the native rule makes it "anon:a1"
    assert [(x["event_id"], x["product_id"], x["action"], x["anonymous_id"], x["order_id"]) for x in lines] == [
        ("m1:0", "p1", "purchase", "a1", "o1"), ("m1:1", "p2", "purchase", "a1", "o1")]
    assert lines[0]["customer_id"] is None
    assert lines[1]["product_title"] == "Bulb"


@pytest.mark.parametrize("message,field", [
    ({"type": "identify"}, "type"),  # identify calls go through wire.IdentityCall, not here
    ({"event": ["Product Viewed"]}, "event"),
    ({"event": "Product Viewed", "userId": "u"}, "messageId"),
    ({"event": "Product Viewed", "messageId": "m"}, "userId"),
    ({"event": "Order Completed", "messageId": "m", "userId": "u", "properties": {}}, "properties.products"),
])
def test_segment_messages_that_cannot_be_mapped(message, field):
    with pytest.raises(wire.SegmentError) as info:
        wire.segment_to_native(message)
    assert field in info.value.errors


# --- issue 10: what the database would refuse, refused here with a reason (and a code) ----------

@pytest.mark.parametrize("field,value,code", [
    ("event_id", "a\x00b", "control_character"),
    ("customer_id", "a\x1fb", "control_character"),
    ("session_id", "a\x9fb", "control_character"),
    ("product_title", "a\nb", "control_character"),
    ("description", "a\x00b", "control_character"),
    ("order_id", "\ud83d", "invalid_unicode"),
    ("description", "\udcff", "invalid_unicode"),
    ("event_id", "x" * 101, "too_long"),
    ("event_id", 10**400, "too_long"),
    ("quantity", 10**400, "out_of_range"),
    ("quantity", wire.HugeNumber(5000), "out_of_range"),
    ("product_price", wire.HugeNumber(5000), "out_of_range"),
    ("customer_id", wire.HugeNumber(5000), "wrong_type"),
    ("timestamp", "0001-01-01T00:00:00+01:00", "out_of_range"),
    ("timestamp", "9999-12-31T23:59:59-14:00", "in_future"),
    ("action", "buy", "unknown_action"),
    ("event_id", None, "required"),
])
def test_reasons_carry_a_stable_code(field, value, code):
    errors = wire.parse_event(base(**{field: value}), LATEST)
    assert list(errors) == [field]
    assert errors[field].code == code
    assert wire.code_of("plain text") == "invalid"


def test_free_text_keeps_line_breaks_and_other_controls_but_labels_do_not():
    text = "line one\r\n\tline two \x1b[1m\x85"
    event = wire.parse_event(base(description=text), LATEST)
    assert isinstance(event, wire.NativeEvent) and event.description == text
    assert "product_title" in wire.parse_event(base(product_title="Lamp\n"), LATEST)
    ok = wire.parse_event(base(product_title="Caf\u00e9 \u2615\u00a0\u200b", customer_id="\u4e2d"), LATEST)
    assert isinstance(ok, wire.NativeEvent)


def test_unhashable_and_long_prices_are_handled_without_the_cache():
    assert wire.parse_price([1]) == (None, "must be a number")  # was a TypeError (unhashable)
    assert wire.parse_price({"a": 1}) == (None, "must be a number")
    long_price = "0" * 10_000 + "1.5"
    assert wire.parse_price(long_price) == (Decimal("1.50"), None)
    assert long_price not in values._price_cache  # a hostile stream cannot fill memory through it


def test_quantity_strings_are_ascii_digits():
    assert wire.parse_quantity("\u00b2") == (None, "must be an integer")  # isdigit() but int() fails
    assert wire.parse_quantity("\u0663") == (None, "must be an integer")  # Arabic-Indic three
    assert wire.parse_quantity(" 7 ") == (7, None)


def test_rejections_echo_only_a_valid_event_id():
    batch = wire.parse_batch([base(event_id="x" * 10_000), base(event_id=7, action="buy"), base(event_id=[1])],
                             LATEST)
    assert [r["event_id"] for r in batch.rejected] == [None, 7, None]
    assert batch.positions == [] and batch.events == []


def test_loads_reads_what_the_standard_parser_does_and_answers_the_rest():
    assert wire.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # UTF-8 with a BOM
    assert wire.loads('{"a": "é"}'.encode("utf-16")) == {"a": "é"}
    assert wire.loads(b'{"a": "\xe9"}') == {"a": "\udce9"}  # Latin-1 byte: kept, refused per field
    with pytest.raises(wire.MessageError) as deep:
        wire.loads("[" * 100_000)
    assert deep.value.code == "too_deep"
    with pytest.raises(wire.MessageError) as bad_utf16:
        wire.loads(b"\xff\xfe\x00")
    assert bad_utf16.value.code == "malformed_json"


def test_segment_reasons_never_echo_a_whole_hostile_value():
    for message in ({"type": "x" * 100_000}, {"event": "y" * 100_000}, {"type": [[[[1]]]]}):
        with pytest.raises(wire.SegmentError) as info:
            wire.segment_to_native(message)
        assert len(str(info.value)) < 120
    with pytest.raises(wire.SegmentError) as info:
        wire.segment_to_native({"event": "Order Completed", "messageId": {"deep": [[1]]}, "userId": "u",
                                "properties": {"products": [{"product_id": "p"}]}})
    assert info.value.errors == {"messageId": "must be a string"}
    [line] = wire.segment_to_native({"event": "Order Completed", "messageId": 5, "userId": "u",
                                     "properties": {"products": [{"product_id": "p"}]}})
    assert line["event_id"] == "5:0"


def test_the_field_table_gives_every_native_attribute_in_order():
    # then what the ingest service sets (the rate an event in another currency was converted at)
    assert [f.attr or f.name for f in wire.FIELDS] + ["fx_rate"] == list(wire.NativeEvent.__dataclass_fields__)


@pytest.mark.parametrize("body,noun,code,text", [
    ([base()], "message", "bad_envelope", 'message must be a JSON object: one event or {"events": [...]}'),
    ("x", "body", "bad_envelope", 'body must be a JSON object: one event or {"events": [...]}'),
    ({"events": {}}, "body", "bad_envelope", '"events" must be a list'),
    ({"events": [base()] * 3}, "message", "too_many_events", "batch of 3 events; at most 2 a message"),
    ({"events": [base()] * 3}, "body", "too_many_events", "batch of 3 events; at most 2"),
])
def test_envelopes_that_are_not_one_event_or_a_list_of_them(body, noun, code, text):
    with pytest.raises(wire.EnvelopeError) as info:
        wire.native_events(body, max_events=2, noun=noun)
    assert (info.value.code, info.value.reason) == (code, text)
    assert wire.native_events(base(), max_events=2) == [base()]
    assert wire.native_events({"events": [base()] * 2}, max_events=2) == [base()] * 2
