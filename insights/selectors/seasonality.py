"""When customers shop: sums per UTC hour from the hourly rollups, bucketed in the store's time zone
(with a channel: its sessions' figures, by the session's start hour); whole closed months from their copy
by local weekday and hour (``insights.month_copies``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Aggregate, F, Q, QuerySet, Sum

from insights.copy_models import ALL
from insights.filters import MetricFilter, store_tz
from insights.labels import MONTHS, WEEKDAYS
from insights.month_copies import SOURCES
from insights.selectors._common import (
    MONEY_ACTIONS,
    as_count,
    as_money,
    copied_months,
    net_revenue,
    net_revenue_of,
    of_actions,
    of_age_group,
    of_channel,
    outside_copies,
)
from insights.stats import rate

SUMMED = ("events", "revenue", "sessions", "purchasing", "orders")
HOURS_A_WEEK = 168


Narrow = Callable[[QuerySet], QuerySet]


def _same(qs: QuerySet) -> QuerySet:
    return qs


@dataclass(frozen=True)
class SlotRead:
    """What to sum per slot: from ``source``'s hourly rows (cut by ``narrow``, summed as ``sums``) and from
    its month copy (``copy_narrow`` takes the rows of the same cut: ``ALL`` for a key not filtered on)."""

    source: str
    narrow: Narrow
    sums: Mapping[str, Aggregate]
    copy_narrow: Narrow
    copy_sums: Mapping[str, Aggregate]


def _channel_read(f: MetricFilter, sums: Mapping[str, Aggregate]) -> SlotRead:
    """The session rollup's ``sums``, of the filter's channel (all without one)."""
    return SlotRead("sessions", lambda qs: of_channel(qs, f), sums,
                    lambda qs: qs.filter(channel=f.channel or ALL), sums)


def _event_read(f: MetricFilter, *, revenue: bool) -> SlotRead | None:
    """What seasonality sums of the events, per slot: ``n``, the events of the filter's actions, and
    (``revenue``) ``r``, the net revenue, in one pass over the event rollup; with a channel, the events and
    revenue less discounts of its sessions by their start hour (the session rollup: no actions, so None
    with an action filter; refunds are not attributed to a channel)."""
    if f.channel:
        if f.actions:
            return None
        return _channel_read(f, {"n": Sum("events"), **({"r": Sum(F("revenue") - F("discounts"))} if revenue else {})})
    if not revenue:
        return SlotRead("events", lambda qs: of_actions(qs, f), {"n": Sum("events")},
                        lambda qs: qs.filter(action__in=f.actions) if f.actions else qs.filter(action=ALL),
                        {"n": Sum("events")})
    money = net_revenue_of(Q(action__in=MONEY_ACTIONS))
    if f.actions:
        sums = {"n": Sum("events", filter=Q(action__in=f.actions)), "r": money}
        return SlotRead("events", _same, sums, lambda qs: qs.exclude(action=ALL), sums)
    return SlotRead("events", _same, {"n": Sum("events"), "r": money}, lambda qs: qs.filter(action=ALL),
                    {"n": Sum("events"), "r": net_revenue()})  # the copy's ALL rows hold only money events' money


def slot_sums(f: MetricFilter, read: SlotRead) -> list[tuple[Any, ...]]:
    """(weekday 0–6 from Monday, hour, month 1–12, *sums) in the store's time zone over the filter's days
    and age group and the ``read``'s cut: whole copied months from the month copy, the rest from the
    hourly rows (``insights.month_copies``)."""
    hourly, copy = SOURCES[read.source].table, SOURCES[read.source].copy
    months = copied_months(read.source, f)
    hours = outside_copies(read.source, f, months)
    rows = [] if hours is None else by_local_slot(
        read.narrow(of_age_group(hourly._default_manager.filter(hours), f)).values("hour").annotate(**read.sums),
        list(read.sums))
    if not months:
        return rows
    slots = {tuple(row[:3]): list(row[3:]) for row in rows}
    copied = read.copy_narrow(copy._default_manager.filter(month__in=[m for m, _, _ in months],
                                                          age_group=f.age_group or ALL))
    for row in copied.values("weekday", "hour", "month").annotate(**read.copy_sums):
        totals = slots.setdefault((row["weekday"], row["hour"], row["month"].month), [None] * len(read.copy_sums))
        for i, name in enumerate(read.copy_sums):
            if row[name] is not None:
                totals[i] = row[name] if totals[i] is None else totals[i] + row[name]
    return [(*slot, *totals) for slot, totals in slots.items()]


def by_local_slot(hours: QuerySet, sums: Sequence[str]) -> list[tuple[Any, ...]]:
    """(weekday 0–6 from Monday, hour, month 1–12, *``sums``) in the store's time zone, from a per-UTC-hour
    ``values("hour")`` queryset annotated with ``sums``. PostgreSQL buckets the hours where they are
    (``AT TIME ZONE``: a year is 8,760 hours); elsewhere each hour is converted here."""
    tz = store_tz()
    if connection.vendor == "postgresql":
        inner, params = hours.query.sql_with_params()
        local = ("CAST(EXTRACT(ISODOW FROM t) AS integer) - 1, CAST(EXTRACT(HOUR FROM t) AS integer), "
                 "CAST(EXTRACT(MONTH FROM t) AS integer)")
        columns = ", ".join(f"x.{c}" for c in sums)
        sql = (f"SELECT {local}, {', '.join(f'SUM({c})' for c in sums)} FROM (SELECT x.hour AT TIME ZONE %s AS t, "
               f"{columns} FROM ({inner}) x) y GROUP BY 1, 2, 3")
        with connection.cursor() as cur:
            cur.execute(sql, [str(tz), *params])
            return cur.fetchall()
    slots: dict[tuple[int, int, int], list[Any]] = {}
    for row in hours:
        local = row["hour"].astimezone(tz)
        totals = slots.setdefault((local.weekday(), local.hour, local.month), [0] * len(sums))
        for i, c in enumerate(sums):
            totals[i] += row[c] or 0
    return [(*slot, *totals) for slot, totals in slots.items()]


def events_by_slot(f: MetricFilter, *, revenue: bool = True) -> list[tuple[int, int, int, int, Any]]:
    """(local weekday, hour, month, events of the filter's actions, net revenue or None) in store time
    (``_event_read``: with a channel, its sessions' figures)."""
    read = _event_read(f, revenue=revenue)
    if read is None:
        return []
    return [(weekday, hour, month, int(n or 0), r[0] if r else None)
            for weekday, hour, month, n, *r in slot_sums(f, read)]


class _WeekGrid:
    """Sums per weekday × local hour (168 cells) and per month."""

    def __init__(self) -> None:
        self.tz = store_tz()
        self.cells = {name: [0] * HOURS_A_WEEK for name in SUMMED}
        self.months = {name: [0] * 12 for name in SUMMED}

    def add(self, name: str, weekday: int, hour: int, month: int, value: Any) -> None:
        value = (value or 0) if name == "revenue" else int(value or 0)  # PostgreSQL sums counts as numeric
        self.cells[name][weekday * 24 + hour] += value
        self.months[name][month - 1] += value

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
    """Sums of the hourly rollups bucketed in the store's time zone into a weekday × hour grid and
    months (``by_local_slot``); the hour and weekday profiles are the grid's margins."""
    grid = _WeekGrid()
    for weekday, hour, month, n, revenue in events_by_slot(f):
        grid.add("events", weekday, hour, month, n)
        grid.add("revenue", weekday, hour, month, revenue)
    session_read = _channel_read(f, {"s": Sum("sessions"), "p": Sum("purchasing_sessions"), "o": Sum("orders")})
    for weekday, hour, month, sessions, purchasing, orders in slot_sums(f, session_read):
        grid.add("sessions", weekday, hour, month, sessions)
        grid.add("purchasing", weekday, hour, month, purchasing)
        grid.add("orders", weekday, hour, month, orders)
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
