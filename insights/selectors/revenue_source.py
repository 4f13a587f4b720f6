"""Where the revenue figures come from (docs/trust.md#browser-reported-and-verified-orders): the
revenue source in force and, when it is ``verified``, the period's browser orders no verified order
confirms (they count nowhere): awaiting confirmation while their window is open, then unconfirmed.

Reads the period's browser purchase lines through their partial index (``event_browser_purchase_idx``),
each probing its order id's verified lines (``event_verified_order_idx``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import DateTimeField, Exists, ExpressionWrapper, Min, OuterRef
from django.utils import timezone

from events.models import Action, Event
from events.verification import AWAITING, BROWSER_NAMESPACE, confirmation_state, revenue_mode
from insights.filters import MetricFilter
from insights.order_store import VERIFIED_LINES, has_verified_orders


def _unconfirmed_orders(f: MetricFilter, window: dt.timedelta) -> list[dt.datetime]:
    """The first line time of each browser order of ``f``'s period no verified order confirms (an order
    id; lines without one: one order a client session)."""
    lines = Event.objects.filter(action=Action.PURCHASE, namespace=BROWSER_NAMESPACE)
    if not settings.METRICS_INCLUDE_BOTS:
        lines = lines.filter(is_bot=False)
    start, end = f.utc_bounds()
    if start is not None:
        lines = lines.filter(timestamp__gte=start)
    if end is not None:
        lines = lines.filter(timestamp__lt=end)
    deadline = ExpressionWrapper(OuterRef("timestamp") + window, output_field=DateTimeField())
    confirming = Event.objects.filter(VERIFIED_LINES, order_id=OuterRef("order_id"), timestamp__lte=deadline)
    lines = lines.annotate(confirmed=Exists(confirming)).filter(confirmed=False)
    with_id = lines.filter(order_id__isnull=False).values("order_id").annotate(first=Min("timestamp"))
    without = lines.filter(order_id__isnull=True).values("customer_id", "session_id").annotate(first=Min("timestamp"))
    return [row["first"] for row in (*with_id, *without)]


def revenue_source_stats(f: MetricFilter, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """``setting`` (REVENUE_SOURCE), ``mode`` in force (``verified`` | ``browser``), ``browser_reported``
    (the revenue counts browser purchases), ``awaiting`` and ``unconfirmed`` (browser orders of the
    period counted nowhere; 0 in browser mode), ``confirm_hours`` and ``note`` (a sentence, or None)."""
    setting = settings.REVENUE_SOURCE
    mode = revenue_mode(setting, has_verified_orders=setting == "auto" and has_verified_orders())
    hours = settings.BROWSER_ORDER_CONFIRM_HOURS
    awaiting = unconfirmed = 0
    if mode == "verified":
        window, now = dt.timedelta(hours=hours), now or timezone.now()
        for first in _unconfirmed_orders(f, window):
            if confirmation_state(first, now=now, window=window) == AWAITING:
                awaiting += 1
            else:
                unconfirmed += 1
    return {"setting": setting, "mode": mode, "browser_reported": mode == "browser", "awaiting": awaiting,
            "unconfirmed": unconfirmed, "confirm_hours": hours, "note": _note(mode, awaiting, unconfirmed, hours)}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _note(mode: str, awaiting: int, unconfirmed: int, hours: int) -> str | None:
    if mode == "browser":
        return ("Revenue is browser-reported: this store has no verified order source (a store connection, or "
                "purchases sent with a secret key), so purchases sent from web pages are counted as sent.")
    parts = []
    if unconfirmed:
        parts.append(f"{_plural(unconfirmed, 'browser order')} unconfirmed (not counted): no verified order "
                     f"had its id within {hours} h")
    if awaiting:
        parts.append(f"{_plural(awaiting, 'browser order')} awaiting confirmation (not counted yet)")
    return "; ".join(parts) + "." if parts else None
