"""The Segment HTTP Tracking API (every call type; Ecommerce spec v2 events) mapped to native
event dicts, validated afterwards as any native event (events/wire/native.py).

- ``track`` of a mapped Ecommerce v2 event → view, add_to_cart, … (``SEGMENT_ACTIONS``); any other
  track (Cart Viewed, Coupon Applied, a store's own names) is acknowledged as *ignored*, never an error;
- ``page`` and ``screen`` → a ``page`` event (no product);
- ``identify`` and ``alias`` → an ``IdentityCall`` (the customer's traits; which anonymous or
  previous id they were seen under), recorded by the identity service; ``group`` → ignored.
Every message's ``userId`` (else ``anonymousId``: customer ``anon:<id>``), ``anonymousId`` and
context (``context.page`` url, path, title, referrer; ``context.campaign`` → utm_*;
``context.userAgent``) are kept.

``segment_messages`` / ``segment_single`` read the envelopes of ``/v1/batch`` and the single-call
paths; ``segment_to_native`` maps one message; ``segment_batch`` maps many, each message that
cannot be mapped (or is too large) rejected alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from events.wire.decoding import json_size
from events.wire.exposure import EXPERIMENT_VIEWED, exposure_fields
from events.wire.native import ANONYMOUS_PREFIX, EnvelopeError
from events.wire.reasons import NOT_OBJECT, NOT_STRING, REQUIRED, Reason
from events.wire.values import MAX_ANONYMOUS_ID, MAX_EVENT_ID, label

SEGMENT_ACTIONS: dict[str, str] = {
    "Product Viewed": "view",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Checkout Started": "checkout",
    "Order Completed": "purchase",
    "Order Refunded": "refund",
    "Order Cancelled": "cancel",
    EXPERIMENT_VIEWED: "page",  # an A/B exposure: a page event carrying the experiment and variant
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


class SegmentIgnored(Exception):
    """A message acknowledged and not stored (an event that maps to nothing, a ``group`` call)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_CALL_TYPES = ("track", "page", "screen", "identify", "alias", "group")


def _mapped_action(message: Any) -> str:
    """The native action of a track, page or screen call, ``SegmentIgnored`` for a track call of an
    event that maps to nothing, or ``SegmentError``."""
    if type(message) is not dict:
        raise SegmentError({"message": NOT_OBJECT})
    msg_type = message.get("type", "track")
    if msg_type in ("page", "screen"):
        return "page"
    if msg_type != "track":
        raise SegmentError({"type": Reason(f"not a Tracking API call type: {_shown(msg_type)}", "unknown_type")})
    name = message.get("event")
    if type(name) is not str or not name:
        raise SegmentError({"event": Reason(f"not a mapped Ecommerce v2 event: {_shown(name)} (a track call needs "
                                            "an event name)", "unmapped")})
    action = SEGMENT_ACTIONS.get(name)
    if action is None:
        _, bad = label(name, 200)
        if bad is not None:  # a name no one could have meant (control characters, invalid Unicode)
            raise SegmentError({"event": Reason(f"not a mapped Ecommerce v2 event: {bad}", bad.code)})
        raise SegmentIgnored(f"{_shown(name)} maps to no action (acknowledged, not stored)")
    return action


def _person(message: dict[str, Any], errors: dict[str, str]) -> tuple[Any, Any]:
    """(userId, anonymousId), either may be None; a reason in ``errors`` when neither is there."""
    user = message.get("userId")
    anonymous = message.get("anonymousId")
    user = None if user == "" else user
    anonymous = None if anonymous == "" else anonymous
    if user is None and anonymous is None:
        errors["userId"] = Reason("userId or anonymousId required", "required")
    return user, anonymous


