"""The dashboard's live feed: after an ingest commits, a summary of what it stored goes to the
dashboard group (``settings.DASHBOARD_GROUP``) on the channel layer. Best effort: a channel layer
that is down never fails an ingest."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction

from events.wire import NativeEvent

logger = logging.getLogger(__name__)

BROADCAST_EVENTS = 20  # the newest events a message shows


def dashboard_message(rows: Sequence[tuple[NativeEvent, str | None, Decimal]]) -> dict[str, Any]:
    """The group message for stored events, as (event, its product's title, price stored)."""
    newest = heapq.nlargest(BROADCAST_EVENTS, rows, key=lambda r: r[0].timestamp)
    return {
        "type": "dashboard.events",
        "accepted": len(rows),
        "events": [
            {"event_id": e.event_id, "customer_id": e.customer_id, "action": e.action,
             "product_id": e.product_id, "product_title": title, "price": float(price),
             "quantity": e.quantity, "timestamp": e.timestamp.isoformat()}
            for e, title, price in newest
        ],
    }


def dashboard_send(message: dict[str, Any]) -> None:
    """Send now. A channel layer that is down must not fail the ingest: log and go on."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(settings.DASHBOARD_GROUP, message)
    except Exception:  # noqa: BLE001 - broadcast is best effort; the events are committed
        logger.exception("dashboard broadcast failed")


def dashboard_send_on_commit(rows: Sequence[tuple[NativeEvent, str | None, Decimal]]) -> None:
    """Tell open dashboards about these stored events once the transaction commits."""
    message = dashboard_message(rows)
    transaction.on_commit(lambda: dashboard_send(message))
