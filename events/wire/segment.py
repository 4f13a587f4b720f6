"""The Segment HTTP Tracking API (Ecommerce spec v2): ``track`` messages mapped to native event
dicts, validated afterwards as any native event (events/wire/native.py).

``segment_messages`` / ``segment_track`` read the envelopes of ``/v1/batch`` and ``/v1/track``;
``segment_to_native`` maps one message; ``segment_batch`` maps many, each message that cannot be
mapped (or is too large) rejected alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from events.wire.decoding import json_size
from events.wire.native import EnvelopeError
from events.wire.reasons import NOT_OBJECT, NOT_STRING, REQUIRED, Reason
from events.wire.values import MAX_EVENT_ID

SEGMENT_ACTIONS: dict[str, str] = {
    "Product Viewed": "view",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Checkout Started": "checkout",
    "Order Completed": "purchase",
    "Order Refunded": "refund",
    "Order Cancelled": "cancel",
}
# Order Completed's order-level money → the native ``order`` object (carried by its first line).
_ORDER_MONEY = ("discount", "coupon", "shipping", "tax")
# Segment product properties → native fields (besides the product id: product_id, id or sku).
_PRODUCT_FIELDS = (("name", "product_title"), ("price", "product_price"), ("quantity", "quantity"),
                   ("category", "category"), ("image_url", "product_image"))


class SegmentError(ValueError):
    """A Segment message that cannot be mapped; ``errors`` holds per-field reasons."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _shown(value: Any) -> str:
    """A value named in a reason: a short repr of a string, else its JSON type (never the whole
    value: it could be megabytes, or nested thousands deep)."""
    if type(value) is str:
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", bool: "a boolean"}.get(type(value), "a number")


def _product_fields(p: dict[str, Any]) -> dict[str, Any]:
    pid = p.get("product_id")
    if pid is None:
        pid = p.get("id")
    if pid is None:
        pid = p.get("sku")
    out: dict[str, Any] = {"product_id": pid}
    for src, dest in _PRODUCT_FIELDS:
        value = p.get(src)
        if value is not None:
            out[dest] = value
    return out


def _mapped_action(message: Any) -> str:
    """The native action of a track call of a mapped Ecommerce v2 event, or ``SegmentError``."""
    if type(message) is not dict:
        raise SegmentError({"message": NOT_OBJECT})
    msg_type = message.get("type", "track")
    if msg_type != "track":
        raise SegmentError({"type": Reason(f"only track calls are ingested, not {_shown(msg_type)}", "unmapped")})
    name = message.get("event")
    action = SEGMENT_ACTIONS.get(name) if type(name) is str else None
    if action is None:
        raise SegmentError({"event": Reason(f"not a mapped Ecommerce v2 event: {_shown(name)}", "unmapped")})
    return action