def _identity(message: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
    """The message id (as a string), the customer and the properties, or ``SegmentError``."""
    message_id = message.get("messageId")
    errors: dict[str, str] = {}
    customer, _ = _person(message, errors)
    if message_id is None or message_id == "":
        errors["messageId"] = REQUIRED
    elif type(message_id) is int:
        message_id = str(message_id)
    elif type(message_id) is not str:
        errors["messageId"] = NOT_STRING
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
        "anonymous_id": message.get("anonymousId"),
        "context": native_context(context, props if action == "page" else {}),
        "action": action,
        "timestamp": message.get("timestamp") or message.get("originalTimestamp") or received_at,
        "session_id": props.get("session_id") or context.get("session_id") or context.get("sessionId"),
        "order_id": props.get("order_id"),
    }
    if props.get("currency") is not None:
        base["currency"] = props["currency"]
    if message.get("event") == EXPERIMENT_VIEWED:
        base.update(exposure_fields(props, SegmentError))
    if action == "purchase":
        return _order_lines(base, message_id, props)
    if action == "refund":
        return _refund(base, message_id, props)
    if action == "cancel":
        return [{**base, "event_id": message_id}]
    event = {**base, "event_id": message_id}
    if action not in ("checkout", "page"):
        event.update(_product_fields(props))
    return [event]


_CAMPAIGN = (("source", "utm_source"), ("medium", "utm_medium"), ("name", "utm_campaign"), ("term", "utm_term"),
             ("content", "utm_content"))
_PAGE = (("url", "page_url"), ("path", "page_path"), ("title", "page_title"), ("referrer", "referrer"))


def native_context(context: dict[str, Any], props: dict[str, Any]) -> dict[str, Any] | None:
    """A Segment message's context as a native ``context``: ``context.page`` (a page call's
    properties first), ``context.campaign`` as utm_*, ``context.userAgent``, and the tracker's own
    ``landing_page`` / ``session_start``. Only string values are kept (a value of another type is
    left out rather than failing the event: the context is not what it was sent for)."""
    out: dict[str, Any] = {}
    page: dict[str, Any] = context["page"] if type(context.get("page")) is dict else {}
    for src, dest in _PAGE:
        value = props.get(src) if type(props.get(src)) is str else page.get(src)
        if type(value) is str and value:
            out[dest] = value
    campaign: dict[str, Any] = context["campaign"] if type(context.get("campaign")) is dict else {}
    for src, dest in _CAMPAIGN:
        value = campaign.get(src) if type(campaign.get(src)) is str else campaign.get(dest)
        if type(value) is str and value:
            out[dest] = value
    for src, dest in (("userAgent", "user_agent"), ("landing_page", "landing_page"),
                      ("session_start", "session_start")):
        if type(context.get(src)) is str and context[src]:
            out[dest] = context[src]
    library = context.get("library")
    if type(library) is dict and type(library.get("name")) is str:
        out["library"] = f"{library['name']} {library.get('version', '')}".strip()[:100]
    return out or None


@dataclass(slots=True)
class IdentityCall:
    """An ``identify`` or ``alias`` message, checked: the customer it names (store id, or
    ``anon:<anonymousId>``), the ids they were seen under, the traits sent (raw, read by the
    customers service)."""

    index: int
    kind: str  # identify | alias
    message_id: str
    customer_id: str
    anonymous_id: str
    previous_id: str
    traits: dict[str, Any]
    timestamp: str | None


def _string_id(value: Any, name: str, errors: dict[str, str], required: bool = False) -> str:
    if value is None or value == "":
        if required:
            errors[name] = REQUIRED
        return ""
    if type(value) is int:
        value = str(value)
    if type(value) is not str:
        errors[name] = NOT_STRING
        return ""
    if len(value) > MAX_ANONYMOUS_ID or not value.isprintable():
        errors[name] = Reason(f"at most {MAX_ANONYMOUS_ID} printable characters", "invalid")
        return ""
    return value


