"""The event wire formats (DESIGN §3), parsed and validated without touching the database.

``parse_event`` turns one native event, or one in the original system's format (no
``product_id``: the product is named by ``product_title``), into a ``NativeEvent`` or a dict of
per-field reasons. ``segment_to_native`` maps one Segment Tracking API message (Ecommerce spec v2)
to native event dicts. ``loads`` parses a message or body (str or bytes) into JSON values or raises
``MessageError``. All are hot paths (tens of thousands of events a second): plain code, no
exceptions on the common path.

Hostile input (issue 10): nothing one event holds may fail the events beside it, so everything the
database would refuse is refused here, per field, with a reason: control characters in ids and
labels, NUL in free text, lone surrogates (invalid UTF-8 in a body, or ``\\ud800`` escapes: no
database driver can encode them), over-long strings, out-of-range numbers, timestamps outside what
the analytics can place. Reasons are strings that also carry a stable machine-readable ``code``
(``Reason``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
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
# Earlier timestamps are refused: no store's event is older, and the analytics (time zones, hour
# buckets) need dates that stay inside datetime's range in every zone.
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
# Integers with more digits than Python converts by default (sys.get_int_max_str_digits) make
# json.loads raise; such a message is parsed again and the number is kept as a HugeNumber.
JSON_INT_DIGITS = 4300

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
_PRICE_CACHE_KEY_CHARS = 32


class Reason(str):
    """A reason for the client (the text) with a stable machine-readable ``code``.

    It is a ``str``, so error dicts serialise and compare as plain text.
    """

    code: str

    def __new__(cls, text: str, code: str) -> Reason:
        reason = super().__new__(cls, text)
        reason.code = code
        return reason


def code_of(reason: str) -> str:
    return getattr(reason, "code", "invalid")


REQUIRED = Reason("required", "required")
EMPTY = Reason("must not be empty", "empty")
NOT_STRING = Reason("must be a string", "wrong_type")
NOT_NUMBER = Reason("must be a number", "wrong_type")
NOT_INTEGER = Reason("must be an integer", "wrong_type")
NOT_FINITE = Reason("must be a finite number", "out_of_range")
NOT_OBJECT = Reason("must be a JSON object", "wrong_type")


class HugeNumber:
    """A JSON integer with more digits than Python converts (see ``loads``): kept as its digit
    count so validation can answer "out of range" for that one event."""

    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"<{self.digits}-digit number>"


# Identifiers and one-line labels: no C0 or C1 control character, no DEL, no lone surrogate.
# Free text (description): no NUL (PostgreSQL text cannot hold it) and no lone surrogate; tab,
# line breaks and other control characters are kept as sent.
_LABEL_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_BAD = re.compile("[\x00\ud800-\udfff]")


def _bad_character(value: str, pattern: re.Pattern[str]) -> Reason | None:
    """Why ``value`` (not ``isprintable()``) holds a character the database cannot (or should not)
    store, or None (e.g. a no-break space is not printable but is fine)."""
    match = pattern.search(value)
    if match is None:
        return None
    char = match.group()
    where = f"U+{ord(char):04X} at position {match.start()}"
    if "\ud800" <= char <= "\udfff":
        return Reason(f"invalid Unicode ({where}: a lone surrogate; was the text UTF-8?)", "invalid_unicode")
    return Reason(f"contains a control character ({where})", "control_character")


def _too_long(limit: int) -> Reason:
    return Reason(f"longer than {limit} characters", "too_long")


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
    """A required id: a non-empty string (or an integer, read as its decimal string) of printable
    characters."""
    t = type(value)
    if t is str:
        if not value or value.isspace():
            return None, EMPTY
    elif t is int:
        if value.bit_length() > 4 * limit:  # cheaper than str() of a huge int; surely too long
            return None, _too_long(limit)
        value = str(value)
    elif value is None:
        return None, REQUIRED
    else:
        return None, NOT_STRING
    if len(value) > limit:
        return None, _too_long(limit)
    if not value.isprintable():  # the common case stays one C call
        bad = _bad_character(value, _LABEL_BAD)
        if bad is not None:
            return None, bad
    return value, None


def _optional_text(value: Any, limit: int | None, pattern: re.Pattern[str] = _LABEL_BAD
                   ) -> tuple[str | None, str | None]:
    """An optional string (ids and labels: ``_LABEL_BAD`` characters refused; free text:
    ``_TEXT_BAD``)."""
    t = type(value)
    if value is None or value == "":
        return None, None
    if t is int:
        if limit is not None and value.bit_length() > 4 * limit:
            return None, _too_long(limit)
        value = str(value)
    elif t is not str:
        return None, NOT_STRING
    if limit is not None and len(value) > limit:
        return None, _too_long(limit)
    if not value.isprintable():
        bad = _bad_character(value, pattern)
        if bad is not None:
            return None, bad
    return value, None


_PRICE_TOO_SMALL = Reason("must be >= 0", "out_of_range")
_PRICE_TOO_LARGE = Reason(f"must be <= {MAX_PRICE}", "out_of_range")
_QUANTITY_TOO_SMALL = Reason("must be >= 1", "out_of_range")
_QUANTITY_TOO_LARGE = Reason(f"must be <= {MAX_QUANTITY}", "out_of_range")


def parse_price(value: Any) -> tuple[Decimal | None, str | None]:
    """A unit price: a finite number (or numeric string) >= 0, rounded to cents."""
    t = type(value)
    if t is float or t is int or (t is str and len(value) <= _PRICE_CACHE_KEY_CHARS):
        cached = _price_cache.get(value)
        if cached is not None:
            return cached, None
    if t is float:
        if not math.isfinite(value):
            return None, NOT_FINITE
        d = Decimal(repr(value))
    elif t is int:
        d = Decimal(value)
    elif t is str:
        try:
            d = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            return None, NOT_NUMBER
        if not d.is_finite():
            return None, NOT_FINITE
    elif t is HugeNumber:
        return None, _PRICE_TOO_LARGE
    else:
        return None, NOT_NUMBER
    if d < 0:
        return None, _PRICE_TOO_SMALL
    if d > MAX_PRICE or (d := d.quantize(CENT, rounding=ROUND_HALF_UP)) > MAX_PRICE:
        return None, _PRICE_TOO_LARGE
    if len(_price_cache) < 50_000 and (t is not str or len(value) <= _PRICE_CACHE_KEY_CHARS):
        _price_cache[value] = d
    return d, None


def parse_quantity(value: Any) -> tuple[int | None, str | None]:
    t = type(value)
    if t is int:
        q = value
    elif t is str:
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit()):
            return None, NOT_INTEGER
        if len(digits) > 12:
            return None, _QUANTITY_TOO_LARGE
        q = int(digits)
    elif t is float and value.is_integer():
        q = int(value)
    elif t is HugeNumber:
        return None, _QUANTITY_TOO_LARGE
    else:
        return None, NOT_INTEGER
    if q < 1:
        return None, _QUANTITY_TOO_SMALL
    if q > MAX_QUANTITY:
        return None, _QUANTITY_TOO_LARGE
    return q, None


_TS_REQUIRED_STRING = Reason("must be an ISO 8601 string", "wrong_type")
_TS_NOT_ISO = Reason("not an ISO 8601 date-time", "invalid_timestamp")
_TS_FUTURE = Reason("more than 5 minutes in the future", "in_future")
_TS_TOO_OLD = Reason(f"before {MIN_TIMESTAMP:%Y-%m-%d}", "out_of_range")


def parse_timestamp(value: Any, latest: datetime) -> tuple[datetime | None, str | None]:
    """ISO 8601; a time without offset is UTC; later than ``latest`` is refused."""
    if type(value) is not str:
        if isinstance(value, datetime):
            ts = value
        elif value is None:
            return None, REQUIRED
        else:
            return None, _TS_REQUIRED_STRING
    else:
        if len(value) > 64 or "\x00" in value:  # fromisoformat ignores one trailing NUL
            return None, _TS_NOT_ISO
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None, _TS_NOT_ISO
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    elif ts.utcoffset():
        try:
            ts = ts.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00
            return None, _TS_TOO_OLD if ts.year < 2000 else _TS_FUTURE
    if ts > latest:
        return None, _TS_FUTURE
    if ts < MIN_TIMESTAMP:
        return None, _TS_TOO_OLD
    return ts, None


_UNKNOWN_ACTION = Reason("unknown action", "unknown_action")


def parse_event(raw: Any, latest: datetime) -> NativeEvent | dict[str, str]:
    """One native (or original-format) event, or ``{field: reason}``.

    ``latest`` is the latest acceptable timestamp (now + ``FUTURE_TOLERANCE``).
    """
    if type(raw) is not dict:
        return {"event": NOT_OBJECT}
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
        errors["action"] = REQUIRED if action_raw is None else _UNKNOWN_ACTION

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
    description, err = _optional_text(get("description"), None, _TEXT_BAD)
    if err:
        errors["description"] = err
    category, err = _optional_text(get("category"), MAX_CATEGORY)
    if err:
        errors["category"] = err

    if action in PRODUCT_ACTIONS and product_id is None and title is None and "product_id" not in errors:
        errors["product_id"] = Reason(f"required for {action} (or product_title)", "required")

    amount_raw = get("amount")
    amount: Decimal | None = None
    if amount_raw is not None:
        if action != "purchase":
            errors["amount"] = Reason("only on purchase lines", "not_allowed")
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
    """A batch after validation: the valid events (in order; may still repeat an event_id), their
    positions in the batch, and the rejected ones as ack entries ``{"index", "event_id",
    "errors"}``."""

    events: list[NativeEvent]
    rejected: list[dict[str, Any]]
    positions: list[int] = field(default_factory=list)

    def position(self, n: int) -> int:
        """The batch index of ``events[n]``."""
        return self.positions[n] if len(self.positions) == len(self.events) else n


def rejection(index: int, raw: Any, errors: dict[str, str]) -> dict[str, Any]:
    """An ack entry. The event_id is echoed only when it is itself valid (a hostile one could be
    megabytes long or hold characters a JSON encoder refuses)."""
    event_id = raw.get("event_id") if type(raw) is dict and "event_id" not in errors else None
    return {"index": index, "event_id": event_id if type(event_id) in (str, int) else None, "errors": errors}


def parse_batch(raw_events: Any, latest: datetime) -> ParsedBatch:
    events: list[NativeEvent] = []
    rejected: list[dict[str, Any]] = []
    positions: list[int] = []
    for index, raw in enumerate(raw_events):
        event = parse_event(raw, latest)
        if type(event) is dict:
            rejected.append(rejection(index, raw, event))
        else:
            events.append(event)  # type: ignore[arg-type]
            positions.append(index)
    return ParsedBatch(events, rejected, positions)


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
        raise SegmentError({"message": NOT_OBJECT})
    msg_type = message.get("type", "track")
    if msg_type != "track":
        raise SegmentError({"type": Reason(f"only track calls are ingested, not {_shown(msg_type)}", "unmapped")})
    name = message.get("event")
    action = SEGMENT_ACTIONS.get(name) if type(name) is str else None
    if action is None:
        raise SegmentError({"event": Reason(f"not a mapped Ecommerce v2 event: {_shown(name)}", "unmapped")})
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
            raise SegmentError({"properties.products": Reason("Order Completed needs a non-empty products list",
                                                              "required")})
        lines = []
        for n, p in enumerate(products):
            if type(p) is not dict:
                raise SegmentError({f"properties.products[{n}]": Reason("must be an object", "wrong_type")})
            lines.append({**base, **_product_fields(p), "event_id": f"{message_id}:{n}"})
        return lines
    event = {**base, "event_id": message_id}
    if action != "checkout":
        event.update(_product_fields(props))
    return [event]


# --- Messages and bodies ----------------------------------------------------------------------

class MessageError(ValueError):
    """A message (WebSocket) or body (HTTP) that cannot be read at all: one reason for all of it."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason = Reason(reason, code)
        self.code = code


