"""Shopify webhook payloads (REST Admin API resources) → native events and customer traits.

Topics: orders/create and orders/paid (purchase lines; the same event ids, so an order created then
paid is one order), orders/cancelled (its lines, then a cancel), refunds/create (a refund per
refunded line, amount = the line's ``subtotal`` in shop money; a refund without lines: the sum of
its successful refund transactions), checkouts/create and checkouts/update (add_to_cart per line
and one checkout, session = the checkout token, which the order carries as ``checkout_token``),
customers/create and customers/update (traits only). Amounts in shop money (``*_set.shop_money``
when present, else the plain field), with the order's ``currency`` (the shop's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.connections.translation import (
    Translation,
    event_id,
    full_name,
    guest_id,
    ident,
    money,
    money_sum,
    order_object,
    traits_of,
)

ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/cancelled"})
CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
TOPICS = ORDER_TOPICS | CHECKOUT_TOPICS | CUSTOMER_TOPICS | {"refunds/create"}


def translate(topic: str, payload: dict[str, Any], *, slug: str,
              order_customers: Mapping[str, str] | None = None) -> Translation:
    """The events and traits of one delivery. ``order_customers`` (order id → customer id) names
    the customer of a refunded order (a refund payload does not)."""
    if topic in ORDER_TOPICS:
        return _order(payload, slug, cancelled=topic == "orders/cancelled")
    if topic == "refunds/create":
        return _refund(payload, slug, order_customers or {})
    if topic in CHECKOUT_TOPICS:
        return _checkout(payload, slug, updated=topic == "checkouts/update")
    if topic in CUSTOMER_TOPICS:
        return _customer(payload)
    return Translation(ignored=f"topic {topic!r} is not used")


def refund_order_id(payload: dict[str, Any]) -> str | None:
    """The order a refunds/create payload refunds (its customer is looked up before translating)."""
    return ident(payload.get("order_id"))


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a platform may send null)."""
    return value if isinstance(value, dict) else {}


def _shop(obj: dict[str, Any], key: str) -> Any:
    """``obj[key + "_set"]["shop_money"]["amount"]`` when present, else ``obj[key]``."""
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        amount = money_set["shop_money"].get("amount")
        if amount is not None:
            return amount
    return obj.get(key)


def _address_traits(address: Any) -> dict[str, Any]:
    if not isinstance(address, dict):
        return {}
    return traits_of(name=full_name(address.get("first_name"), address.get("last_name")), city=address.get("city"),
                     country=address.get("country"))


def _customer_traits(customer: dict[str, Any], address: Any = None, email: Any = None) -> dict[str, Any]:
    traits = _address_traits(address)
    traits.update(_address_traits(customer.get("default_address")))
    traits.update(traits_of(name=full_name(customer.get("first_name"), customer.get("last_name")),
                            email=customer.get("email") or email))
    return traits


def _order_customer(payload: dict[str, Any], slug: str, order_id: str) -> tuple[str, dict[str, Any]]:
    customer = _obj(payload.get("customer"))
    cid = ident(customer.get("id")) or guest_id(slug, payload.get("email") or customer.get("email"),
                                                 f"order:{order_id}")
    return cid, _customer_traits(customer, payload.get("billing_address"), payload.get("email"))


def _order_money(payload: dict[str, Any]) -> dict[str, Any]:
    codes = payload.get("discount_codes") or []
    coupon = codes[0].get("code") if codes and isinstance(codes[0], dict) else None
    shipping = _shop(payload, "total_shipping_price")
    if shipping is None:
        shipping = money_sum([_shop(line, "price") for line in payload.get("shipping_lines") or []
                              if isinstance(line, dict)])
    return order_object(discount=_shop(payload, "total_discounts"), coupon=coupon, shipping=shipping,
                        tax=_shop(payload, "total_tax"))


