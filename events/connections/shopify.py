"""Shopify webhook payloads (REST Admin API resources) → native events and customer traits.

Topics: orders/create and orders/paid (purchase lines; the same event ids, so an order created then
paid is one order), orders/cancelled (its lines, then a cancel), refunds/create (a refund per
refunded line, amount = the line's ``subtotal`` in shop money; a refund without lines: the sum of
its successful refund transactions), checkouts/create and checkouts/update (add_to_cart per line
and one checkout, session = the checkout token, which the order carries as ``checkout_token``),
customers/create and customers/update (traits only, dated by the customer's ``updated_at``).
Amounts in shop money (``*_set.shop_money`` when present, else the plain field), with the order's
``currency`` (the shop's). Ids in the connection's ``IdSpace``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.connections.translation import (
    IdSpace,
    Translation,
    amount,
    amount_sum,
    event_id,
    full_name,
    ident,
    items,
    order_object,
    traits_of,
)

ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/cancelled"})
CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
TOPICS = ORDER_TOPICS | CHECKOUT_TOPICS | CUSTOMER_TOPICS | {"refunds/create"}
LINE_LISTS = ("line_items", "refund_line_items")  # what becomes events: counted against the cap


def translate(topic: str, payload: dict[str, Any], *, space: IdSpace,
              order_customers: Mapping[str, str] | None = None) -> Translation:
    """The events and traits of one delivery. ``order_customers`` (the platform's order id →
    customer id) names the customer of a refunded order (a refund payload does not)."""
    if topic in ORDER_TOPICS:
        return _order(payload, space, cancelled=topic == "orders/cancelled")
    if topic == "refunds/create":
        return _refund(payload, space, order_customers or {})
    if topic in CHECKOUT_TOPICS:
        return _checkout(payload, space, updated=topic == "checkouts/update")
    if topic in CUSTOMER_TOPICS:
        return _customer(payload, space)
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
        value = money_set["shop_money"].get("amount")
        if value is not None:
            return value
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


def _person(out: Translation, payload: dict[str, Any], space: IdSpace, fallback: str) -> str:
    """The customer of an order or checkout (their traits and profile time noted in ``out``)."""
    customer = _obj(payload.get("customer"))
    raw = ident(customer.get("id"), "customer.id", out.refused)
    if raw is not None:
        cid = space.of(raw)
        if customer.get("updated_at"):
            out.profile_times[cid] = customer["updated_at"]
    else:
        cid = space.guest(payload.get("email") or customer.get("email"), fallback)
    out.customers[cid] = _customer_traits(customer, payload.get("billing_address"), payload.get("email"))
    return cid


def _order_money(payload: dict[str, Any], refused: list[str]) -> dict[str, Any]:
    codes = items(payload, "discount_codes", refused)
    coupon = codes[0].get("code") if codes else None
    shipping = _shop(payload, "total_shipping_price")
    if shipping is None:
        shipping = amount_sum([_shop(line, "price") for line in items(payload, "shipping_lines", refused)],
                              "shipping line price", refused)
    return order_object(discount=_shop(payload, "total_discounts"), coupon=coupon if isinstance(coupon, str) else None,
                        shipping=shipping, tax=_shop(payload, "total_tax"), refused=refused)


def _order(payload: dict[str, Any], space: IdSpace, *, cancelled: bool) -> Translation:
    out = Translation()
    order_id = ident(payload.get("id"), "id", out.refused)
    if order_id is None:
        return out if out.refused else Translation(ignored="order without an id")
    cid = _person(out, payload, space, f"order:{order_id}")
    out.orders[order_id] = cid
    common: dict[str, Any] = {"customer_id": cid, "order_id": space.of(order_id),
                              "timestamp": payload.get("created_at") or payload.get("processed_at")}
    if payload.get("checkout_token"):
        common["session_id"] = payload["checkout_token"]
    order = _order_money(payload, out.refused)
    for n, line in enumerate(items(payload, "line_items", out.refused)):
        if line.get("quantity") == 0:
            continue
        line_id = ident(line.get("id"), f"line {n} id", out.refused) or n
        event = {"event_id": event_id(space.slug, "order", order_id, "line", line_id),
                 **common, "action": "purchase", **_product(line, space, out.refused), "quantity": line.get("quantity"),
                 "product_price": amount(_shop(line, "price"), f"line {line_id} price", out.refused),
                 "currency": payload.get("currency")}
        if order and not any("order" in e for e in out.events):
            event["order"] = order
        out.events.append(event)
    if cancelled:
        out.events.append({"event_id": event_id(space.slug, "order", order_id, "cancel"), "customer_id": cid,
                           "action": "cancel", "order_id": space.of(order_id),
                           "timestamp": payload.get("cancelled_at") or payload.get("updated_at")})
    return out


def _product(line: dict[str, Any], space: IdSpace, refused: list[str]) -> dict[str, Any]:
    """product_id (when the line is a catalogue product) and product_title."""
    out: dict[str, Any] = {}
    product_id = ident(line.get("product_id"), "product_id", refused)
    if product_id is not None:
        out["product_id"] = space.of(product_id)
    title = line.get("title") or line.get("name")
    if title:
        out["product_title"] = title
    return out


def _refund(payload: dict[str, Any], space: IdSpace, order_customers: Mapping[str, str]) -> Translation:
    out = Translation()
    refund_id = ident(payload.get("id"), "id", out.refused)
    order_id = ident(payload.get("order_id"), "order_id", out.refused)
    if refund_id is None or order_id is None:
        return out if out.refused else Translation(ignored="refund without an id or order_id")
    common = {"customer_id": order_customers.get(order_id) or space.guest(None, f"order:{order_id}"),
              "action": "refund", "order_id": space.of(order_id),
              "timestamp": payload.get("created_at") or payload.get("processed_at")}
    for n, item in enumerate(items(payload, "refund_line_items", out.refused)):
        line = _obj(item.get("line_item"))
        line_id = ident(item.get("line_item_id"), "line_item_id", out.refused) or ident(line.get("id")) or n
        event = {"event_id": event_id(space.slug, "refund", refund_id, "line", line_id), **common,
                 **_product(line, space, out.refused), "quantity": item.get("quantity"),
                 "amount": amount(_shop(item, "subtotal"), f"refund line {line_id} subtotal", out.refused)}
        currency = _currency(item.get("subtotal_set"))
        if currency:
            event["currency"] = currency
        out.events.append(event)
    if not out.events and not out.refused:
        refunds = [t for t in items(payload, "transactions", out.refused)
                   if t.get("kind") == "refund" and t.get("status") == "success"]
        total = amount_sum([t.get("amount") for t in refunds], "refund transaction amount", out.refused)
        if not total:
            return out if out.refused else Translation(ignored="refund without lines or a refunded amount")
        event = {"event_id": event_id(space.slug, "refund", refund_id), **common, "amount": total}
        if refunds[0].get("currency"):
            event["currency"] = refunds[0]["currency"]
        out.events.append(event)
    return out


def _currency(money_set: Any) -> str | None:
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        return money_set["shop_money"].get("currency_code")
    return None


def _checkout(payload: dict[str, Any], space: IdSpace, *, updated: bool) -> Translation:
    token = payload.get("token")
    if not token or not isinstance(token, str):
        return Translation(ignored="checkout without a token")
    out = Translation()
    cid = _person(out, payload, space, f"checkout:{token}")
    created = payload.get("created_at")
    when = (payload.get("updated_at") or created) if updated else (created or payload.get("updated_at"))
    common = {"customer_id": cid, "session_id": token}
    for n, line in enumerate(items(payload, "line_items", out.refused)):
        if line.get("quantity") == 0:
            continue
        key = line.get("key") or ident(line.get("variant_id")) or ident(line.get("product_id")) or n
        out.events.append({"event_id": event_id(space.slug, "checkout", token, "line", key), **common,
                           "action": "add_to_cart", **_product(line, space, out.refused),
                           "quantity": line.get("quantity"),
                           "product_price": amount(line.get("price"), f"checkout line {key} price", out.refused),
                           "timestamp": when, "currency": payload.get("currency")})
    out.events.append({"event_id": event_id(space.slug, "checkout", token), **common, "action": "checkout",
                       "timestamp": created or when})
    return out


def _customer(payload: dict[str, Any], space: IdSpace) -> Translation:
    out = Translation()
    raw = ident(payload.get("id"), "id", out.refused)
    if raw is None:
        return out if out.refused else Translation(ignored="customer without an id")
    cid = space.of(raw)
    out.customers[cid] = _customer_traits(payload)
    if payload.get("updated_at"):
        out.profile_times[cid] = payload["updated_at"]
    return out
