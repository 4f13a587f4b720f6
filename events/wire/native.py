"""The native wire format (docs/sending-events.md), and the original system's (no ``product_id``: the product is
named by ``product_title``; ``purchase_cart``).

A message or body is one event or ``{"events": [...]}`` (``native_events``). Each event is checked
field by field against ``FIELDS``, a table of what each field is read with, its limit and when it
is required; ``parse_event`` answers a ``NativeEvent`` or ``{field: reason}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

import events.wire.values as v
from events.wire.context import parse_context
from events.wire.reasons import NOT_OBJECT, REQUIRED, Reason

ACTIONS: dict[str, str] = {
    "view": "view",
    "add_to_cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
    "checkout": "checkout",
    "purchase": "purchase",
    "abandon": "abandon",
    "refund": "refund",
    "cancel": "cancel",
    "purchase_cart": "purchase",  # the original system's name
    "page": "page",  # a page view (no product): the tracker's page(), Segment page calls
}
# Actions about one product line: they need a product (by id, or by title in the original format).
PRODUCT_ACTIONS = frozenset({"view", "add_to_cart", "remove_from_cart", "purchase"})
# Actions about an order as a whole: they need its order_id.
ORDER_ACTIONS = frozenset({"refund", "cancel"})
MONEY_ACTIONS = frozenset({"purchase", "refund"})  # may carry an ``amount``


@dataclass(slots=True)
class NativeEvent:
    """One valid event in the one shape every format maps to (fields in ``FIELDS`` order)."""

    event_id: str
    customer_id: str
    action: str
    timestamp: datetime  # aware, UTC
    quantity: int
    price: Decimal | None  # None: not sent (the product's price is used)
    session_id: str
    order_id: str | None
    product_id: str | None
    product_title: str | None
    product_image: str
    description: str
    category: str
    anonymous_id: str = ""  # a browser visitor's id
    context: dict[str, str] | None = None  # page_url, referrer, utm_*, user_agent (events/wire/context.py)
    currency: str | None = None  # ISO 4217 as sent; None: STORE_CURRENCY (set by the ingest service)
    experiment: str = ""  # an A/B experiment this visitor saw, and its variant (docs/experiments.md)
    variant: str = ""
    amount: Decimal | None = None  # purchase lines: the line total as sent (revenue; see events.types.line_total)
    order: v.OrderMoney | None = None  # purchase lines: the order-level discount, coupon, shipping, tax
    fx_rate: Decimal | None = None  # set when converted: store currency per unit of ``currency``


Parser = Callable[[Any, Any, datetime], tuple[Any, Reason | None]]
Rule = Callable[[dict[str, Any]], Reason | None]  # of the values parsed so far (NativeEvent names)

_UNKNOWN_ACTION = Reason("unknown action", "unknown_action")
_NOT_ALLOWED = Reason("only on purchase lines", "not_allowed")
_NOT_MONEY = Reason("only on purchase lines and refunds", "not_allowed")
_REFUND_AMOUNT = Reason("required for refund (or product_price)", "required")
_NO_PERSON = Reason("required (or anonymous_id)", "required")
# An event with only an anonymous id belongs to the customer row ``anon:<anonymous id>`` (so nothing
# is lost; linking it to the customer who later identifies is identity merging, not done yet).
ANONYMOUS_PREFIX = "anon:"


def _action(value: Any, limit: Any, latest: datetime) -> tuple[str | None, Reason | None]:
    action = ACTIONS.get(value) if type(value) is str else None
    return (action, None) if action is not None else (None, _UNKNOWN_ACTION)


def _product_named(values: dict[str, Any]) -> Reason | None:
    """A product line names its product, by id or (original format) by title."""
    action = values["action"]
    if action in PRODUCT_ACTIONS and values["product_title"] is None:
        return Reason(f"required for {action} (or product_title)", "required")
    return None


def _order_named(values: dict[str, Any]) -> Reason | None:
    """Refunds and cancels name the order they change."""
    action = values["action"]
    return Reason(f"required for {action}", "required") if action in ORDER_ACTIONS else None


def _person_named(values: dict[str, Any]) -> Reason | None:
    """An event names its person: the store's customer id, or a browser's anonymous id."""
    return None if values["anonymous_id"] else _NO_PERSON


def _purchase_line(values: dict[str, Any]) -> Reason | None:
    return None if values["action"] == "purchase" else _NOT_ALLOWED


def _money_line(values: dict[str, Any]) -> Reason | None:
    return None if values["action"] in MONEY_ACTIONS else _NOT_MONEY


class Field(NamedTuple):
    """One field of an event: where it is read, how it is parsed, when it must be there."""

    name: str  # the key it is sent under, and of its reason
    parse: Parser
    limit: int | None = None
    required: bool = False  # absent (or null): REQUIRED
    default: Any = None  # its value when absent, null or empty
    attr: str = ""  # the NativeEvent attribute, when not ``name``
    alias: str | None = None  # another key read when ``name`` is absent
    required_when: Rule | None = None  # absent: this rule's reason (checked after every field)
    allowed_when: Rule | None = None  # present: refused with this rule's reason (else parsed)


# In the order reasons are listed (and of NativeEvent's attributes); the fields with an
# ``allowed_when`` rule come last.
FIELDS: tuple[Field, ...] = (
    Field("event_id", v.ident, v.MAX_EVENT_ID, required=True),
    Field("customer_id", v.ident, v.MAX_CUSTOMER_ID, required_when=_person_named),
    Field("action", _action, required=True),
    Field("timestamp", v.parse_timestamp, required=True),
    Field("quantity", v.parse_quantity, default=1),
    Field("product_price", v.parse_price, attr="price", alias="price"),
    Field("session_id", v.label, v.MAX_SESSION_ID, default=""),
    Field("order_id", v.label, v.MAX_ORDER_ID, required_when=_order_named),
    Field("product_id", v.label, v.MAX_PRODUCT_ID, required_when=_product_named),
    Field("product_title", v.title, v.MAX_PRODUCT_TITLE),
    Field("product_image", v.label, v.MAX_PRODUCT_IMAGE, default=""),
    Field("description", v.text, default=""),
    Field("category", v.label, v.MAX_CATEGORY, default=""),
    Field("anonymous_id", v.label, v.MAX_ANONYMOUS_ID, default=""),
    Field("context", parse_context),
    Field("currency", v.parse_currency),
    Field("experiment", v.label, v.MAX_EXPERIMENT, default=""),
    Field("variant", v.label, v.MAX_EXPERIMENT, default=""),
    Field("amount", v.parse_money, allowed_when=_money_line),
    Field("order", v.parse_order, allowed_when=_purchase_line),
)
# The table as flat tuples (these loops run for every field of every event): the fields read in
# one pass, then the required-when rules, then the fields allowed only when their rule says so.
# Values are collected in a list, in FIELDS order (NativeEvent's); rules see them by name.
_ATTRS = tuple(f.attr or f.name for f in FIELDS)
_READ = tuple((f.name, f.alias, f.parse, f.limit, f.required, f.default) for f in FIELDS if f.allowed_when is None)
_REQUIRED_WHEN = tuple((f.name, _ATTRS.index(f.attr or f.name), f.required_when)
                       for f in FIELDS if f.required_when is not None)
_ALLOWED_WHEN = tuple((f.name, f.parse, f.limit, f.allowed_when, f.default)
                      for f in FIELDS if f.allowed_when is not None)
assert list(_ATTRS) == list(NativeEvent.__dataclass_fields__)[:len(_ATTRS)], "NativeEvent follows FIELDS"
assert not any(f.allowed_when is None for f in FIELDS[len(_READ):]), "allowed-when fields come last"
_ACTION, _AMOUNT, _PRICE = _ATTRS.index("action"), _ATTRS.index("amount"), _ATTRS.index("price")
_QUANTITY = _ATTRS.index("quantity")
_EXPERIMENT, _VARIANT = _ATTRS.index("experiment"), _ATTRS.index("variant")
_PAIRED = Reason("experiment and variant are sent together", "required")


def parse_event(raw: Any, latest: datetime) -> NativeEvent | dict[str, str]:
    """One native (or original-format) event, or ``{field: reason}``.

    ``latest`` is the latest acceptable timestamp (now + ``FUTURE_TOLERANCE``).
    """
    if type(raw) is not dict:
        return {"event": NOT_OBJECT}
    get = raw.get
    values: list[Any] = []
    keep = values.append
    errors: dict[str, str] = {}
    for name, alias, parse, limit, required, default in _READ:
        value = get(name)
        if value is None and alias is not None:
            value = get(alias)
        if value is None:
            if required:
                errors[name] = REQUIRED
            keep(default)
            continue
        value, reason = parse(value, limit, latest)
        if reason is not None:
            errors[name] = reason
        keep(default if value is None else value)
    for name, index, rule in _REQUIRED_WHEN:
        if values[index] is None and name not in errors and (reason := rule(_named(values))) is not None:
            errors[name] = reason
    for name, parse, limit, rule, default in _ALLOWED_WHEN:
        value = get(name)
        if value is not None:
            reason = rule(_named(values))
            if reason is None:
                value, reason = parse(value, limit, latest)
            if reason is not None:
                errors[name] = reason
        keep(default if value is None else value)
    if values[_ACTION] == "refund" and values[_AMOUNT] is None and values[_PRICE] is None and "amount" not in errors:
        errors["amount"] = _REFUND_AMOUNT
    if (not values[_EXPERIMENT]) != (not values[_VARIANT]) and "experiment" not in errors and "variant" not in errors:
        errors["variant" if values[_EXPERIMENT] else "experiment"] = _PAIRED
    if not errors and values[_AMOUNT] is None and values[_PRICE] is not None:
        total = values[_PRICE] * values[_QUANTITY]
        if total > v.MAX_MONEY:
            errors["line_total"] = v.line_too_large(total)
    if errors:
        return errors
    event = NativeEvent(*values)
    if event.customer_id is None:  # only an anonymous id (the rule above made sure there is one)
        event.customer_id = ANONYMOUS_PREFIX + event.anonymous_id
    if event.amount is not None and event.price is None:  # the unit price shown: the line's share
        event.price = (event.amount / Decimal(event.quantity)).quantize(v.CENT, rounding=ROUND_HALF_UP)
    return event


def money_errors(event: NativeEvent, price: Decimal | None) -> dict[str, Reason]:
    """``{field: reason}`` for each money figure of this event over ``MAX_MONEY`` once its unit price
    is known (``price``: sent, converted, or the product's) and its amounts are in the store currency:
    its line total (``amount``, else price × quantity), its order's discount, shipping and tax. A
    unit price must also fit its column (``MAX_PRICE``)."""
    errors: dict[str, Reason] = {}
    if price is not None and price > v.MAX_PRICE:
        errors["product_price"] = v.money_too_large("the unit price", price, v.MAX_PRICE)
    if event.amount is not None:
        if event.amount > v.MAX_MONEY:
            errors["amount"] = v.money_too_large("the amount", event.amount)
    elif price is not None and (total := price * event.quantity) > v.MAX_MONEY:
        errors["line_total"] = v.line_too_large(total)
    order = event.order
    if order is not None:
        for name in ("discount", "shipping", "tax"):
            value = getattr(order, name)
            if value is not None and value > v.MAX_MONEY:
                errors["order"] = v.money_too_large(f"the order's {name}", value)
    return errors


def _named(values: list[Any]) -> dict[str, Any]:
    """The values parsed so far, by NativeEvent attribute (what a rule reads)."""
    return dict(zip(_ATTRS, values, strict=False))


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


def _rejection(index: int, raw: Any, errors: dict[str, str]) -> dict[str, Any]:
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
            rejected.append(_rejection(index, raw, event))
        else:
            events.append(event)  # type: ignore[arg-type]
            positions.append(index)
    return ParsedBatch(events, rejected, positions)


def latest_allowed(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + v.FUTURE_TOLERANCE


class EnvelopeError(ValueError):
    """A message or body whose shape is not one of the format's envelopes (nothing is stored)."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason = reason
        self.code = code


def native_events(body: Any, *, max_events: int, noun: str = "body") -> list[Any]:
    """The events of a message or body: one event, or ``{"events": [...]}`` of at most
    ``max_events``; else ``EnvelopeError`` (``noun`` names what was sent, in the reason)."""
    if type(body) is not dict:
        raise EnvelopeError(f'{noun} must be a JSON object: one event or {{"events": [...]}}', "bad_envelope")
    if "events" not in body:
        return [body]
    events = body["events"]
    if type(events) is not list:
        raise EnvelopeError('"events" must be a list', "bad_envelope")
    if len(events) > max_events:
        per = " a message" if noun == "message" else ""
        raise EnvelopeError(f"batch of {len(events)} events; at most {max_events}{per}", "too_many_events")
    return events
