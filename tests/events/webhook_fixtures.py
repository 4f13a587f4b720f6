"""Load the webhook fixtures (tests/events/fixtures/webhooks, see its README), vary them, and post
them signed as the platforms do."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from django.test import Client

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def body(name: str) -> bytes:
    """The fixture as raw bytes, as the platform would send it."""
    return (FIXTURES / f"{name}.json").read_bytes()


def signed_post(platform: str, slug: str, secret: str, topic: str, data: bytes | dict[str, Any], *,
                delivery: str, signature: str | None = None):
    """POST a delivery to /webhooks/<platform>/<slug>/ with the platform's headers, signed with ``secret``."""
    from events.connections.signing import signature_of

    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    signature = signature if signature is not None else signature_of(raw, secret)
    if platform == "shopify":
        headers = {"HTTP_X_SHOPIFY_TOPIC": topic, "HTTP_X_SHOPIFY_WEBHOOK_ID": delivery,
                   "HTTP_X_SHOPIFY_HMAC_SHA256": signature}
    else:
        headers = {"HTTP_X_WC_WEBHOOK_TOPIC": topic, "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery,
                   "HTTP_X_WC_WEBHOOK_SIGNATURE": signature}
    return Client(enforce_csrf_checks=True).post(f"/webhooks/{platform}/{slug}/", data=raw,
                                                 content_type="application/json", **headers)


def woo_order(order_id: int, customer_id: int, status: str, lines: list[tuple[int, int, int, str]], *,
              refunds: tuple[tuple[int, str], ...] = (), email: str = "john.doe@example.com",
              first_name: str = "John", modified: str = "2017-03-22T19:28:08") -> dict[str, Any]:
    """The documented example order (woocommerce_order_created) with another id, customer (0: a
    guest), status, lines ``(line id, product id, quantity, subtotal)`` and refunds ``(id, total)``."""
    order = copy.deepcopy(payload("woocommerce_order_created"))
    template = order["line_items"][0]
    order.update(id=order_id, number=str(order_id), customer_id=customer_id, status=status, discount_total="0.00",
                 coupon_lines=[],
                 date_modified_gmt=modified, refunds=[{"id": i, "reason": "", "total": t} for i, t in refunds],
                 line_items=[{**copy.deepcopy(template), "id": lid, "product_id": pid, "quantity": qty,
                              "subtotal": subtotal, "total": subtotal} for lid, pid, qty, subtotal in lines])
    order["billing"].update(email=email, first_name=first_name)
    return order


def woo_customer(customer_id: int, *, first_name: str, email: str, city: str, modified: str) -> dict[str, Any]:
    """The documented example customer (woocommerce_customer_updated) with another id and profile."""
    customer = payload("woocommerce_customer_updated")
    customer.update(id=customer_id, first_name=first_name, email=email, date_modified_gmt=modified)
    customer["billing"].update(first_name=first_name, email=email, city=city)
    return customer
