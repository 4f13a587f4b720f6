"""Plain data passed between the ingest service and its consumers (metrics, broadcasts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as just stored by the ingest service (only newly stored ones, never duplicates)."""

    pk: int
    event_id: str
    customer_pk: int
    product_pk: int | None
    session_id: str
    action: str
    quantity: int
    price: Decimal
    order_id: str | None
    timestamp: datetime
