"""The event wire formats (DESIGN §3), parsed and validated without touching the database.

``parse_event`` turns one native event, or one in the original system's format (no
``product_id``: the product is named by ``product_title``), into a ``NativeEvent`` or a dict of
per-field reasons. ``segment_to_native`` maps one Segment Tracking API message (Ecommerce spec v2)
to native event dicts. Both are hot paths (tens of thousands of events a second): plain code, no
exceptions on the common path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# Column limits of events.Event, customers.Customer and products.Product (a test pins them to the
# models' max_length).
MAX_EVENT_ID = 100
MAX_CUSTOMER_ID = 100
MAX_SESSION_ID = 100
MAX_ORDER_ID = 100
MAX_PRODUCT_ID = 100
MAX_PRODUCT_TITLE = 300
MAX_PRODUCT_IMAGE = 500
MAX_CATEGORY = 100
MAX_QUANTITY = 2_147_483_647  # PostgreSQL integer
MAX_PRICE = Decimal("9999999999.99")  # DecimalField(max_digits=12, decimal_places=2)
FUTURE_TOLERANCE = timedelta(minutes=5)

ACTIONS: dict[str, str] = {
    "view": "view",
    "add_to_cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
    "checkout": "checkout",
    "purchase": "purchase",
    "abandon": "abandon",
    "purchase_cart": "purchase",  # the original system's name
}
# Actions about one product line: they need a product (by id, or by title in the original format).
PRODUCT_ACTIONS = frozenset({"view", "add_to_cart", "remove_from_cart", "purchase"})

CENT = Decimal("0.01")
_price_cache: dict[Any, Decimal] = {}


@dataclass(slots=True)
class NativeEvent:
    """One valid event in the one shape every format maps to."""

    event_id: str
    customer_id: str
    session_id: str
    action: str
    product_id: str | None
    product_title: str | None
    product_image: str
    description: str
    category: str
    quantity: int
    price: Decimal | None  # None: not sent (the product's price is used)
    order_id: str | None
    timestamp: datetime  # aware, UTC
    amount: Decimal | None = None  # purchase lines: the line total as sent (revenue; see events.types.line_total)


def _ident(value: Any, limit: int) -> tuple[str | None, str | None]:
    """A required id: a non-empty string (or an integer, read as its decimal string)."""
    t = type(value)
    if t is str:
        if not value or value.isspace():
            return None, "must not be empty"
    elif t is int:
        value = str(value)
    elif value is None:
        return None, "required"
    else:
        return None, "must be a string"
    if len(value) > limit:
        return None, f"longer than {limit} characters"
    return value, None


def _optional_text(value: Any, limit: int | None) -> tuple[str | None, str | None]:
    t = type(value)
    if value is None or value == "":
        return None, None
    if t is int:
        value = str(value)
    elif t is not str:
        return None, "must be a string"
    if limit is not None and len(value) > limit:
        return None, f"longer than {limit} characters"
    return value, None


def parse_price(value: Any) -> tuple[Decimal | None, str | None]:
    """A unit price: a finite number (or numeric string) >= 0, rounded to cents."""
    cached = _price_cache.get(value) if type(value) is not bool else None
    if cached is not None:
        return cached, None
    t = type(value)
    if t is float:
        if not math.isfinite(value):
            return None, "must be a finite number"
        d = Decimal(repr(value))
    elif t is int:
        d = Decimal(value)
    elif t is str:
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            return None, "must be a number"
        if not d.is_finite():
            return None, "must be a finite number"
    else:
        return None, "must be a number"
    if d < 0:
        return None, "must be >= 0"
    if d > MAX_PRICE or (d := d.quantize(CENT, rounding=ROUND_HALF_UP)) > MAX_PRICE:
        return None, f"must be <= {MAX_PRICE}"
    if len(_price_cache) < 50_000:
        _price_cache[value] = d
    return d, None


def parse_quantity(value: Any) -> tuple[int | None, str | None]:
    t = type(value)
    if t is int:
        q = value
    elif t is str and value.strip().isdigit():
        q = int(value)
    elif t is float and value.is_integer():
        q = int(value)
    else:
        return None, "must be an integer"
    if q < 1:
        return None, "must be >= 1"
    if q > MAX_QUANTITY:
        return None, f"must be <= {MAX_QUANTITY}"
    return q, None


def parse_timestamp(value: Any, latest: datetime) -> tuple[datetime | None, str | None]:
    """ISO 8601; a time without offset is UTC; later than ``latest`` is refused."""
    if type(value) is not str:
        if isinstance(value, datetime):
            ts = value
        elif value is None:
            return None, "required"
        else:
            return None, "must be an ISO 8601 string"
    else:
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None, "not an ISO 8601 date-time"
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    elif ts.utcoffset():
        ts = ts.astimezone(UTC)
    if ts > latest:
        return None, "more than 5 minutes in the future"
    return ts, None


def parse_event(raw: Any, latest: datetime) -> NativeEvent | dict[str, str]:
    """One native (or original-format) event, or ``{field: reason}``.

    ``latest`` is the latest acceptable timestamp (now + ``FUTURE_TOLERANCE``).
    """
    if type(raw) is not dict:
        return {"event": "must be a JSON object"}
    errors: dict[str, str] = {}
    get = raw.get

    event_id, err = _ident(get("event_id"), MAX_EVENT_ID)
    if err:
        errors["event_id"] = err
    customer_id, err = _ident(get("customer_id"), MAX_CUSTOMER_ID)
    if err:
        errors["customer_id"] = err

    action_raw = get("action")
    action = ACTIONS.get(action_raw) if type(action_raw) is str else None
    if action is None:
        errors["action"] = "required" if action_raw is None else "unknown action"

    ts, err = parse_timestamp(get("timestamp"), latest)
    if err:
        errors["timestamp"] = err

    quantity_raw = get("quantity")
    if quantity_raw is None:
        quantity: int | None = 1
    else:
        quantity, err = parse_quantity(quantity_raw)
        if err:
            errors["quantity"] = err

    price_raw = get("product_price")
    if price_raw is None:
        price_raw = get("price")
    price: Decimal | None = None
    if price_raw is not None:
        price, err = parse_price(price_raw)
        if err:
            errors["product_price"] = err

    session_id, err = _optional_text(get("session_id"), MAX_SESSION_ID)
    if err:
        errors["session_id"] = err
    order_id, err = _optional_text(get("order_id"), MAX_ORDER_ID)
    if err:
        errors["order_id"] = err
    product_id, err = _optional_text(get("product_id"), MAX_PRODUCT_ID)
    if err:
        errors["product_id"] = err
    title, err = _optional_text(get("product_title"), MAX_PRODUCT_TITLE)
    if err:
        errors["product_title"] = err
    if title is not None and title.isspace():
        title = None
    image, err = _optional_text(get("product_image"), MAX_PRODUCT_IMAGE)
    if err:
        errors["product_image"] = err
    description, err = _optional_text(get("description"), None)
    if err:
        errors["description"] = err
    category, err = _optional_text(get("category"), MAX_CATEGORY)
    if err:
        errors["category"] = err

    if action in PRODUCT_ACTIONS and product_id is None and title is None and "product_id" not in errors:
        errors["product_id"] = f"required for {action} (or product_title)"

    amount_raw = get("amount")
    amount: Decimal | None = None
    if amount_raw is not None:
        if action != "purchase":
            errors["amount"] = "only on purchase lines"
        elif type(amount_raw) not in (int, float, str):  # parse_price's cache needs a hashable value
            errors["amount"] = "must be a number"
        else:
            amount, err = parse_price(amount_raw)
            if err:
                errors["amount"] = err
            elif price is None and amount is not None and quantity:
                price = (amount / Decimal(quantity)).quantize(CENT, rounding=ROUND_HALF_UP)

    if errors:
        return errors
    return NativeEvent(
        event_id,  # type: ignore[arg-type]
        customer_id,  # type: ignore[arg-type]
        session_id or "",
        action,  # type: ignore[arg-type]
        product_id,
        title,
        image or "",
        description or "",
        category or "",
        quantity,  # type: ignore[arg-type]
        price,
        order_id,
        ts,  # type: ignore[arg-type]
        amount,
    )


@dataclass(slots=True)
class ParsedBatch:
    """A batch after validation: the valid events (in order; may still repeat an event_id) and
    the rejected ones as ack entries ``{"index", "event_id", "errors"}``."""

    events: list[NativeEvent]
    rejected: list[dict[str, Any]]


def _raw_event_id(raw: Any) -> str | int | None:
    if type(raw) is dict:
        value = raw.get("event_id")
        if type(value) in (str, int):
            return value  # type: ignore[no-any-return]
    return None


def parse_batch(raw_events: Any, latest: datetime) -> ParsedBatch:
    events: list[NativeEvent] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_events):
        event = parse_event(raw, latest)
        if type(event) is dict:
            rejected.append({"index": index, "event_id": _raw_event_id(raw), "errors": event})
        else:
            events.append(event)  # type: ignore[arg-type]
    return ParsedBatch(events, rejected)


def latest_allowed(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + FUTURE_TOLERANCE


# --- Segment HTTP Tracking API, Ecommerce spec v2 ----------------------------------------------

SEGMENT_ACTIONS: dict[str, str] = {
    "Product Viewed": "view",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Checkout Started": "checkout",
    "Order Completed": "purchase",
}


class SegmentError(ValueError):
    """A Segment message that cannot be mapped; ``errors`` holds per-field reasons."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _product_fields(p: dict[str, Any]) -> dict[str, Any]:
    pid = p.get("product_id")
    if pid is None:
        pid = p.get("id")
    if pid is None:
        pid = p.get("sku")
    out: dict[str, Any] = {"product_id": pid}
    for src, dest in (("name", "product_title"), ("price", "product_price"), ("quantity", "quantity"),
                      ("category", "category"), ("image_url", "product_image")):
        value = p.get(src)
        if value is not None:
            out[dest] = value
    return out


