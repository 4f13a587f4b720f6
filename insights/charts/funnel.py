"""Funnel figures: the steps, the revenue dropped between them and the breakdown by group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from insights.charts.common import build_figure, chart_layout, currency, empty_figure, label_text, number, rate_or_none
from insights.charts.palette import GREY, RED, STEP_COLOURS, STEP_LABELS


def funnel_figure(funnel: Mapping[str, Any]) -> go.Figure:
    steps = funnel.get("steps") or []
    if not steps or not number(steps[0].get("sessions")):
        return empty_figure("No sessions in this period yet")
    trace = {
        "type": "funnel",
        "y": [label_text(STEP_LABELS.get(s["step"], s["step"])) for s in steps],
        "x": [number(s.get("sessions")) for s in steps],
        "textinfo": "value+percent initial+percent previous",
        "marker": {"color": STEP_COLOURS[: len(steps)]},
        "connector": {"line": {"color": GREY, "width": 1}},
        "hovertemplate": "%{y}: %{x:,} sessions<extra></extra>",
    }
    return build_figure([trace], chart_layout(height=340, margin={"l": 110, "t": 16, "b": 16}))


def funnel_breakdown_figure(funnel: Mapping[str, Any]) -> go.Figure:
    """Overall conversion (view → step) per group, one bar group per step after the first."""
    breakdown = funnel.get("breakdown")
    groups = (breakdown or {}).get("groups") or []
    if not groups:
        return empty_figure("No breakdown for these filters")
    names = [label_text(g["group"]) for g in groups]
    step_names = [s["step"] for s in groups[0]["steps"]][1:]
    traces = []
    for i, step in enumerate(step_names):
        ys = []
        for g in groups:
            row = next((s for s in g["steps"] if s["step"] == step), None)
            ys.append(rate_or_none(row.get("rate_from_first")) if row else None)
        name = label_text(STEP_LABELS.get(step, step))
        traces.append({"type": "bar", "x": names, "y": ys, "name": name,
                       "marker": {"color": STEP_COLOURS[(i + 1) % 4]},
                       "hovertemplate": "%{x}: %{y:.1%}<extra>" + name + "</extra>"})
    return build_figure(traces, chart_layout(
        y_title="Share of viewing sessions", percent=True, legend=True, barmode="group", xaxis={"type": "category"}))


def funnel_dropoff_figure(funnel: Mapping[str, Any]) -> go.Figure:
    steps = funnel.get("steps") or []
    if not steps or not any(number(s.get("dropoff_revenue")) for s in steps):
        return empty_figure("No revenue lost between steps")
    trace = {"type": "bar", "x": [label_text(STEP_LABELS.get(s["step"], s["step"])) for s in steps],
             "y": [number(s.get("dropoff_revenue")) for s in steps], "marker": {"color": RED},
             "hovertemplate": "%{x}: " + currency() + "%{y:,.2f}<extra>dropped off</extra>"}
    return build_figure([trace], chart_layout(y_title="Revenue dropped off", money=True))


def funnel_page_figures(stats: Mapping[str, Any], *, breakdown: bool) -> dict[str, go.Figure]:
    """The funnel page's charts (the breakdown only when one was asked for)."""
    figures = {"funnel": funnel_figure(stats), "dropoff": funnel_dropoff_figure(stats)}
    if breakdown:
        figures["breakdown"] = funnel_breakdown_figure(stats)
    return figures
