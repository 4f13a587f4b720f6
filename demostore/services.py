"""Writes for the demo store: the public key it is instrumented with, and the orders its checkout
reports from the server side, as a real shop's backend does (docs/trust.md#browser-reported-and-verified-orders)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from demostore.selectors import KEY_NAME
from events.models import IngestKey
from events.services import events_ingest, ingest_key_create, source_server
from events.services.public_keys import origins_normalize
from products.models import Product

MAX_LINES = 50
MAX_QUANTITY = 99


class DemoOrderError(ValueError):
    """The order cannot be placed (the message says why)."""


@dataclass(frozen=True)
class DemoLine:
    product_id: str
    quantity: int


@transaction.atomic
def demo_store_key_ensure(*, origins: Sequence[str]) -> tuple[IngestKey, bool]:
    """The demo store's public key, allowed from ``origins`` (added to the ones it has); created when
    missing. Returns the key and whether it was created."""
    key = (IngestKey.objects.select_for_update()
           .filter(name=KEY_NAME, kind=IngestKey.Kind.PUBLIC, is_active=True).order_by("-id").first())
    if key is None:
        key, _ = ingest_key_create(name=KEY_NAME, public=True, origins=origins)
        return key, True
    wanted = list(dict.fromkeys([*key.allowed_origins, *origins_normalize(origins)]))
    if wanted != key.allowed_origins:
        key.allowed_origins = wanted
        key.save(update_fields=["allowed_origins"])
    return key, False


def demo_order_place(*, customer_id: str, lines: Sequence[DemoLine], session_id: str = "") -> str:
    """Place a demo order: priced from the catalogue (never from what the browser says) and reported
    through the ingest service as store-level server code (namespace ``server``), so it is the
    verified order the browser's purchase of the same id is matched to. Returns the order id."""
    customer_id = customer_id.strip()
    if not customer_id or len(customer_id) > 100:
        raise DemoOrderError("log in to place an order")
    if not lines or len(lines) > MAX_LINES:
        raise DemoOrderError(f"an order has 1 to {MAX_LINES} lines")
    if any(not 1 <= line.quantity <= MAX_QUANTITY for line in lines):
        raise DemoOrderError(f"a quantity is 1 to {MAX_QUANTITY}")
    products = Product.objects.in_bulk([line.product_id for line in lines], field_name="external_id")
    missing = sorted({line.product_id for line in lines} - products.keys())
    if missing:
        raise DemoOrderError(f"no such product: {', '.join(missing)}")
    order_id = f"demo-{secrets.token_hex(6)}"
    now = timezone.now().isoformat()
    events = [{"event_id": f"{order_id}:line:{n}", "customer_id": customer_id, "action": "purchase",
               "product_id": line.product_id, "product_price": str(products[line.product_id].price),
               "quantity": line.quantity, "order_id": order_id, "timestamp": now,
               **({"session_id": session_id[:100]} if session_id else {})}
              for n, line in enumerate(lines)]
    result = events_ingest(raw_events=events, source=source_server())
    if result.rejected:
        raise DemoOrderError(f"the order was refused: {result.rejected[0]['errors']}")
    return order_id
