"""When customers shop: sums per UTC hour from the hourly rollups, bucketed in the store's time zone
(with a channel: its sessions' figures, by the session's start hour)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, Q, Sum

from insights.filters import MetricFilter, store_tz
from insights.labels import MONTHS, WEEKDAYS
from insights.models import EventHourly, SessionHourly
from insights.selectors._common import (
    MONEY_ACTIONS,
    as_count,
    as_money,
    hours_in_period,
    net_revenue_of,
    of_actions,
    of_channel,
)
from insights.stats import rate

SUMMED = ("events", "revenue", "sessions", "purchasing", "orders")
HOURS_A_WEEK = 168


def events_per_hour(f: MetricFilter, *, revenue: bool = True) -> list[tuple[dt.datetime, int, Any]]:
    """(UTC hour, events of the filter's actions, net revenue or None) in one pass over EventHourly; with a
    channel, the events and revenue less discounts of its sessions by their start hour (SessionHourly: no
    actions, so nothing with an action filter; refunds are not attributed to a channel)."""
    if f.channel:
        if f.actions:
            return []
        rows = of_channel(hours_in_period(SessionHourly.objects.all(), f), f).values("hour").annotate(
            n=Sum("events"), r=Sum(F("revenue") - F("discounts")))
        return [(row["hour"], row["n"], row["r"] if revenue else None) for row in rows]
    event_hours = hours_in_period(EventHourly.objects.all(), f)
    if not revenue:
        counts = of_actions(event_hours, f).values("hour").annotate(n=Sum("events")).values_list("hour", "n")
        return [(at, n, None) for at, n in counts]
    events = Sum("events", filter=Q(action__in=f.actions)) if f.actions else Sum("events")
    return list(event_hours.values("hour").annotate(n=events, r=net_revenue_of(Q(action__in=MONEY_ACTIONS)))
                .values_list("hour", "n", "r"))


class _WeekGrid:
    """Sums per weekday × local hour (168 cells) and per month, filled from UTC hours."""

    def __init__(self) -> None:
        self.tz = store_tz()
        self.slots: dict[dt.datetime, tuple[int, int]] = {}  # UTC hour → (weekday * 24 + local hour, month - 1)
        self.cells = {name: [0] * HOURS_A_WEEK for name in SUMMED}
        self.months = {name: [0] * 12 for name in SUMMED}

    def add(self, name: str, at: dt.datetime, value: Any) -> None:
        slot = self.slots.get(at)
        if slot is None:
            local = at.astimezone(self.tz)
            slot = self.slots[at] = (local.weekday() * 24 + local.hour, local.month - 1)
        self.cells[name][slot[0]] += value
        self.months[name][slot[1]] += value

    def cell(self, index: int) -> dict[str, Any]:
        return _metrics({name: self.cells[name][index] for name in SUMMED})

    def cells_sum(self, cells: range) -> dict[str, Any]:
        return _metrics({name: sum(self.cells[name][i] for i in cells) for name in SUMMED})

    def month(self, index: int) -> dict[str, Any]:
        return _metrics({name: self.months[name][index] for name in SUMMED})


def _metrics(sums: dict[str, Any]) -> dict[str, Any]:
    return {"events": as_count(sums["events"]), "sessions": as_count(sums["sessions"]),
            "orders": as_count(sums["orders"]), "revenue": as_money(sums["revenue"]),
            "conversion": rate(sums["purchasing"], sums["sessions"])}


def seasonality_stats(f: MetricFilter) -> dict[str, Any]:
    """Sums per UTC hour from the hourly rollups, bucketed in the store's time zone into a
    weekday × hour grid and months; the hour and weekday profiles are the grid's margins."""
    grid = _WeekGrid()
    for at, n, revenue in events_per_hour(f):
        grid.add("events", at, n or 0)
        grid.add("revenue", at, revenue or 0)
    session_hours = of_channel(hours_in_period(SessionHourly.objects.all(), f), f)
    for at, sessions, purchasing, orders in session_hours.values("hour").annotate(
            s=Sum("sessions"), p=Sum("purchasing_sessions"), o=Sum("orders")).values_list("hour", "s", "p", "o"):
        grid.add("sessions", at, sessions)
        grid.add("purchasing", at, purchasing)
        grid.add("orders", at, orders)
    out = {
        "time_zone": str(grid.tz),
        "hour": [{"hour": h, **grid.cells_sum(range(h, HOURS_A_WEEK, 24))} for h in range(24)],
        "weekday": [{"weekday": d, "label": WEEKDAYS[d], **grid.cells_sum(range(d * 24, d * 24 + 24))}
                    for d in range(7)],
        "month": [{"month": m, "label": MONTHS[m - 1], **grid.month(m - 1)} for m in range(1, 13)],
        "weekday_hour": [{"weekday": d, "hour": h, **grid.cell(d * 24 + h)}
                         for d in range(7) for h in range(24)],
    }
    if f.channel and f.actions:  # a channel's events are not kept by action (events_per_hour)
        for rows in out.values():
            for row in rows if isinstance(rows, list) else ():
                row["events"] = None
    return out
