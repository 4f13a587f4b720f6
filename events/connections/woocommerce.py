"""WooCommerce webhook payloads (REST API v3 resources) → native events and customer traits.

order.created / order.updated by status: processing or completed → purchase lines (amount = the
line's ``subtotal``, before discounts; the unit price its share); refunded → the lines too (the
same ids: stored once) and a refund per entry of ``refunds`` (amount = its ``total``, sent
negative; timestamp = the order's ``date_modified_gmt``, refunds there carry no date); any
order's ``refunds`` become refunds (partial refunds leave the status as it was); cancelled → a
cancel; other statuses (pending, on-hold, failed, …) → nothing yet. customer.created /
customer.updated → traits. Times are the ``*_gmt`` fields (UTC).
"""

from __future__ import annotations

import html
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from events.connections.translation import (
    Translation,
    event_id,
    full_name,
    guest_id,
    ident,
    money,
    order_object,
    traits_of,
)

ORDER_TOPICS = frozenset({"order.created", "order.updated"})
CUSTOMER_TOPICS = frozenset({"customer.created", "customer.updated"})
TOPICS = ORDER_TOPICS | CUSTOMER_TOPICS
PURCHASED = frozenset({"processing", "completed", "refunded"})


def translate(topic: str, payload: dict[str, Any], *, slug: str) -> Translation:
    if topic in ORDER_TOPICS:
        return _order(payload, slug)
    if topic in CUSTOMER_TOPICS:
        return _customer(payload)
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


def _unit_price(subtotal: Any, quantity: Any) -> float | None:
    if type(quantity) is not int or quantity < 1:
        return None
    try:
        unit = Decimal(str(subtotal)) / quantity
    except (InvalidOperation, ValueError):
        return None
    return float(unit.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) if unit.is_finite() else None


def _order(payload: dict[str, Any], slug: str) -> Translation:
    order_id, status = ident(payload.get("id")), payload.get("status")
    if order_id is None:
        return Translation(ignored="order without an id")
    billing = payload.get("billing")
    email = billing.get("email") if isinstance(billing, dict) else None
    cid = ident(payload.get("customer_id")) or guest_id(slug, email, f"order:{order_id}")
    out = Translation(orders={order_id: cid}, customers={cid: _traits({}, billing)})
    modified = _gmt(payload.get("date_modified_gmt")) or _gmt(payload.get("date_created_gmt"))
    common = {"customer_id": cid, "order_id": order_id}
    if status in PURCHASED:
        out.events.extend(_lines(payload, slug, common))
    elif status == "cancelled":
        out.events.append({"event_id": event_id(slug, "order", order_id, "cancel"), **common, "action": "cancel",
                           "timestamp": modified})
    for refund in payload.get("refunds") or []:
        refund_id = ident(refund.get("id")) if isinstance(refund, dict) else None
        amount = money(refund.get("total")) if refund_id else None
        if amount:
            out.events.append({"event_id": event_id(slug, "refund", refund_id), **common, "action": "refund",
                               "amount": amount, "timestamp": modified, "currency": payload.get("currency")})
    if not out.events:
        out.ignored = f"order status {status!r} is not a purchase, refund or cancellation"
    return out


def _lines(payload: dict[str, Any], slug: str, common: dict[str, Any]) -> list[dict[str, Any]]:
    codes = [c.get("code") for c in payload.get("coupon_lines") or [] if isinstance(c, dict) and c.get("code")]
    order = order_object(discount=payload.get("discount_total"), coupon=codes[0] if codes else None,
                         shipping=payload.get("shipping_total"), tax=payload.get("total_tax"))
    when = _gmt(payload.get("date_created_gmt")) or _gmt(payload.get("date_paid_gmt"))
    events: list[dict[str, Any]] = []
    for n, line in enumerate(payload.get("line_items") or []):
        if not isinstance(line, dict) or line.get("quantity") == 0:
            continue
        event: dict[str, Any] = {
            "event_id": event_id(slug, "order", common["order_id"], "line", ident(line.get("id")) or n), **common,
            "action": "purchase", "quantity": line.get("quantity"),
            "product_price": _unit_price(line.get("subtotal"), line.get("quantity")),
            "amount": money(line.get("subtotal")), "timestamp": when, "currency": payload.get("currency")}
        product_id = ident(line.get("product_id"))
        if product_id is not None:
            event["product_id"] = product_id
        if isinstance(line.get("name"), str) and line["name"]:
            event["product_title"] = html.unescape(line["name"])  # WooCommerce sends "&ndash;" and the like
        if order and not events:
            event["order"] = order
        events.append(event)
    return events


def _customer(payload: dict[str, Any]) -> Translation:
    cid = ident(payload.get("id"))
    if cid is None:
        return Translation(ignored="customer without an id")
    return Translation(customers={cid: _traits(payload, payload.get("billing"))})
