"""Cart figures: closed carts over time, abandoned cart values and rates with intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from insights.charts.common import (
    Row,
    bucket_bars_figure,
    build_figure,
    chart_layout,
    date_axis,
    empty_figure,
    interval_bars,
    number,
    rate_or_none,
)
from insights.charts.palette import GREEN, GREY, ORANGE, RED


def carts_over_time_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = stats.get("over_time") or []
    if not rows or not any(number(r.get("converted")) + number(r.get("abandoned")) + number(r.get("emptied"))
                           for r in rows):
        return empty_figure("No closed carts in this period yet")
    xs = [r["t"] for r in rows]
    traces: list[dict[str, Any]] = [
        {"type": "bar", "x": xs, "y": [number(r.get(key)) for r in rows], "name": name, "marker": {"color": colour},
         "opacity": 0.8, "hovertemplate": "%{x}: %{y:,}<extra>" + name + "</extra>"}
        for key, name, colour in (("converted", "Converted", GREEN), ("abandoned", "Abandoned", RED),
                                  ("emptied", "Emptied", GREY))
    ]
    traces.append({"type": "scatter", "x": xs, "y": [rate_or_none(r.get("abandonment_rate")) for r in rows],
                   "name": "Abandonment rate", "yaxis": "y2", "mode": "lines+markers",
                   "line": {"color": "#1d2433", "width": 2},
                   "hovertemplate": "%{x}: %{y:.1%}<extra>abandonment rate</extra>"})
    return build_figure(traces, chart_layout(
        y_title="Carts", legend=True, barmode="stack", margin={"r": 64}, xaxis=date_axis(xs),
        yaxis2={"title": {"text": "Abandonment rate"}, "overlaying": "y", "side": "right", "tickformat": ".0%",
                "range": [0, 1.02], "tickmode": "linear", "tick0": 0, "dtick": 0.25, "showgrid": False}))


def cart_value_figure(stats: Mapping[str, Any]) -> go.Figure:
    return bucket_bars_figure(stats.get("value_distribution") or [], "carts", colour=ORANGE, unit="carts",
                              x_title="Cart value", empty="No abandoned carts in this period")


def rate_interval_figure(rows: Sequence[Row], key: str, *, title: str = "Abandonment rate (95% interval)") -> go.Figure:
    """Rates per group (age group, category) with Wilson interval bars."""
    rows = [r for r in rows if r.get("carts")]
    if not rows:
        return empty_figure("No closed carts for these filters")
    trace = interval_bars(rows, key, "rate", RED)
    trace["customdata"] = [[r.get("abandoned", 0), r.get("carts", 0)] for r in rows]
    trace["hovertemplate"] = "%{x}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,} carts)<extra></extra>"
    return build_figure([trace], chart_layout(y_title=title, percent=True, xaxis={"type": "category"}))


def carts_page_figures(stats: Mapping[str, Any]) -> dict[str, go.Figure]:
    return {"over_time": carts_over_time_figure(stats), "value": cart_value_figure(stats),
            "by_age_group": rate_interval_figure(stats["by_age_group"], "age_group"),
            "by_category": rate_interval_figure(stats["by_category"], "category")}
