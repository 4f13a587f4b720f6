"""The newest stored events (the live feed) and the filter bar's choices."""

from __future__ import annotations

from typing import Any

from customers.models import AgeGroup
from events.models import Action, Event
from insights.channels import CHANNELS
from insights.filters import RFM_SEGMENTS
from insights.selectors._common import as_money
from products.models import Product


def events_latest(limit: int = 20) -> list[dict[str, Any]]:
    """The newest stored events (no personal data beyond the store's customer id)."""
    rows = Event.objects.select_related("customer", "product").order_by("-id")[:limit]
    return [{"event_id": e.event_id, "customer_id": e.customer.external_id, "action": e.action,
             "product_title": e.product.title if e.product else None, "price": as_money(e.price),
             "quantity": e.quantity, "timestamp": e.timestamp.isoformat()} for e in rows]


def filter_choices() -> dict[str, list[str]]:
    return {
        "actions": list(Action.values),
        "age_groups": list(AgeGroup.values),
        "categories": list(Product.objects.exclude(category="").order_by("category")
                           .values_list("category", flat=True).distinct()),
        "segments": list(RFM_SEGMENTS),
        "channels": list(CHANNELS),
    }
