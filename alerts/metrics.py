"""The hourly metrics an alert rule can watch and what each is made of (docs/alerts-and-reports.md#metrics).
PURE.

A point of a series is ``(value, volume)``: for a rate, the rate and its denominator; for a count or an
amount, the value and the value again. An hour with no rollup row is absent from the series: no data,
never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# How soon an hour of a metric is final: "live" figures are counted as events are stored; "session"
# figures come from derived sessions, placed by the session's start, and change until those sessions
# end (docs/metrics.md#sessions).
LIVE, SESSION = "live", "session"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    rate: bool
    grain: str  # LIVE or SESSION, without a channel (a channel's figures are always session-grained)
    unit: str  # "count", "money" or "rate"


METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("events", "Events", rate=False, grain=LIVE, unit="count"),
    Metric("orders", "Orders", rate=False, grain=SESSION, unit="count"),
    Metric("net_revenue", "Net revenue", rate=False, grain=LIVE, unit="money"),
    Metric("session_conversion", "Session conversion rate", rate=True, grain=SESSION, unit="rate"),
    Metric("cart_abandonment", "Cart abandonment rate", rate=True, grain=SESSION, unit="rate"),
)}
METRIC_CHOICES = [(m.key, m.label) for m in METRICS.values()]


def grain_of(metric: str, channel: str) -> str:
    return SESSION if channel else METRICS[metric].grain


def point(metric: str, row: Mapping[str, float]) -> tuple[float, float] | None:
    """One hour's ``(value, volume)`` from the summed rollup counters ``row`` (None: no data)."""
    if metric == "session_conversion":
        sessions = row.get("sessions") or 0
        return (row.get("purchasing_sessions", 0) / sessions, sessions) if sessions else None
    if metric == "cart_abandonment":
        finished = sum(row.get(n) or 0 for n in ("carts_converted", "carts_abandoned", "carts_emptied"))
        return (row.get("carts_abandoned", 0) / finished, finished) if finished else None
    if metric == "net_revenue":
        value = (row.get("revenue") or 0) - (row.get("discounts") or 0) - (row.get("refunds") or 0)
        return float(value), float(value)
    value = float(row.get(metric) or 0)
    return value, value


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    unit = METRICS[metric].unit
    if unit == "rate":
        return f"{value:.1%}"
    if unit == "money":
        return f"{value:,.2f}"
    return f"{value:,.0f}"