def segment_to_native(message: Any, *, received_at: str | None = None) -> list[dict[str, Any]]:
    """Map one Segment ``track`` message to native event dicts (validated later, as any event).

    messageId → event_id (``Order Completed`` lines get ``<messageId>:<n>``), userId or
    anonymousId → customer_id, event name → action, ``properties`` → product fields.
    Raises ``SegmentError`` for messages that are not a mapped Ecommerce v2 track call.
    """
    if type(message) is not dict:
        raise SegmentError({"message": "must be a JSON object"})
    msg_type = message.get("type", "track")
    if msg_type != "track":
        raise SegmentError({"type": f"only track calls are ingested, not {msg_type!r}"})
    name = message.get("event")
    action = SEGMENT_ACTIONS.get(name) if isinstance(name, str) else None
    if action is None:
        raise SegmentError({"event": f"not a mapped Ecommerce v2 event: {name!r}"})
    message_id = message.get("messageId")
    customer = message.get("userId")
    if customer in (None, ""):
        customer = message.get("anonymousId")
    errors = {}
    if message_id in (None, ""):
        errors["messageId"] = "required"
    if customer in (None, ""):
        errors["userId"] = "userId or anonymousId required"
    props = message.get("properties") or {}
    if type(props) is not dict:
        errors["properties"] = "must be an object"
    if errors:
        raise SegmentError(errors)
    context: dict[str, Any] = message["context"] if type(message.get("context")) is dict else {}
    base: dict[str, Any] = {
        "customer_id": customer,
        "action": action,
        "timestamp": message.get("timestamp") or message.get("originalTimestamp") or received_at,
        "session_id": props.get("session_id") or context.get("session_id") or context.get("sessionId"),
        "order_id": props.get("order_id"),
    }
    if action == "purchase":
        products = props.get("products")
        if type(products) is not list or not products:
            raise SegmentError({"properties.products": "Order Completed needs a non-empty products list"})
        lines = []
        for n, p in enumerate(products):
            if type(p) is not dict:
                raise SegmentError({f"properties.products[{n}]": "must be an object"})
            lines.append({**base, **_product_fields(p), "event_id": f"{message_id}:{n}"})
        return lines
    event = {**base, "event_id": message_id}
    if action != "checkout":
        event.update(_product_fields(props))
    return [event]
