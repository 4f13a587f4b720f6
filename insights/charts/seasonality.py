"""Seasonality figures: bars by hour, weekday or month, and the weekday × hour heatmap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from insights.charts.common import build_figure, chart_layout, empty_figure, number, rate_or_none
from insights.charts.palette import BLUE, GREEN, METRICS
from insights.labels import MONTHS, WEEKDAYS


def seasonality_figure(stats: Mapping[str, Any], dimension: str, metric: str = "events") -> go.Figure:
    """Bars of ``metric`` by ``dimension`` (hour, weekday or month)."""
    rows = stats.get(dimension) or []
    if not rows or not any(number(r.get("events")) for r in rows):
        return empty_figure("No events in this period yet", height=280)
    if dimension == "hour":
        xs: list[Any] = [f"{int(r['hour']):02d}" for r in rows]
    elif dimension == "weekday":
        xs = [r.get("label") or WEEKDAYS[int(r["weekday"])] for r in rows]
    else:
        xs = [r.get("label") or MONTHS[int(r["month"]) - 1] for r in rows]
    ys = [rate_or_none(r.get(metric)) if metric == "conversion" else number(r.get(metric)) for r in rows]
    fmt = ".1%" if metric == "conversion" else ","
    trace = {"type": "bar", "x": xs, "y": ys, "marker": {"color": BLUE if metric != "revenue" else GREEN},
             "hovertemplate": "%{x}: %{y:" + fmt + "}<extra></extra>"}
    x_title = f"Hour of day ({stats.get('time_zone', 'UTC')})" if dimension == "hour" else None
    return build_figure([trace], chart_layout(
        height=280, y_title=METRICS.get(metric, metric), percent=metric == "conversion", money=metric == "revenue",
        x_title=x_title, xaxis={"type": "category"}))


def heatmap_figure(stats: Mapping[str, Any], metric: str = "events") -> go.Figure:
    rows = stats.get("weekday_hour") or []
    if not rows or not any(number(r.get("events")) for r in rows):
        return empty_figure("No events in this period yet", height=340)
    z: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    for r in rows:
        value = r.get(metric)
        z[int(r["weekday"])][int(r["hour"])] = rate_or_none(value) if metric == "conversion" else number(value)
    fmt = ".1%" if metric == "conversion" else ","
    trace = {"type": "heatmap", "z": z, "x": [f"{h:02d}" for h in range(24)], "y": WEEKDAYS, "colorscale": "Blues",
             "hoverongaps": False, "hovertemplate": "%{y} %{x}:00 — %{z:" + fmt + "}<extra></extra>",
             "colorbar": {"tickformat": ".0%" if metric == "conversion" else ",", "thickness": 12}}
    return build_figure([trace], chart_layout(
        height=340, x_title=f"Hour of day ({stats.get('time_zone', 'UTC')})",
        xaxis={"gridcolor": "rgba(0,0,0,0)", "type": "category"},
        yaxis={"autorange": "reversed", "rangemode": "normal", "gridcolor": "rgba(0,0,0,0)", "type": "category"}))


def seasonality_page_figures(stats: Mapping[str, Any], metric: str) -> dict[str, go.Figure]:
    """The seasonality page's charts of ``metric``: by hour, weekday and month, and the heatmap."""
    figures = {dimension: seasonality_figure(stats, dimension, metric) for dimension in ("hour", "weekday", "month")}
    figures["heatmap"] = heatmap_figure(stats, metric)
    return figures
