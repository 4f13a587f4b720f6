"""The figure helpers every chart module shares (pure: no ORM, no request)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from django.conf import settings

Row = Mapping[str, Any]


# --- helpers ---------------------------------------------------------------------------------
# Figures are built from plain dicts and validated once by go.Figure(data=..., layout=...): the
# incremental update_layout/update_xaxes API costs ~20 ms a chart, this ~1 ms.

def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of ``extra`` into a copy of ``base`` (nested dicts merged, other values replaced)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def chart_layout(*, height: int = 320, y_title: str | None = None, x_title: str | None = None,
                 percent: bool = False, money: bool = False, legend: bool = False, **extra: Any) -> dict[str, Any]:
    """The product's chart layout; ``extra`` is deep-merged over it."""
    yaxis: dict[str, Any] = {"gridcolor": "#eef0f5", "zeroline": False, "automargin": True, "rangemode": "tozero"}
    xaxis: dict[str, Any] = {"gridcolor": "#eef0f5", "zeroline": False, "automargin": True}
    if y_title:
        yaxis["title"] = {"text": y_title}
    if x_title:
        xaxis["title"] = {"text": x_title}
    if percent:
        yaxis["tickformat"] = ".0%"
    if money:
        yaxis.update(tickprefix=currency(), tickformat=",.0f")
    layout = {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#1d2433"},
        "showlegend": legend,
        "legend": {"orientation": "h", "y": -0.22, "x": 0},
        "hoverlabel": {"bgcolor": "#fff"},
        "bargap": 0.25,
        "xaxis": xaxis,
        "yaxis": yaxis,
    }
    return _deep_merge(layout, extra)


def build_figure(traces: Sequence[Mapping[str, Any]], layout: Mapping[str, Any]) -> go.Figure:
    return go.Figure(data=list(traces), layout=dict(layout))


def empty_figure(message: str = "No data for these filters yet", *, height: int = 320) -> go.Figure:
    """A blank chart carrying a friendly message (still renders, so the page layout holds)."""
    return build_figure([], {
        "annotations": [{"text": message, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                         "font": {"size": 14, "color": "#667085"}}],
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": height,
        "margin": {"l": 16, "r": 16, "t": 16, "b": 16},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
    })


def number(value: Any) -> float:
    return float(value) if value is not None else 0.0


def rate_or_none(value: Any) -> float | None:
    return float(value) if value is not None else None


def short_label(text: Any, limit: int = 28) -> str:
    """A label cut to ``limit`` characters and made safe for figure text (see :func:`label_text`)."""
    s = str(text if text is not None else "—")
    return label_text(s if len(s) <= limit else s[: limit - 1] + "…")


def label_text(value: Any) -> str:
    """A string that Plotly shows as the literal text it is.

    Plotly renders a subset of HTML in every text it draws (axis categories, hover, text, annotations,
    legend names): ``<a href>`` becomes a clickable link, ``<b>``/``<span style>`` restyle. Product
    titles and categories come from ingested events, so every user-controlled string that goes into a
    figure passes through here: ``&``, ``<`` and ``>`` become entities, which Plotly draws as the
    characters themselves and never parses as tags.
    """
    return html.escape(str(value if value is not None else "—"), quote=False)


CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}


def currency() -> str:
    """The store currency's symbol for amounts ('$'; a code and a space when it has no common symbol)."""
    code = settings.STORE_CURRENCY
    return CURRENCY_SYMBOLS.get(code, code + " ")


def bucket_label(row: Row) -> str:
    """'$50–100' for a money bucket; an open top bucket (bucket_high None) reads '$1,000+'."""
    low, high = number(row.get("bucket_low")), row.get("bucket_high")
    if high is None:
        return f"{currency()}{low:,.0f}+"
    return f"{currency()}{low:,.0f}–{number(high):,.0f}"


def date_axis(xs: Sequence[Any]) -> dict[str, Any]:
    """x-axis settings keeping a time axis readable when the points span less than a day (one bar
    would otherwise be stretched over microseconds)."""
    try:
        times = sorted(dt.datetime.fromisoformat(str(x)) for x in xs)
    except ValueError:
        return {}
    if times and times[-1] - times[0] < dt.timedelta(days=1):
        pad = dt.timedelta(days=1)
        return {"type": "date", "range": [(times[0] - pad).isoformat(), (times[-1] + pad).isoformat()]}
    return {}


def _interval_errors(rows: Sequence[Row], value: str = "rate") -> tuple[list[float | None], list[float], list[float]]:
    """Values and asymmetric error bar lengths from Wilson intervals (ci_low/ci_high)."""
    ys: list[float | None] = []
    plus: list[float] = []
    minus: list[float] = []
    for r in rows:
        y = rate_or_none(r.get(value))
        ys.append(y)
        lo, hi = r.get("ci_low"), r.get("ci_high")
        if y is None or lo is None or hi is None:
            plus.append(0.0)
            minus.append(0.0)
        else:
            plus.append(max(0.0, float(hi) - y))
            minus.append(max(0.0, y - float(lo)))
    return ys, plus, minus


def interval_bars(rows: Sequence[Row], key: str, value: str, colour: str) -> dict[str, Any]:
    ys, plus, minus = _interval_errors(rows, value)
    return {"type": "bar", "x": [label_text(r.get(key)) for r in rows], "y": ys, "marker": {"color": colour},
            "error_y": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "color": "#1d2433",
                        "thickness": 1.2, "width": 6}}


def bucket_bars_figure(rows: Sequence[Row], count: str, *, colour: str, unit: str, x_title: str,
                       empty: str) -> go.Figure:
    """Counts per money bucket ('$50–100' …), e.g. customers by lifetime revenue or carts by value."""
    if not rows or not any(number(r.get(count)) for r in rows):
        return empty_figure(empty)
    trace = {"type": "bar", "x": [bucket_label(r) for r in rows], "y": [number(r.get(count)) for r in rows],
             "marker": {"color": colour}, "hovertemplate": "%{x}: %{y:,} " + unit + "<extra></extra>"}
    return build_figure([trace], chart_layout(y_title=unit.capitalize(), x_title=x_title, xaxis={"type": "category"}))