def _huge_int(digits: str) -> int | HugeNumber:
    return int(digits) if len(digits) <= JSON_INT_DIGITS else HugeNumber(len(digits.lstrip("-")))


def _decode(data: bytes) -> str:
    """Bytes as text. Invalid UTF-8 is kept as lone surrogates (``surrogateescape``), so the one
    string field holding it is refused with a reason and the events beside it are not."""
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding, "surrogateescape" if encoding.startswith("utf-8") else "surrogatepass")
    except UnicodeDecodeError as exc:  # UTF-16/32 that does not decode
        raise MessageError(f"not valid {encoding} text: {exc.reason}", "malformed_json") from None


def loads(data: str | bytes) -> Any:
    """The JSON value of a message or body, or ``MessageError``.

    Nesting deeper than the parser's recursion limit (about 900 levels) is one error for the whole
    message; shallower nesting inside a field is that event's "must be a string/number". An
    integer with more digits than Python converts is kept as a ``HugeNumber`` (its event is
    refused as out of range) instead of failing the message.
    """
    text = _decode(data) if isinstance(data, bytes | bytearray) else data
    try:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise
        except ValueError:  # an integer over sys.get_int_max_str_digits() digits
            return json.loads(text, parse_int=_huge_int)
    except RecursionError:
        raise MessageError("JSON nested too deeply: arrays and objects may nest a few hundred levels at most",
                           "too_deep") from None
    except json.JSONDecodeError as exc:
        raise MessageError(f"malformed JSON: {exc}", "malformed_json") from None
