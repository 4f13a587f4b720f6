"""WooCommerce webhook payloads (REST API v3 resources) → native events and customer traits.

order.created / order.updated by status: processing or completed → purchase lines (amount = the
line's ``subtotal``, before discounts; the unit price its share); refunded → the lines too (the
same ids: stored once) and a refund per entry of ``refunds`` (amount = its ``total``, which
WooCommerce sends negative: its size is the refund; timestamp = the order's ``date_modified_gmt``,
refunds there carry no date); any order's ``refunds`` become refunds (partial refunds leave the
status as it was); cancelled → a cancel; other statuses (pending, on-hold, failed, …) → nothing
yet. customer.created / customer.updated → traits, dated by ``date_modified_gmt``. Times are the
``*_gmt`` fields (UTC). Ids in the connection's ``IdSpace``.
"""

from __future__ import annotations

import html
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from events.connections.translation import (
    IdSpace,
    Translation,
    amount,
    event_id,
    full_name,
    ident,
    items,
    money,
    order_object,
    traits_of,
)

ORDER_TOPICS = frozenset({"order.created", "order.updated"})
CUSTOMER_TOPICS = frozenset({"customer.created", "customer.updated"})
TOPICS = ORDER_TOPICS | CUSTOMER_TOPICS
PURCHASED = frozenset({"processing", "completed", "refunded"})
LINE_LISTS = ("line_items", "refunds")  # what becomes events: counted against the cap


def translate(topic: str, payload: dict[str, Any], *, space: IdSpace) -> Translation:
    if topic in ORDER_TOPICS:
        return _order(payload, space)
    if topic in CUSTOMER_TOPICS:
        return _customer(payload, space)
    return Translation(ignored=f"topic {topic!r} is not used")


def _gmt(value: Any) -> Any:
    """A ``*_gmt`` time ("2017-03-22T16:28:02", no offset) marked as UTC."""
    if isinstance(value, str) and value and not value.endswith("Z") and "+" not in value[10:]:
        return value + "Z"
    return value


def _traits(person: dict[str, Any], billing: Any) -> dict[str, Any]:
    billing = billing if isinstance(billing, dict) else {}
    traits = traits_of(name=full_name(billing.get("first_name"), billing.get("last_name")),
                       email=billing.get("email"), city=billing.get("city"), country=billing.get("country"))
    traits.update(traits_of(name=full_name(person.get("first_name"), person.get("last_name")),
                            email=person.get("email")))
    return traits


def _unit_price(subtotal: float | None, quantity: Any) -> float | None:
    if subtotal is None or type(quantity) is not int or quantity < 1:
        return None
    try:
        unit = Decimal(repr(subtotal)) / quantity
    except (InvalidOperation, ValueError):
        return None
    return float(unit.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) if unit.is_finite() else None


def _order(payload: dict[str, Any], space: IdSpace) -> Translation:
    out = Translation()
    order_id, status = ident(payload.get("id"), "id", out.refused), payload.get("status")
    if order_id is None:
        return out if out.refused else Translation(ignored="order without an id")
    billing = payload.get("billing")
    email = billing.get("email") if isinstance(billing, dict) else None
    raw = ident(payload.get("customer_id"), "customer_id", out.refused)
    cid = space.of(raw) if raw is not None else space.guest(email, f"order:{order_id}")
    modified = _gmt(payload.get("date_modified_gmt")) or _gmt(payload.get("date_created_gmt"))
    out.orders[order_id] = cid
    out.customers[cid] = _traits({}, billing)
    if modified:
        out.profile_times[cid] = modified
    common = {"customer_id": cid, "order_id": space.of(order_id)}
    if status in PURCHASED:
        out.events.extend(_lines(payload, space, order_id, common, out.refused))
    elif status == "cancelled":
        out.events.append({"event_id": event_id(space.slug, "order", order_id, "cancel"), **common,
                           "action": "cancel", "timestamp": modified})
    for refund in items(payload, "refunds", out.refused):
        refund_id = ident(refund.get("id"), "refund id", out.refused)
        size = money(refund.get("total")) if refund_id else None
        if size:  # sent negative (a refund's size either way)
            out.events.append({"event_id": event_id(space.slug, "refund", refund_id), **common, "action": "refund",
                               "amount": abs(size), "timestamp": modified, "currency": payload.get("currency")})
    if not out.events and not out.refused:
        out.ignored = f"order status {status!r} is not a purchase, refund or cancellation"
    return out


def _lines(payload: dict[str, Any], space: IdSpace, order_id: str, common: dict[str, Any],
           refused: list[str]) -> list[dict[str, Any]]:
    codes = [c.get("code") for c in items(payload, "coupon_lines", refused) if isinstance(c.get("code"), str)]
    order = order_object(discount=payload.get("discount_total"), coupon=codes[0] if codes else None,
                         shipping=payload.get("shipping_total"), tax=payload.get("total_tax"), refused=refused)
    when = _gmt(payload.get("date_created_gmt")) or _gmt(payload.get("date_paid_gmt"))
    events: list[dict[str, Any]] = []
    for n, line in enumerate(items(payload, "line_items", refused)):
        if line.get("quantity") == 0:
            continue
        line_id = ident(line.get("id"), f"line {n} id", refused) or n
        subtotal = amount(line.get("subtotal"), f"line {line_id} subtotal", refused)
        event: dict[str, Any] = {
            "event_id": event_id(space.slug, "order", order_id, "line", line_id), **common,
            "action": "purchase", "quantity": line.get("quantity"),
            "product_price": _unit_price(subtotal, line.get("quantity")),
            "amount": subtotal, "timestamp": when, "currency": payload.get("currency")}
        product_id = ident(line.get("product_id"), f"line {line_id} product_id", refused)
        if product_id is not None:
            event["product_id"] = space.of(product_id)
        if isinstance(line.get("name"), str) and line["name"]:
            event["product_title"] = html.unescape(line["name"])  # WooCommerce sends "&ndash;" and the like
        if order and not events:
            event["order"] = order
        events.append(event)
    return events


def _customer(payload: dict[str, Any], space: IdSpace) -> Translation:
    out = Translation()
    raw = ident(payload.get("id"), "id", out.refused)
    if raw is None:
        return out if out.refused else Translation(ignored="customer without an id")
    cid = space.of(raw)
    out.customers[cid] = _traits(payload, payload.get("billing"))
    modified = _gmt(payload.get("date_modified_gmt")) or _gmt(payload.get("date_created_gmt"))
    if modified:
        out.profile_times[cid] = modified
    return out
