"""Events, orders and revenue over time: per hour for a period of up to two days, else per day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import QuerySet, Sum

from insights.filters import MetricFilter, store_tz
from insights.models import EventHourly, SessionHourly
from insights.selectors._common import (
    MONEY_ACTIONS,
    as_count,
    as_money,
    channel_cut,
    channel_unknowns,
    customer_days,
    event_days,
    hours_in_period,
    net_revenue,
    of_actions,
    of_channel,
    session_days,
)
from insights.selectors.rfm import segment_customer_pks
from insights.selectors.segment_days import segment_days, segment_rollup_applies

HOURLY_MAX_DAYS = 2

Points = dict[Any, dict[str, Any]]


def _empty_points() -> Points:
    return defaultdict(lambda: {"events": 0, "orders": 0, "revenue": 0, "gross_revenue": 0})


def _series(points: Points, label: Any, unknown: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Points; ``revenue`` is net (docs/money.md), ``gross_revenue`` beside it; ``unknown`` figures are
    None (``_channel_unknown``)."""
    series = [{"t": label(t), "events": as_count(p["events"]), "orders": as_count(p["orders"]),
               "revenue": as_money(p["revenue"]), "gross_revenue": as_money(p["gross_revenue"])}
              for t, p in sorted(points.items())]
    for point in series:
        point.update(dict.fromkeys(unknown))
    return series


def _channel_unknown(f: MetricFilter) -> tuple[str, ...]:
    """What a channel's points cannot say (``channel_unknowns``; a point's revenue is net). A segment's
    points ignore the channel (``insights.selectors.channel_scope``), so know everything."""
    return () if f.segment else tuple(sorted(channel_unknowns(f) & {"events", "revenue"}))


def _channel_points(rows: QuerySet, at: str) -> Points:
    """Points from a session rollup of the filter's channel (by the session's start): its sessions'
    events, orders and revenue less discounts (refunds are not attributed to a channel)."""
    points = _empty_points()
    for row in rows.values(at).annotate(n=Sum("events"), o=Sum("orders"), g=Sum("revenue"), d=Sum("discounts")):
        points[row[at]].update(events=row["n"], orders=row["o"], gross_revenue=row["g"],
                               revenue=(row["g"] or 0) - (row["d"] or 0))
    return points


def _hourly_points(f: MetricFilter) -> Points:
    if f.channel:
        points = _channel_points(of_channel(hours_in_period(SessionHourly.objects.all(), f), f), "hour")
        return _fill_hours(points, f)
    points = _empty_points()
    event_hours = hours_in_period(EventHourly.objects.all(), f)
    for row in of_actions(event_hours, f).values("hour").annotate(n=Sum("events")):
        points[row["hour"]]["events"] = row["n"]
    for row in event_hours.filter(action__in=MONEY_ACTIONS).values("hour").annotate(r=net_revenue(),
                                                                                      g=Sum("revenue")):
        points[row["hour"]].update(revenue=row["r"], gross_revenue=row["g"])
    for row in hours_in_period(SessionHourly.objects.all(), f).values("hour").annotate(
            o=Sum("orders")):
        points[row["hour"]]["orders"] = row["o"]
    return _fill_hours(points, f)


def _fill_hours(points: Points, f: MetricFilter) -> Points:
    lo, hi = f.utc_bounds()
    assert lo is not None and hi is not None
    hour = lo.astimezone(dt.UTC)
    while hour < hi:
        points[hour]  # noqa: B018 - fill empty hours
        hour += dt.timedelta(hours=1)
    return points


def _daily_points(f: MetricFilter) -> Points:
    points = _empty_points()
    segment_pks = segment_customer_pks(f)
    f = channel_cut(f, segment_pks)
    if f.channel:
        points = _channel_points(session_days(f), "day")
    elif segment_pks is not None:
        days = segment_days(f) if segment_rollup_applies(f) else customer_days(f, segment_pks)
        for row in days.values("day").annotate(n=Sum("events"), r=net_revenue(),
                                                                         g=Sum("revenue"), o=Sum("orders")):
            points[row["day"]].update(events=row["n"], revenue=row["r"], gross_revenue=row["g"], orders=row["o"])
    else:
        events = event_days(f)
        for row in of_actions(events, f).values("day").annotate(n=Sum("events")):
            points[row["day"]]["events"] = row["n"]
        for row in events.filter(action__in=MONEY_ACTIONS).values("day").annotate(r=net_revenue(), g=Sum("revenue")):
            points[row["day"]].update(revenue=row["r"], gross_revenue=row["g"])
        for row in session_days(f).values("day").annotate(o=Sum("orders")):
            points[row["day"]]["orders"] = row["o"]
    if f.start is not None and f.end is not None:
        day = f.start
        while day <= f.end:
            points[day]  # noqa: B018 - fill empty days
            day += dt.timedelta(days=1)
    return points


def events_timeseries(f: MetricFilter) -> dict[str, Any]:
    """``{"grain": "hour" | "day", "points": [{"t", "events", "orders", "revenue"}, ...]}``: hourly
    (store time) for a period of up to ``HOURLY_MAX_DAYS`` without a category or segment (the hourly
    rollups have neither), else daily."""
    if f.days is not None and f.days <= HOURLY_MAX_DAYS and not f.category and not f.segment:
        tz = store_tz()
        return {"grain": "hour", "points": _series(_hourly_points(f), lambda hour: hour.astimezone(tz).isoformat(),
                                                   _channel_unknown(f))}
    return {"grain": "day", "points": _series(_daily_points(f), lambda day: day.isoformat(), _channel_unknown(f))}
