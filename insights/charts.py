"""Pure chart builders: selector output in, ``plotly.graph_objects.Figure`` out.

Nothing here touches the ORM or the request: every function takes the JSON-shaped data the
selectors return (``insights/selectors.py``, see the metrics contract) and returns a figure, or
plain data for the page (KPI cards). Empty inputs give a figure that says so instead of an error.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

# One palette for the whole product (colour-blind safe, Okabe–Ito based).
BLUE = "#3b6fe0"
ORANGE = "#e69f00"
GREEN = "#009e73"
RED = "#d55e00"
PURPLE = "#8a5cd0"
GREY = "#98a2b3"
STEP_COLOURS = [BLUE, PURPLE, ORANGE, GREEN]

STEP_LABELS = {"view": "Viewed", "add_to_cart": "Added to cart", "checkout": "Checkout", "purchase": "Purchased"}
METRICS = {
    "events": "Events",
    "sessions": "Sessions",
    "orders": "Orders",
    "revenue": "Revenue",
    "conversion": "Conversion rate",
}
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

Row = Mapping[str, Any]


# --- helpers ---------------------------------------------------------------------------------
# Figures are built from plain dicts and validated once by go.Figure(data=..., layout=...): the
# incremental update_layout/update_xaxes API costs ~20 ms a chart, this ~1 ms.

def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of ``extra`` into a copy of ``base`` (nested dicts merged, other values replaced)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _layout(*, height: int = 320, y_title: str | None = None, x_title: str | None = None, percent: bool = False,
            money: bool = False, legend: bool = False, **extra: Any) -> dict[str, Any]:
    yaxis: dict[str, Any] = {"gridcolor": "#eef0f5", "zeroline": False, "automargin": True, "rangemode": "tozero"}
    xaxis: dict[str, Any] = {"gridcolor": "#eef0f5", "zeroline": False, "automargin": True}
    if y_title:
        yaxis["title"] = {"text": y_title}
    if x_title:
        xaxis["title"] = {"text": x_title}
    if percent:
        yaxis["tickformat"] = ".0%"
    if money:
        yaxis.update(tickprefix="$", tickformat=",.0f")
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
    return _merge(layout, extra)


def _figure(traces: Sequence[Mapping[str, Any]], layout: Mapping[str, Any]) -> go.Figure:
    return go.Figure(data=list(traces), layout=dict(layout))


def empty_figure(message: str = "No data for these filters yet", *, height: int = 320) -> go.Figure:
    """A blank chart carrying a friendly message (still renders, so the page layout holds)."""
    return _figure([], {
        "annotations": [{"text": message, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                         "font": {"size": 14, "color": "#667085"}}],
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": height,
        "margin": {"l": 16, "r": 16, "t": 16, "b": 16},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
    })


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _rate_or_none(value: Any) -> float | None:
    return float(value) if value is not None else None


def _short(text: Any, limit: int = 28) -> str:
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


def bucket_label(row: Row) -> str:
    """'$50–100' for a money bucket; an open top bucket (bucket_high None) reads '$1,000+'."""
    low, high = _num(row.get("bucket_low")), row.get("bucket_high")
    if high is None:
        return f"${low:,.0f}+"
    return f"${low:,.0f}–{_num(high):,.0f}"


def _date_axis(xs: Sequence[Any]) -> dict[str, Any]:
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
        y = _rate_or_none(r.get(value))
        ys.append(y)
        lo, hi = r.get("ci_low"), r.get("ci_high")
        if y is None or lo is None or hi is None:
            plus.append(0.0)
            minus.append(0.0)
        else:
            plus.append(max(0.0, float(hi) - y))
            minus.append(max(0.0, y - float(lo)))
    return ys, plus, minus


# --- KPI cards (plain data, not a figure) --------------------------------------------------

KPI_CARDS = [
    # key, label, format, higher is better
    ("events", "Events", "int", True),
    ("customers", "Active customers", "int", True),
    ("sessions", "Sessions", "int", True),
    ("revenue", "Revenue", "money", True),
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
        return f"${float(value):,.2f}"
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
    if not points or not any(_num(p.get("events")) for p in points):
        return empty_figure("No events in this period yet")
    xs = [p["t"] for p in points]
    traces: list[dict[str, Any]] = [
        {"type": "bar", "x": xs, "y": [_num(p.get("events")) for p in points], "name": "Events",
         "marker": {"color": BLUE}, "opacity": 0.85, "hovertemplate": "%{x}<br>%{y:,} events<extra></extra>"},
        {"type": "scatter", "x": xs, "y": [_num(p.get("revenue")) for p in points], "name": "Revenue",
         "yaxis": "y2", "mode": "lines", "line": {"color": GREEN, "width": 2},
         "hovertemplate": "%{x}<br>$%{y:,.2f}<extra></extra>"},
    ]
    return _figure(traces, _layout(
        y_title="Events", legend=True, margin={"r": 64}, xaxis=_date_axis(xs),
        yaxis2={"title": {"text": "Revenue"}, "overlaying": "y", "side": "right", "showgrid": False,
                "tickprefix": "$", "tickformat": ",.0f", "rangemode": "tozero"}))


# --- funnel ----------------------------------------------------------------------------------

def funnel_figure(funnel: Mapping[str, Any]) -> go.Figure:
    steps = funnel.get("steps") or []
    if not steps or not _num(steps[0].get("sessions")):
        return empty_figure("No sessions in this period yet")
    trace = {
        "type": "funnel",
        "y": [label_text(STEP_LABELS.get(s["step"], s["step"])) for s in steps],
        "x": [_num(s.get("sessions")) for s in steps],
        "textinfo": "value+percent initial+percent previous",
        "marker": {"color": STEP_COLOURS[: len(steps)]},
        "connector": {"line": {"color": GREY, "width": 1}},
        "hovertemplate": "%{y}: %{x:,} sessions<extra></extra>",
    }
    return _figure([trace], _layout(height=340, margin={"l": 110, "t": 16, "b": 16}))


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
            ys.append(_rate_or_none(row.get("rate_from_first")) if row else None)
        name = label_text(STEP_LABELS.get(step, step))
        traces.append({"type": "bar", "x": names, "y": ys, "name": name,
                       "marker": {"color": STEP_COLOURS[(i + 1) % 4]},
                       "hovertemplate": "%{x}: %{y:.1%}<extra>" + name + "</extra>"})
    return _figure(traces, _layout(y_title="Share of viewing sessions", percent=True, legend=True, barmode="group",
                                   xaxis={"type": "category"}))


def funnel_dropoff_figure(funnel: Mapping[str, Any]) -> go.Figure:
    steps = funnel.get("steps") or []
    if not steps or not any(_num(s.get("dropoff_revenue")) for s in steps):
        return empty_figure("No revenue lost between steps")
    trace = {"type": "bar", "x": [label_text(STEP_LABELS.get(s["step"], s["step"])) for s in steps],
             "y": [_num(s.get("dropoff_revenue")) for s in steps], "marker": {"color": RED},
             "hovertemplate": "%{x}: $%{y:,.2f}<extra>dropped off</extra>"}
    return _figure([trace], _layout(y_title="Revenue dropped off", money=True))


# --- seasonality -------------------------------------------------------------------------------

def seasonality_figure(stats: Mapping[str, Any], dimension: str, metric: str = "events") -> go.Figure:
    """Bars of ``metric`` by ``dimension`` (hour, weekday or month)."""
    rows = stats.get(dimension) or []
    if not rows or not any(_num(r.get("events")) for r in rows):
        return empty_figure("No events in this period yet", height=280)
    if dimension == "hour":
        xs: list[Any] = [f"{int(r['hour']):02d}" for r in rows]
    elif dimension == "weekday":
        xs = [r.get("label") or WEEKDAYS[int(r["weekday"])] for r in rows]
    else:
        xs = [r.get("label") or MONTHS[int(r["month"]) - 1] for r in rows]
    ys = [_rate_or_none(r.get(metric)) if metric == "conversion" else _num(r.get(metric)) for r in rows]
    fmt = ".1%" if metric == "conversion" else ","
    trace = {"type": "bar", "x": xs, "y": ys, "marker": {"color": BLUE if metric != "revenue" else GREEN},
             "hovertemplate": "%{x}: %{y:" + fmt + "}<extra></extra>"}
    x_title = f"Hour of day ({stats.get('time_zone', 'UTC')})" if dimension == "hour" else None
    return _figure([trace], _layout(height=280, y_title=METRICS.get(metric, metric), percent=metric == "conversion",
                                    money=metric == "revenue", x_title=x_title, xaxis={"type": "category"}))


def heatmap_figure(stats: Mapping[str, Any], metric: str = "events") -> go.Figure:
    rows = stats.get("weekday_hour") or []
    if not rows or not any(_num(r.get("events")) for r in rows):
        return empty_figure("No events in this period yet", height=340)
    z: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    for r in rows:
        value = r.get(metric)
        z[int(r["weekday"])][int(r["hour"])] = _rate_or_none(value) if metric == "conversion" else _num(value)
    fmt = ".1%" if metric == "conversion" else ","
    trace = {"type": "heatmap", "z": z, "x": [f"{h:02d}" for h in range(24)], "y": WEEKDAYS, "colorscale": "Blues",
             "hoverongaps": False, "hovertemplate": "%{y} %{x}:00 — %{z:" + fmt + "}<extra></extra>",
             "colorbar": {"tickformat": ".0%" if metric == "conversion" else ",", "thickness": 12}}
    return _figure([trace], _layout(
        height=340, x_title=f"Hour of day ({stats.get('time_zone', 'UTC')})",
        xaxis={"gridcolor": "rgba(0,0,0,0)", "type": "category"},
        yaxis={"autorange": "reversed", "rangemode": "normal", "gridcolor": "rgba(0,0,0,0)", "type": "category"}))


# --- customers -------------------------------------------------------------------------------

def _interval_bars(rows: Sequence[Row], key: str, value: str, colour: str) -> dict[str, Any]:
    ys, plus, minus = _interval_errors(rows, value)
    return {"type": "bar", "x": [label_text(r.get(key)) for r in rows], "y": ys, "marker": {"color": colour},
            "error_y": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "color": "#1d2433",
                        "thickness": 1.2, "width": 6}}


def age_groups_figure(stats: Mapping[str, Any]) -> go.Figure:
    """Session conversion by age group with Wilson 95 % interval bars."""
    rows = [r for r in stats.get("age_groups") or [] if r.get("sessions")]
    if not rows:
        return empty_figure("No sessions from known customers yet")
    trace = _interval_bars(rows, "age_group", "conversion", BLUE)
    trace["customdata"] = [[r.get("sessions", 0), r.get("customers", 0)] for r in rows]
    trace["hovertemplate"] = ("%{x}: %{y:.1%} of %{customdata[0]:,} sessions (%{customdata[1]:,} customers)"
                              "<extra></extra>")
    return _figure([trace], _layout(y_title="Session conversion (95% interval)", x_title="Age group", percent=True,
                                    xaxis={"type": "category"}))


def clv_distribution_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = stats.get("clv_distribution") or []
    if not rows or not any(_num(r.get("customers")) for r in rows):
        return empty_figure("No purchasing customers yet")
    trace = {"type": "bar", "x": [bucket_label(r) for r in rows], "y": [_num(r.get("customers")) for r in rows],
             "marker": {"color": GREEN}, "hovertemplate": "%{x}: %{y:,} customers<extra></extra>"}
    return _figure([trace], _layout(y_title="Customers", x_title="Lifetime revenue", xaxis={"type": "category"}))


def rfm_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = [r for r in stats.get("rfm") or [] if r.get("customers")]
    if not rows:
        return empty_figure("No purchasing customers yet")
    rows = sorted(rows, key=lambda r: _num(r.get("customers")))
    trace = {"type": "bar", "orientation": "h", "y": [label_text(r["segment"]) for r in rows],
             "x": [_num(r.get("customers")) for r in rows], "marker": {"color": PURPLE},
             "customdata": [_num(r.get("revenue")) for r in rows],
             "hovertemplate": "%{y}: %{x:,} customers, $%{customdata:,.2f}<extra></extra>"}
    return _figure([trace], _layout(x_title="Customers", margin={"l": 120},
                                    yaxis={"type": "category", "rangemode": "normal"}))


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
                           "text": [_short(e.get("product_title"), 40) for e in rows],
                           "hovertemplate": "%{x}<br>%{text}<extra>%{y}</extra>"})
    return _figure(traces, _layout(height=240, margin={"l": 110, "t": 8, "b": 40},
                                   yaxis={"type": "category", "rangemode": "normal"}))


# --- products --------------------------------------------------------------------------------

def product_bar_figure(rows: Sequence[Row], value: str, *, label: str, colour: str = BLUE, percent: bool = False,
                       money: bool = False, limit: int = 10) -> go.Figure:
    """Horizontal bars of one value per product (best at the top)."""
    rows = [r for r in rows if r.get(value) is not None][:limit]
    if not rows:
        return empty_figure("No product activity for these filters")
    rows = list(reversed(rows))
    fmt = ".1%" if percent else (",.2f" if money else ",")
    trace = {"type": "bar", "orientation": "h", "y": [_short(r.get("title")) for r in rows],
             "x": [float(r[value]) for r in rows], "marker": {"color": colour},
             "customdata": [label_text(r.get("category") or "") for r in rows],
             "hovertemplate": "%{y} (%{customdata}): " + ("$" if money else "") + "%{x:" + fmt + "}<extra></extra>"}
    xaxis: dict[str, Any] = {"title": {"text": label}}
    if percent:
        xaxis["tickformat"] = ".0%"
    if money:
        xaxis.update(tickprefix="$", tickformat=",.0f")
    return _figure([trace], _layout(height=max(240, 34 * len(rows) + 60), margin={"l": 190, "t": 8, "b": 44},
                                    xaxis=xaxis, yaxis={"type": "category", "rangemode": "normal"}))


def product_conversion_figure(rows: Sequence[Row], limit: int = 12) -> go.Figure:
    """Cart-to-view and purchase-to-view side by side for the most viewed products."""
    rows = [r for r in rows if r.get("view_sessions")][:limit]
    if not rows:
        return empty_figure("No product views for these filters")
    names = [_short(r.get("title"), 22) for r in rows]
    traces = [
        {"type": "bar", "x": names, "y": [_rate_or_none(r.get("cart_to_view")) for r in rows], "name": "Cart-to-view",
         "marker": {"color": ORANGE}, "hovertemplate": "%{x}: %{y:.1%}<extra>cart-to-view</extra>"},
        {"type": "bar", "x": names, "y": [_rate_or_none(r.get("purchase_to_view")) for r in rows],
         "name": "Purchase-to-view", "marker": {"color": GREEN},
         "hovertemplate": "%{x}: %{y:.1%}<extra>purchase-to-view</extra>"},
    ]
    layout = _layout(height=340, y_title="Share of viewing sessions", percent=True, legend=True, barmode="group",
                     xaxis={"tickangle": -30, "type": "category"})
    layout["legend"] = {"orientation": "h", "y": 1.08, "x": 0}
    return _figure(traces, layout)


# --- carts -----------------------------------------------------------------------------------

def carts_over_time_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = stats.get("over_time") or []
    if not rows or not any(_num(r.get("converted")) + _num(r.get("abandoned")) + _num(r.get("emptied"))
                           for r in rows):
        return empty_figure("No closed carts in this period yet")
    xs = [r["t"] for r in rows]
    traces: list[dict[str, Any]] = [
        {"type": "bar", "x": xs, "y": [_num(r.get(key)) for r in rows], "name": name, "marker": {"color": colour},
         "opacity": 0.8, "hovertemplate": "%{x}: %{y:,}<extra>" + name + "</extra>"}
        for key, name, colour in (("converted", "Converted", GREEN), ("abandoned", "Abandoned", RED),
                                  ("emptied", "Emptied", GREY))
    ]
    traces.append({"type": "scatter", "x": xs, "y": [_rate_or_none(r.get("abandonment_rate")) for r in rows],
                   "name": "Abandonment rate", "yaxis": "y2", "mode": "lines+markers",
                   "line": {"color": "#1d2433", "width": 2},
                   "hovertemplate": "%{x}: %{y:.1%}<extra>abandonment rate</extra>"})
    return _figure(traces, _layout(
        y_title="Carts", legend=True, barmode="stack", margin={"r": 64}, xaxis=_date_axis(xs),
        yaxis2={"title": {"text": "Abandonment rate"}, "overlaying": "y", "side": "right", "tickformat": ".0%",
                "range": [0, 1.02], "tickmode": "linear", "tick0": 0, "dtick": 0.25, "showgrid": False}))


def cart_value_figure(stats: Mapping[str, Any]) -> go.Figure:
    rows = stats.get("value_distribution") or []
    if not rows or not any(_num(r.get("carts")) for r in rows):
        return empty_figure("No abandoned carts in this period")
    trace = {"type": "bar", "x": [bucket_label(r) for r in rows], "y": [_num(r.get("carts")) for r in rows],
             "marker": {"color": ORANGE}, "hovertemplate": "%{x}: %{y:,} carts<extra></extra>"}
    return _figure([trace], _layout(y_title="Carts", x_title="Cart value", xaxis={"type": "category"}))


def rate_interval_figure(rows: Sequence[Row], key: str, *, title: str = "Abandonment rate (95% interval)") -> go.Figure:
    """Rates per group (age group, category) with Wilson interval bars."""
    rows = [r for r in rows if r.get("carts")]
    if not rows:
        return empty_figure("No closed carts for these filters")
    trace = _interval_bars(rows, key, "rate", RED)
    trace["customdata"] = [[r.get("abandoned", 0), r.get("carts", 0)] for r in rows]
    trace["hovertemplate"] = "%{x}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,} carts)<extra></extra>"
    return _figure([trace], _layout(y_title=title, percent=True, xaxis={"type": "category"}))
