"""KPI cards (plain data) and the events-over-time figure of the overview page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from insights.charts.common import build_figure, chart_layout, currency, date_axis, empty_figure, number
from insights.charts.palette import BLUE, GREEN

# --- KPI cards (plain data, not a figure) --------------------------------------------------

KPI_CARDS = [
    # key, label, format, higher is better
    ("events", "Events", "int", True),
    ("customers", "Active customers", "int", True),
    ("sessions", "Sessions", "int", True),
    ("revenue", "Net revenue", "money", True),  # gross − discounts − refunds (docs/money.md)
    ("gross_revenue", "Gross revenue", "money", True),
    ("discounts", "Discounts", "money", False),
    ("refunds", "Refunds", "money", False),
    ("orders", "Orders", "int", True),
    ("aov", "Average order value", "money", True),
    ("cart_conversion_rate", "Cart conversion", "percent", True),
    ("cart_abandonment_rate", "Cart abandonment", "percent", False),
    ("session_conversion_rate", "Session conversion", "percent", True),
    ("avg_clv", "Average CLV", "money", True),
]


def format_value(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "money":
        return f"{currency()}{float(value):,.2f}"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    return str(value)


def _no_comparison(comparison: Mapping[str, Any]) -> str:
    """'no comparison: data starts 20 Nov 2026' (or the selector's reason)."""
    starts = comparison.get("data_starts")
    if starts:
        day = dt.date.fromisoformat(str(starts))
        return f"no comparison: data starts {day.day} {day:%b %Y}"
    reason = comparison.get("reason")
    return f"no comparison: {reason}" if reason else "no comparison"


def kpi_cards(kpis: Mapping[str, Any]) -> list[dict[str, Any]]:
    """KPI cards with the change against the previous period, where the data can support one.

    ``change`` is relative for counts and money (0.12 = +12 %) and in percentage points for rates;
    ``good`` says whether the change is an improvement (abandonment going down is good). A change is
    given only when ``kpis["previous"]["comparison"]["available"]`` (selectors.previous_period_comparison:
    the history covers the previous period; absent means no), never as a percentage of zero and never
    against a missing value: ``note`` then says plainly why there is none ("no comparison: data starts
    20 Nov 2026", "$0.00 in prev. period", "none in prev. period").
    """
    previous: Mapping[str, Any] = kpis.get("previous") or {}
    comparison: Mapping[str, Any] = previous.get("comparison") or {}
    comparable = bool(comparison.get("available"))
    cards = []
    for key, label, kind, higher_is_better in KPI_CARDS:
        value = kpis.get(key)
        before = previous.get(key)
        change: float | None = None
        change_text = note = ""
        if not comparable:
            note = _no_comparison(comparison)
        elif before is None:
            note = "none in prev. period" if value is not None else ""
        elif value is None:
            note = f"{format_value(before, kind)} in prev. period"
        elif kind == "percent":
            change = float(value) - float(before)
            change_text = f"{change * 100:+.1f} pp"
        elif float(before) != 0:
            change = (float(value) - float(before)) / abs(float(before))
            change_text = f"{change * 100:+.0f}%"
        else:  # no percentage of zero
            note = f"{format_value(before, kind)} in prev. period"
        direction = "flat" if not change else ("up" if change > 0 else "down")
        good = None if not change else ((change > 0) == higher_is_better)
        cards.append({
            "key": key, "label": label, "kind": kind, "value": value, "display": format_value(value, kind),
            "previous_display": format_value(before, kind) if comparable else "—", "change": change,
            "change_text": change_text, "note": note, "direction": direction, "good": good,
        })
    return cards


# --- overview ------------------------------------------------------------------------------

def events_over_time_figure(series: Mapping[str, Any]) -> go.Figure:
    points = series.get("points") or []
    if not points or not any(number(p.get("events")) for p in points):
        return empty_figure("No events in this period yet")
    xs = [p["t"] for p in points]
    traces: list[dict[str, Any]] = [
        {"type": "bar", "x": xs, "y": [number(p.get("events")) for p in points], "name": "Events",
         "marker": {"color": BLUE}, "opacity": 0.85, "hovertemplate": "%{x}<br>%{y:,} events<extra></extra>"},
        {"type": "scatter", "x": xs, "y": [number(p.get("revenue")) for p in points], "name": "Net revenue",
         "yaxis": "y2", "mode": "lines", "line": {"color": GREEN, "width": 2},
         "hovertemplate": "%{x}<br>net " + currency() + "%{y:,.2f}<extra></extra>"},
    ]
    if any(p.get("gross_revenue") not in (None, p.get("revenue")) for p in points):  # discounts or refunds: both lines
        traces.append({"type": "scatter", "x": xs, "y": [number(p.get("gross_revenue")) for p in points],
                       "name": "Gross revenue", "yaxis": "y2", "mode": "lines",
                       "line": {"color": GREEN, "width": 1, "dash": "dot"},
                       "hovertemplate": "%{x}<br>gross " + currency() + "%{y:,.2f}<extra></extra>"})
    return build_figure(traces, chart_layout(
        y_title="Events", legend=True, margin={"r": 64}, xaxis=date_axis(xs),
        yaxis2={"title": {"text": "Revenue"}, "overlaying": "y", "side": "right", "showgrid": False,
                "tickprefix": currency(), "tickformat": ",.0f", "rangemode": "tozero"}))
