"""Acquisition page figures: session conversion by channel with Wilson 95% intervals, and first- vs
last-touch revenue by channel (``insights.selectors.acquisition`` output in)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from insights.charts.common import build_figure, chart_layout, currency, empty_figure, interval_bars, number
from insights.charts.palette import BLUE, GREEN, ORANGE


def channel_conversion_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = [{"channel": r["channel"], "rate": r["conversion"], "ci_low": r["conversion_low"],
             "ci_high": r["conversion_high"], "sessions": r["sessions"], "buying": r["purchasing_sessions"]}
            for r in stats["channels"] if r["sessions"]]
    if not rows:
        return empty_figure("No sessions for these filters")
    trace = interval_bars(rows, "channel", "rate", BLUE)
    trace["customdata"] = [[r["buying"], r["sessions"]] for r in rows]
    trace["hovertemplate"] = "%{x}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,} sessions)<extra></extra>"
    return build_figure([trace], chart_layout(y_title="Session conversion (95% interval)", percent=True,
                                              xaxis={"type": "category"}))


def attribution_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = stats["attribution"]
    if not rows or not any(number(r["first_touch_revenue"]) or number(r["last_touch_revenue"]) for r in rows):
        return empty_figure("No revenue for these filters")
    x = [r["channel"] for r in rows]
    symbol = currency()
    traces = [{"type": "bar", "name": name, "x": x, "y": [number(r[key]) for r in rows], "marker": {"color": colour},
               "hovertemplate": "%{x}: " + symbol + "%{y:,.2f}<extra>" + name + "</extra>"}
              for name, key, colour in (("First touch", "first_touch_revenue", GREEN),
                                        ("Last touch", "last_touch_revenue", ORANGE))]
    return build_figure(traces, chart_layout(y_title="Revenue", money=True, legend=True,
                                             xaxis={"type": "category"}, barmode="group"))


def acquisition_page_figures(stats: Mapping[str, Any]) -> dict[str, go.Figure]:
    return {"conversion": channel_conversion_figure(stats), "attribution": attribution_figure(stats)}