def _order(payload: dict[str, Any], slug: str, *, cancelled: bool) -> Translation:
    order_id = ident(payload.get("id"))
    if order_id is None:
        return Translation(ignored="order without an id")
    cid, traits = _order_customer(payload, slug, order_id)
    out = Translation(orders={order_id: cid}, customers={cid: traits})
    common: dict[str, Any] = {"customer_id": cid, "order_id": order_id,
                              "timestamp": payload.get("created_at") or payload.get("processed_at")}
    if payload.get("checkout_token"):
        common["session_id"] = payload["checkout_token"]
    order = _order_money(payload)
    for n, line in enumerate(payload.get("line_items") or []):
        if not isinstance(line, dict) or line.get("quantity") == 0:
            continue
        event = {"event_id": event_id(slug, "order", order_id, "line", ident(line.get("id")) or n),
                 **common, "action": "purchase", **_product(line), "quantity": line.get("quantity"),
                 "product_price": money(_shop(line, "price")), "currency": payload.get("currency")}
        if order and not any("order" in e for e in out.events):
            event["order"] = order
        out.events.append(event)
    if cancelled:
        out.events.append({"event_id": event_id(slug, "order", order_id, "cancel"), "customer_id": cid,
                           "action": "cancel", "order_id": order_id,
                           "timestamp": payload.get("cancelled_at") or payload.get("updated_at")})
    return out


def _product(line: dict[str, Any]) -> dict[str, Any]:
    """product_id (when the line is a catalogue product) and product_title."""
    out: dict[str, Any] = {}
    product_id = ident(line.get("product_id"))
    if product_id is not None:
        out["product_id"] = product_id
    title = line.get("title") or line.get("name")
    if title:
        out["product_title"] = title
    return out


def _refund(payload: dict[str, Any], slug: str, order_customers: Mapping[str, str]) -> Translation:
    refund_id, order_id = ident(payload.get("id")), refund_order_id(payload)
    if refund_id is None or order_id is None:
        return Translation(ignored="refund without an id or order_id")
    common = {"customer_id": order_customers.get(order_id) or f"guest:{slug}:order:{order_id}",
              "action": "refund", "order_id": order_id,
              "timestamp": payload.get("created_at") or payload.get("processed_at")}
    out = Translation()
    for n, item in enumerate(payload.get("refund_line_items") or []):
        if not isinstance(item, dict):
            continue
        line = _obj(item.get("line_item"))
        line_id = ident(item.get("line_item_id")) or ident(line.get("id")) or n
        event = {"event_id": event_id(slug, "refund", refund_id, "line", line_id), **common,
                 **_product(line), "quantity": item.get("quantity"), "amount": money(_shop(item, "subtotal"))}
        currency = _currency(item.get("subtotal_set"))
        if currency:
            event["currency"] = currency
        out.events.append(event)
    if not out.events:
        refunds = [t for t in payload.get("transactions") or []
                   if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") == "success"]
        amount = money_sum([t.get("amount") for t in refunds])
        if not amount:
            return Translation(ignored="refund without lines or a refunded amount")
        event = {"event_id": event_id(slug, "refund", refund_id), **common, "amount": amount}
        if refunds[0].get("currency"):
            event["currency"] = refunds[0]["currency"]
        out.events.append(event)
    return out


def _currency(money_set: Any) -> str | None:
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        return money_set["shop_money"].get("currency_code")
    return None


def _checkout(payload: dict[str, Any], slug: str, *, updated: bool) -> Translation:
    token = payload.get("token")
    if not token or not isinstance(token, str):
        return Translation(ignored="checkout without a token")
    customer = _obj(payload.get("customer"))
    cid = ident(customer.get("id")) or guest_id(slug, payload.get("email") or customer.get("email"),
                                                 f"checkout:{token}")
    created = payload.get("created_at")
    when = (payload.get("updated_at") or created) if updated else (created or payload.get("updated_at"))
    common = {"customer_id": cid, "session_id": token}
    out = Translation(customers={cid: _customer_traits(customer, payload.get("billing_address"),
                                                       payload.get("email"))})
    for n, line in enumerate(payload.get("line_items") or []):
        if not isinstance(line, dict) or line.get("quantity") == 0:
            continue
        key = line.get("key") or ident(line.get("variant_id")) or ident(line.get("product_id")) or n
        out.events.append({"event_id": event_id(slug, "checkout", token, "line", key), **common,
                           "action": "add_to_cart", **_product(line), "quantity": line.get("quantity"),
                           "product_price": money(line.get("price")), "timestamp": when,
                           "currency": payload.get("currency")})
    out.events.append({"event_id": event_id(slug, "checkout", token), **common, "action": "checkout",
                       "timestamp": created or when})
    return out


def _customer(payload: dict[str, Any]) -> Translation:
    cid = ident(payload.get("id"))
    if cid is None:
        return Translation(ignored="customer without an id")
    return Translation(customers={cid: _customer_traits(payload)})

