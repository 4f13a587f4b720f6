"""Customer figures: conversion by age group, CLV, RFM segments and one customer's activity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from insights.charts.common import (
    bucket_bars_figure,
    build_figure,
    chart_layout,
    currency,
    empty_figure,
    interval_bars,
    label_text,
    number,
    short_label,
)
from insights.charts.palette import BLUE, GREEN, GREY, ORANGE, PURPLE, RED


def age_groups_figure(stats: Mapping[str, Any]) -> go.Figure:
    """Session conversion by age group with Wilson 95 % interval bars."""
    rows = [r for r in stats.get("age_groups") or [] if r.get("sessions")]
    if not rows:
        return empty_figure("No sessions from known customers yet")
    trace = interval_bars(rows, "age_group", "conversion", BLUE)
    trace["customdata"] = [[r.get("sessions", 0), r.get("customers", 0)] for r in rows]
    trace["hovertemplate"] = ("%{x}: %{y:.1%} of %{customdata[0]:,} sessions (%{customdata[1]:,} customers)"
                              "<extra></extra>")
    return build_figure([trace], chart_layout(
        y_title="Session conversion (95% interval)", x_title="Age group", percent=True, xaxis={"type": "category"}))


def clv_distribution_figure(stats: Mapping[str, Any]) -> go.Figure:
    return bucket_bars_figure(stats.get("clv_distribution") or [], "customers", colour=GREEN, unit="customers",
                              x_title="Lifetime net revenue", empty="No purchasing customers yet")


def rfm_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = [r for r in stats.get("rfm") or [] if r.get("customers")]
    if not rows:
        return empty_figure("No purchasing customers yet")
    rows = sorted(rows, key=lambda r: number(r.get("customers")))
    trace = {"type": "bar", "orientation": "h", "y": [label_text(r["segment"]) for r in rows],
             "x": [number(r.get("customers")) for r in rows], "marker": {"color": PURPLE},
             "customdata": [number(r.get("revenue")) for r in rows],
             "hovertemplate": "%{y}: %{x:,} customers, " + currency() + "%{customdata:,.2f}<extra></extra>"}
    return build_figure([trace], chart_layout(
        x_title="Customers", margin={"l": 120}, yaxis={"type": "category", "rangemode": "normal"}))


def customer_activity_figure(detail: Mapping[str, Any]) -> go.Figure:
    """A customer's latest events over time, one row per action."""
    timeline = detail.get("timeline") or []
    if not timeline:
        return empty_figure("No events from this customer yet", height=240)
    order = ["view", "add_to_cart", "remove_from_cart", "checkout", "purchase", "abandon"]
    colours = {"view": BLUE, "add_to_cart": ORANGE, "remove_from_cart": GREY, "checkout": PURPLE,
               "purchase": GREEN, "abandon": RED}
    traces = []
    for action in order:
        rows = [e for e in timeline if e.get("action") == action]
        if rows:
            name = action.replace("_", " ")
            traces.append({"type": "scatter", "x": [e.get("timestamp") for e in rows], "y": [name] * len(rows),
                           "mode": "markers", "name": name, "marker": {"size": 10, "color": colours[action]},
                           "text": [short_label(e.get("product_title"), 40) for e in rows],
                           "hovertemplate": "%{x}<br>%{text}<extra>%{y}</extra>"})
    return build_figure(traces, chart_layout(
        height=240, margin={"l": 110, "t": 8, "b": 40}, yaxis={"type": "category", "rangemode": "normal"}))


def customers_page_figures(stats: Mapping[str, Any]) -> dict[str, go.Figure]:
    return {"age_groups": age_groups_figure(stats), "clv": clv_distribution_figure(stats), "rfm": rfm_figure(stats)}