def _identity(message: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
    """The message id (as a string), the customer and the properties, or ``SegmentError``."""
    message_id = message.get("messageId")
    customer = message.get("userId")
    if customer is None or customer == "":
        customer = message.get("anonymousId")
    errors: dict[str, str] = {}
    if message_id is None or message_id == "":
        errors["messageId"] = REQUIRED
    elif type(message_id) is int:
        message_id = str(message_id)
    elif type(message_id) is not str:
        errors["messageId"] = NOT_STRING
    if customer is None or customer == "":
        errors["userId"] = Reason("userId or anonymousId required", "required")
    props = message.get("properties") or {}
    if type(props) is not dict:
        errors["properties"] = Reason("must be an object", "wrong_type")
    if errors:
        raise SegmentError(errors)
    return str(message_id), customer, props


def _order_lines(base: dict[str, Any], message_id: str, props: dict[str, Any]) -> list[dict[str, Any]]:
    """``Order Completed``: one purchase line a product, ids ``<messageId>:<n>``; the order's
    discount, coupon, shipping and tax go on the first line as its ``order`` object."""
    products = props.get("products")
    if type(products) is not list or not products:
        raise SegmentError({"properties.products": Reason("Order Completed needs a non-empty products list",
                                                          "required")})
    lines = _product_lines(base, message_id, products)
    order = {k: props[k] for k in _ORDER_MONEY if props.get(k) not in (None, "")}
    if order:
        lines[0]["order"] = order
    return lines


def _product_lines(base: dict[str, Any], message_id: str, products: list[Any]) -> list[dict[str, Any]]:
    lines = []
    for n, p in enumerate(products):
        if type(p) is not dict:
            raise SegmentError({f"properties.products[{n}]": Reason("must be an object", "wrong_type")})
        lines.append({**base, **_product_fields(p), "event_id": f"{message_id}:{n}"})
    return lines


def _refund(base: dict[str, Any], message_id: str, props: dict[str, Any]) -> list[dict[str, Any]]:
    """``Order Refunded``: its ``products`` as refunded lines (price × quantity each, ids
    ``<messageId>:<n>``), else one refund of ``total`` (or ``revenue``, ``value``)."""
    products = props.get("products")
    if type(products) is list and products:
        return _product_lines(base, message_id, products)
    for key in ("total", "revenue", "value"):
        if props.get(key) is not None:
            return [{**base, "event_id": message_id, "amount": props[key]}]
    raise SegmentError({"properties.total": Reason("Order Refunded needs products or a total", "required")})


def segment_to_native(message: Any, *, received_at: str | None = None) -> list[dict[str, Any]]:
    """Map one Segment ``track`` message to native event dicts (validated later, as any event).

    messageId → event_id (``Order Completed`` lines get ``<messageId>:<n>``), userId or
    anonymousId → customer_id, event name → action, ``properties`` → product fields.
    Raises ``SegmentError`` for messages that are not a mapped Ecommerce v2 track call.
    """
    action = _mapped_action(message)
    message_id, customer, props = _identity(message)
    context: dict[str, Any] = message["context"] if type(message.get("context")) is dict else {}
    base: dict[str, Any] = {
        "customer_id": customer,
        "action": action,
        "timestamp": message.get("timestamp") or message.get("originalTimestamp") or received_at,
        "session_id": props.get("session_id") or context.get("session_id") or context.get("sessionId"),
        "order_id": props.get("order_id"),
    }
    if props.get("currency") is not None:
        base["currency"] = props["currency"]
    if action == "purchase":
        return _order_lines(base, message_id, props)
    if action == "refund":
        return _refund(base, message_id, props)
    if action == "cancel":
        return [{**base, "event_id": message_id}]
    event = {**base, "event_id": message_id}
    if action != "checkout":
        event.update(_product_fields(props))
    return [event]


def _size_check(message: Any, limit: int) -> None:
    try:
        size = json_size(message)
    except RecursionError:
        raise SegmentError({"message": Reason("nested too deeply", "too_deep")}) from None
    if size > limit:
        raise SegmentError({"message": Reason(f"larger than {limit} bytes", "too_large")})


def _rejected_message(index: int, message: Any, errors: dict[str, str]) -> dict[str, Any]:
    """An ack entry for a message; its messageId is echoed only when it is a valid event id."""
    message_id = message.get("messageId") if type(message) is dict else None
    valid_id = (type(message_id) is str and len(message_id) <= MAX_EVENT_ID
                and "messageId" not in errors and message_id.isprintable())
    return {"index": index, "event_id": message_id if valid_id else None, "errors": errors}


@dataclass(slots=True)
class SegmentBatch:
    """Messages mapped to native event dicts (``origin[i]``: the message of ``events[i]``), and the
    messages that could not be, as ack entries."""

    events: list[dict[str, Any]]
    origin: list[int]
    rejected: list[dict[str, Any]]

    def rejections(self, native_rejected: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ack's rejected entries, by message index: these, and those of the mapped events."""
        rejected = [*self.rejected, *({**entry, "index": self.origin[entry["index"]]} for entry in native_rejected)]
        rejected.sort(key=lambda r: r["index"])
        return rejected


def segment_batch(messages: Any, *, received_at: str, max_message_bytes: int | None = None) -> SegmentBatch:
    """Map every message; one larger than ``max_message_bytes`` (as compact JSON) is rejected alone."""
    batch = SegmentBatch([], [], [])
    for index, message in enumerate(messages):
        try:
            if max_message_bytes is not None:
                _size_check(message, max_message_bytes)
            lines = segment_to_native(message, received_at=received_at)
        except SegmentError as exc:
            batch.rejected.append(_rejected_message(index, message, exc.errors))
            continue
        batch.events.extend(lines)
        batch.origin.extend([index] * len(lines))
    return batch


def segment_messages(body: Any, *, max_messages: int) -> list[Any]:
    """The messages of a ``/v1/batch`` body ``{"batch": [...]}``, or ``EnvelopeError``."""
    if type(body) is not dict or type(body.get("batch")) is not list:
        raise EnvelopeError('body must be {"batch": [...]}', "bad_envelope")
    if len(body["batch"]) > max_messages:  # 500 KB of tiny items: a reply 30× larger
        raise EnvelopeError(f"batch of {len(body['batch'])} messages; at most {max_messages}", "too_many_events")
    return body["batch"]


def segment_track(body: Any) -> list[Any]:
    """A ``/v1/track`` body as the one message of a batch, or ``EnvelopeError``."""
    if type(body) is not dict:
        raise EnvelopeError("body must be a JSON object", "bad_envelope")
    return [{"type": "track", **body}]