def identity_call(index: int, message: dict[str, Any]) -> IdentityCall:
    """An ``identify`` or ``alias`` message as an ``IdentityCall``, or ``SegmentError``."""
    kind = message["type"]
    errors: dict[str, str] = {}
    message_id = _string_id(message.get("messageId"), "messageId", errors, required=True)
    user, anonymous = _person(message, errors)
    user_id = _string_id(user, "userId", errors)
    anonymous_id = _string_id(anonymous, "anonymousId", errors)
    previous_id = _string_id(message.get("previousId"), "previousId", errors, required=kind == "alias")
    traits = message.get("traits")
    if traits is None and type(message.get("context")) is dict:
        traits = message["context"].get("traits")
    if traits is not None and type(traits) is not dict:
        errors["traits"] = Reason("must be an object", "wrong_type")
    if errors:
        raise SegmentError(errors)
    timestamp = message.get("timestamp") or message.get("originalTimestamp")
    return IdentityCall(index, kind, message_id, user_id or ANONYMOUS_PREFIX + anonymous_id, anonymous_id,
                        previous_id, traits if kind == "identify" and traits else {},
                        timestamp if type(timestamp) is str else None)


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
    identities: list[IdentityCall] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)  # {"index", "event_id", "reason"}

    def rejections(self, native_rejected: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ack's rejected entries, by message index: these, and those of the mapped events."""
        rejected = [*self.rejected, *({**entry, "index": self.origin[entry["index"]]} for entry in native_rejected)]
        rejected.sort(key=lambda r: r["index"])
        return rejected


def segment_batch(messages: Any, *, received_at: str, max_message_bytes: int | None = None,
                  refusal: Callable[[Any], dict[str, str] | None] | None = None) -> SegmentBatch:
    """Map every message; one larger than ``max_message_bytes`` (as compact JSON), or one that
    ``refusal`` answers a reason for (what a public key may not send: ``events.wire.trust``), is
    rejected alone."""
    batch = SegmentBatch([], [], [])
    for index, message in enumerate(messages):
        try:
            if max_message_bytes is not None:
                _size_check(message, max_message_bytes)
            if refusal is not None and (refused := refusal(message)) is not None:
                raise SegmentError(refused)
            call = message.get("type") if type(message) is dict else None
            if call in ("identify", "alias"):
                batch.identities.append(identity_call(index, message))
                continue
            if call == "group":
                raise SegmentIgnored("group calls are not stored")
            lines = segment_to_native(message, received_at=received_at)
        except SegmentError as exc:
            batch.rejected.append(_rejected_message(index, message, exc.errors))
            continue
        except SegmentIgnored as exc:
            entry = _rejected_message(index, message, {})
            batch.ignored.append({"index": index, "event_id": entry["event_id"], "reason": exc.reason})
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


def segment_single(body: Any, call: str) -> list[Any]:
    """A single-call body (``/v1/track``, ``/v1/page``, ``/v1/identify``, ``/v1/alias`` and their
    short forms) as the one message of a batch, or ``EnvelopeError``. The path names the call type."""
    if type(body) is not dict:
        raise EnvelopeError("body must be a JSON object", "bad_envelope")
    return [{**body, "type": call}]


def segment_event_count(messages: Sequence[Any]) -> int:
    """How many events these messages make once mapped (what a rate limit charges): one each, but
    an order's (or a refund's) product lines one each."""
    return sum(_lines(m) for m in messages)


def _lines(message: Any) -> int:
    if type(message) is not dict or type(message.get("event")) is not str or message["event"] not in _LINED:
        return 1
    props = message.get("properties")
    products = props.get("products") if type(props) is dict else None
    return len(products) if type(products) is list and products else 1


_LINED = frozenset(name for name, action in SEGMENT_ACTIONS.items() if action in ("purchase", "refund"))


def segment_track(body: Any) -> list[Any]:
    """A ``/v1/track`` body as the one message of a batch, or ``EnvelopeError``."""
    return segment_single(body, "track")
