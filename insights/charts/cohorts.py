"""Retention figures: the cohort × month heatmap, lifetime-value curves, orders per customer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from insights.charts.common import build_figure, chart_layout, empty_figure, number
from insights.charts.palette import BLUE


def cohort_heatmap_figure(stats: Mapping[str, Any]) -> go.Figure:
    """Cell (cohort, N) = share of the cohort ordering in month N after its first (newest cohort last)."""
    cohorts = stats.get("cohorts") or []
    if not cohorts:
        return empty_figure("No first orders in these months yet", height=300)
    width = max(len(c["cells"]) for c in cohorts)
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for c in cohorts:
        row: list[float | None] = [None] * width
        labels = [""] * width
        for cell in c["cells"]:
            row[cell["n"]] = cell["retention"]
            share = f"{cell['retention'] * 100:.0f}%" if cell["retention"] is not None else ""
            labels[cell["n"]] = share + ("*" if cell["partial"] else "")
        z.append(row)
        text.append(labels)
    ys = [f"{c['cohort']} ({c['customers']:,})" for c in cohorts]
    trace = {"type": "heatmap", "z": z, "x": [f"M{n}" for n in range(width)], "y": ys, "text": text,
             "texttemplate": "%{text}", "colorscale": "Blues", "zmin": 0, "zmax": 1, "hoverongaps": False,
             "hovertemplate": "Cohort %{y}, month %{x}: %{z:.1%}<extra></extra>",
             "colorbar": {"tickformat": ".0%", "thickness": 12}}
    return build_figure([trace], chart_layout(
        height=max(260, 30 * len(cohorts) + 90), x_title="Months after the first order (* month still running)",
        margin={"l": 120}, xaxis={"type": "category", "side": "top", "gridcolor": "rgba(0,0,0,0)"},
        yaxis={"autorange": "reversed", "type": "category", "rangemode": "normal", "gridcolor": "rgba(0,0,0,0)"}))


def ltv_curves_figure(stats: Mapping[str, Any], limit: int = 12) -> go.Figure:
    """Cumulative net revenue (``insights.retention``) per cohort customer by months after the first order,
    one line per cohort."""
    cohorts = (stats.get("cohorts") or [])[-limit:]
    if not cohorts:
        return empty_figure("No first orders in these months yet", height=300)
    traces = [{"type": "scatter", "mode": "lines+markers", "name": c["cohort"],
               "x": [cell["n"] for cell in c["cells"]],
               "y": [number(cell["cumulative_revenue_per_customer"]) for cell in c["cells"]],
               "hovertemplate": c["cohort"] + " month %{x}: $%{y:,.2f} per customer<extra></extra>"} for c in cohorts]
    return build_figure(traces, chart_layout(height=320, money=True, legend=True, y_title="Net revenue per customer",
                                             x_title="Months after the first order", xaxis={"dtick": 1}))


def orders_per_customer_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = stats.get("orders_per_customer") or []
    if not any(number(r.get("customers")) for r in rows):
        return empty_figure("No buyers yet", height=260)
    trace = {"type": "bar", "x": [r["orders"] for r in rows], "y": [number(r["customers"]) for r in rows],
             "marker": {"color": BLUE}, "hovertemplate": "%{x} orders: %{y:,} customers<extra></extra>"}
    return build_figure([trace], chart_layout(height=260, y_title="Customers", x_title="Orders (all time)",
                                              xaxis={"type": "category"}))


def cohorts_page_figures(stats: Mapping[str, Any]) -> dict[str, go.Figure]:
    return {"retention": cohort_heatmap_figure(stats), "ltv": ltv_curves_figure(stats),
            "orders_per_customer": orders_per_customer_figure(stats)}
