"""The Alerts page's chart of one rule: the hourly actual value, the expected value and its band, and the
hours outside it (docs/alerts-and-reports.md#the-alerts-page). PURE: plain rows in, a figure out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from alerts.metrics import METRICS
from insights.charts.common import build_figure, chart_layout, empty_figure
from insights.charts.palette import BLUE, GREY, RED

Row = Mapping[str, Any]  # hour, status, actual, expected, low, high (alerts.models.Evaluation's values)


def alert_figure(metric: str, rows: Sequence[Row]) -> go.Figure:
    """Actual (line), expected (dashed) inside its band (shaded), breaching hours marked in red."""
    judged = [r for r in rows if r["expected"] is not None]
    if not judged:
        return empty_figure("No hour judged yet")
    unit = METRICS[metric].unit
    hours = [r["hour"] for r in judged]
    band_hover = "%{x|%Y-%m-%d %H}:00 band %{y}"
    breaches = [r for r in judged if r["status"] == "breach"]
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "x": hours, "y": [r["high"] for r in judged], "mode": "lines", "line": {"width": 0},
         "name": "band (high)", "showlegend": False, "hovertemplate": band_hover},
        {"type": "scatter", "x": hours, "y": [r["low"] for r in judged], "mode": "lines", "line": {"width": 0},
         "fill": "tonexty", "fillcolor": "rgba(152,162,179,0.25)", "name": "expected band",
         "hovertemplate": band_hover},
        {"type": "scatter", "x": hours, "y": [r["expected"] for r in judged], "mode": "lines",
         "line": {"color": GREY, "dash": "dash"}, "name": "expected"},
        {"type": "scatter", "x": hours, "y": [r["actual"] for r in judged], "mode": "lines+markers",
         "marker": {"size": 4}, "line": {"color": BLUE}, "name": "actual"},
        {"type": "scatter", "x": [r["hour"] for r in breaches], "y": [r["actual"] for r in breaches],
         "mode": "markers", "marker": {"color": RED, "size": 9, "symbol": "x"}, "name": "outside the band"},
    ]
    return build_figure(traces, chart_layout(height=260, legend=True, percent=unit == "rate", money=unit == "money",
                                             y_title=METRICS[metric].label))
