"""Honesty about the figures: what a period may be compared with, and how fresh the derived figures are."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from events.models import Action, Event, ExchangeRate
from insights.filters import MetricFilter, store_today, store_tz
from insights.models import EventDaily, PendingWindow
from insights.selectors._common import as_count

FRESHNESS_GRACE_SECONDS = 10  # live derivation runs every 2 s: a lag under this is normal, not news


def data_first_day() -> dt.date | None:
    """The store day of the oldest stored event (the first key of the day × action rollup's index)."""
    return EventDaily.objects.aggregate(first=Min("day"))["first"]


def previous_period_comparison(f: MetricFilter) -> dict[str, Any]:
    """Whether ``f``'s period may be compared with the period of equal length before it: only when the
    stored history covers that previous period from its first day. The one rule behind the KPI cards'
    deltas, the API's ``previous.comparison`` and the insights' revenue trend: a history that starts
    inside (or after) the previous period would make any store look like it is booming.

    ``{"available": bool, "reason": str | None, "data_starts": "YYYY-MM-DD" | None}``."""
    if not f.has_range:
        return {"available": False, "reason": "no previous period for an open date range", "data_starts": None}
    first = data_first_day()
    if first is None:
        return {"available": False, "reason": "no data yet", "data_starts": None}
    previous_start = f.previous().start
    assert previous_start is not None
    if first > previous_start:
        return {"available": False, "reason": f"data starts {first.isoformat()}", "data_starts": first.isoformat()}
    return {"available": True, "reason": None, "data_starts": first.isoformat()}


def derivation_status() -> dict[str, Any]:
    """Events stored but not yet derived into sessions and carts (``PendingWindow``, queued by the ingest
    transaction, drained by ``process_pending_analytics_task``). Event counts and revenue are live;
    sessions, carts, orders, funnel and conversion include every event received before
    ``derived_through`` (the oldest queued batch) and none of the ``pending_events`` after it.

    The counts are exact whenever anything waits; ``message`` (what pages show) is set only once the
    oldest batch has waited ``FRESHNESS_GRACE_SECONDS``, so live traffic, derived within seconds, does
    not make the banner blink. Windows set aside because their derivation failed (``insights.set_aside``:
    retried with backoff, listed in admin) are not waiting in the queue: they are counted apart
    (``set_aside_windows``) and the message says so at once. One aggregate over the queue (a few rows;
    hundreds after a bulk load): cheap enough for every page, API answer and dashboard push."""
    queued, aside = Q(attempts=0), Q(attempts__gt=0)
    row = PendingWindow.objects.aggregate(events=Sum("events", filter=queued), batches=Count("id", filter=queued),
                                          oldest=Min("created_at", filter=queued), aside=Count("id", filter=aside))
    batches, set_aside = as_count(row["batches"]), as_count(row["aside"])
    notes = [set_aside_note(set_aside)] if set_aside else []
    if not batches:
        return {"pending_events": 0, "pending_batches": 0, "derived_through": None, "lag_seconds": 0,
                "set_aside_windows": set_aside, "message": " ".join(notes) or None}
    events = as_count(row["events"])
    oldest: dt.datetime = row["oldest"]
    lag = max(0, int((timezone.now() - oldest).total_seconds()))
    if lag >= FRESHNESS_GRACE_SECONDS:
        local = oldest.astimezone(store_tz())
        when = f"{local:%H:%M %Z}" if local.date() == store_today() else f"{local.day} {local:%b %H:%M %Z}"
        waiting = f"{events:,} events being processed" if events else f"{batches:,} batches of events being processed"
        notes.insert(0, f"Sessions, carts and orders include events received up to {when}; {waiting}.")
    return {"pending_events": events, "pending_batches": batches, "derived_through": oldest.isoformat(),
            "lag_seconds": lag, "set_aside_windows": set_aside, "message": " ".join(notes) or None}


def set_aside_note(n: int) -> str:
    """The banner's words for ``n`` windows set aside."""
    return f"{n:,} {'window' if n == 1 else 'windows'} could not be derived: see admin (retried automatically)."


def bot_events_excluded() -> int:
    """Events flagged as a known bot's (events/bots.py) and so left out of every figure; 0 when
    METRICS_INCLUDE_BOTS counts them. A count over a partial index of the flagged rows."""
    if settings.METRICS_INCLUDE_BOTS:
        return 0
    return Event.objects.filter(is_bot=True).count()


def sample_rates_note(f: MetricFilter) -> str | None:
    """When order lines of ``f``'s period sent in another currency were converted with the sample
    exchange rates shipped with the project (``ExchangeRate.is_sample``: generated, not published),
    a sentence saying so; else None. Nothing is read from the events unless sample rates are stored
    (a demo); then a look-up of the period's order lines through their partial index
    (``event_order_line_ts_idx``) that stops at the first converted one."""
    samples = set(ExchangeRate.objects.filter(is_sample=True).values_list("currency", flat=True).distinct())
    if not samples:
        return None
    lines = Event.objects.filter(action=Action.PURCHASE, order_id__isnull=False, fx_rate__isnull=False)
    if settings.STORE_CURRENCY not in samples:  # a rate of the event's currency was a sample
        lines = lines.filter(currency__in=samples)
    start, end = f.utc_bounds()
    if start is not None:
        lines = lines.filter(timestamp__gte=start)
    if end is not None:
        lines = lines.filter(timestamp__lt=end)
    if not lines.exists():
        return None
    return ("Amounts sent in other currencies were converted with the sample exchange rates shipped with the "
            "project (generated, not the ECB's): import the ECB's rates (manage.py import_rates FILE) for real "
            "conversions.")
