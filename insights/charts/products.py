"""Product figures: one value per product as bars, and cart/purchase-to-view side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from insights.charts.common import (
    Row,
    build_figure,
    chart_layout,
    currency,
    empty_figure,
    label_text,
    rate_or_none,
    short_label,
)
from insights.charts.palette import BLUE, GREEN, ORANGE, RED


def product_bar_figure(rows: Sequence[Row], value: str, *, label: str, colour: str = BLUE, percent: bool = False,
                       money: bool = False, limit: int = 10) -> go.Figure:
    """Horizontal bars of one value per product (best at the top)."""
    rows = [r for r in rows if r.get(value) is not None][:limit]
    if not rows:
        return empty_figure("No product activity for these filters")
    rows = list(reversed(rows))
    fmt = ".1%" if percent else (",.2f" if money else ",")
    trace = {"type": "bar", "orientation": "h", "y": [short_label(r.get("title")) for r in rows],
             "x": [float(r[value]) for r in rows], "marker": {"color": colour},
             "customdata": [label_text(r.get("category") or "") for r in rows],
             "hovertemplate": ("%{y} (%{customdata}): " + (currency() if money else "") + "%{x:" + fmt
                               + "}<extra></extra>")}
    xaxis: dict[str, Any] = {"title": {"text": label}}
    if percent:
        xaxis["tickformat"] = ".0%"
    if money:
        xaxis.update(tickprefix=currency(), tickformat=",.0f")
    return build_figure([trace], chart_layout(
        height=max(240, 34 * len(rows) + 60), margin={"l": 190, "t": 8, "b": 44}, xaxis=xaxis,
        yaxis={"type": "category", "rangemode": "normal"}))


def product_conversion_figure(rows: Sequence[Row], limit: int = 12) -> go.Figure:
    """Cart-to-view and purchase-to-view side by side for the most viewed products."""
    rows = [r for r in rows if r.get("view_sessions")][:limit]
    if not rows:
        return empty_figure("No product views for these filters")
    names = [short_label(r.get("title"), 22) for r in rows]
    traces = [
        {"type": "bar", "x": names, "y": [rate_or_none(r.get("cart_to_view")) for r in rows], "name": "Cart-to-view",
         "marker": {"color": ORANGE}, "hovertemplate": "%{x}: %{y:.1%}<extra>cart-to-view</extra>"},
        {"type": "bar", "x": names, "y": [rate_or_none(r.get("purchase_to_view")) for r in rows],
         "name": "Purchase-to-view", "marker": {"color": GREEN},
         "hovertemplate": "%{x}: %{y:.1%}<extra>purchase-to-view</extra>"},
    ]
    layout = chart_layout(height=340, y_title="Share of viewing sessions", percent=True, legend=True,
                          barmode="group", xaxis={"tickangle": -30, "type": "category"})
    layout["legend"] = {"orientation": "h", "y": 1.08, "x": 0}
    return build_figure(traces, layout)


def top_revenue_figure(rows: Sequence[Row], *, limit: int = 10) -> go.Figure:
    return product_bar_figure(rows, "revenue", label="Revenue", colour=GREEN, money=True, limit=limit)


def products_page_figures(stats: Mapping[str, Any]) -> dict[str, go.Figure]:
    return {
        "most_viewed": product_bar_figure(stats["most_viewed"], "views", label="Views"),
        "top_revenue": top_revenue_figure(stats["top_revenue"]),
        "most_abandoned": product_bar_figure(stats["most_abandoned"], "abandoned_carts", label="Abandoned carts",
                                             colour=RED),
        "abandonment_rate": product_bar_figure(stats["abandonment_rate"], "rate", label="Abandonment rate",
                                               colour=ORANGE, percent=True),
        "conversion": product_conversion_figure(stats["conversion"]),
    }
