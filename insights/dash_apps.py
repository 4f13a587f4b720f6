"""The Explorer: a django-plotly-dash app whose filters drive linked charts.

Reads the same selectors as the pages and draws with the same chart builders; served locally
(``PLOTLY_DASH={"serve_locally": True}``) and embedded directly in the page (no iframe).
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html
from dash.dependencies import Input, Output
from django_plotly_dash import DjangoDash

from accounts.roles import VIEW_DASHBOARD
from insights import charts, selectors
from insights.filters import FilterError, MetricFilter

app = DjangoDash("Explorer", serve_locally=True)

_GRAPH_CONFIG = {"displaylogo": False, "responsive": True}


def _dropdown(ident: str, placeholder: str, multi: bool = False) -> dcc.Dropdown:
    return dcc.Dropdown(id=ident, placeholder=placeholder, multi=multi, clearable=True, className="dd")


def _graph(ident: str, height: int) -> dcc.Graph:
    # Responsive in both directions inside a box of fixed height. Left to "auto", dcc.Graph sometimes
    # kept the first (empty) figure's responsive mode, and the plot then filled its height-less parent:
    # 25 px tall charts drawn over each other (seen in the browser test's screenshots).
    return dcc.Graph(id=ident, config=_GRAPH_CONFIG, responsive=True, style={"height": f"{height}px"})


def _layout() -> html.Div:
    default = MetricFilter.default()
    return html.Div(className="explorer-app", children=[
        html.Div(className="explorer-filters", children=[
            html.Div([html.Label("Period", htmlFor="x-dates"),
                      dcc.DatePickerRange(id="x-dates", start_date=default.start, end_date=default.end,
                                          display_format="YYYY-MM-DD")]),
            html.Div([html.Label("Actions", htmlFor="x-actions"), _dropdown("x-actions", "All actions", True)]),
            html.Div([html.Label("Age group", htmlFor="x-age"), _dropdown("x-age", "All ages")]),
            html.Div([html.Label("Category", htmlFor="x-category"), _dropdown("x-category", "All categories")]),
        ]),
        html.P(id="x-status", className="x-status", role="status"),
        html.Div(className="explorer-grid", children=[
            html.Div([html.H3("Events over time"), _graph("x-timeseries", 320)]),
            html.Div([html.H3("Funnel"), _graph("x-funnel", 340)]),
            html.Div([html.H3("By hour of day"), _graph("x-hour", 280)]),
            html.Div([html.H3("Top products by revenue"), _graph("x-products", 340)]),
        ]),
        dcc.Store(id="x-init", data=0),
    ])


app.layout = _layout


@app.callback(
    Output("x-actions", "options"), Output("x-age", "options"), Output("x-category", "options"),
    Input("x-init", "data"),
)
def explorer_options(_init: Any, **kwargs: Any) -> tuple[list[dict[str, str]], ...]:
    _require_dashboard_access(kwargs)
    choices = selectors.filter_choices()
    return (
        [{"label": charts.STEP_LABELS.get(a, a.replace("_", " ").capitalize()), "value": a}
         for a in choices.get("actions", [])],
        [{"label": g, "value": g} for g in choices.get("age_groups", [])],
        [{"label": c, "value": c} for c in choices.get("categories", [])],
    )


@app.callback(
    Output("x-timeseries", "figure"), Output("x-funnel", "figure"), Output("x-hour", "figure"),
    Output("x-products", "figure"), Output("x-status", "children"),
    Input("x-dates", "start_date"), Input("x-dates", "end_date"), Input("x-actions", "value"),
    Input("x-age", "value"), Input("x-category", "value"),
)
def explorer_update(start: str | None, end: str | None, actions: list[str] | None, age_group: str | None,
                    category: str | None, **kwargs: Any) -> tuple[Any, ...]:
    _require_dashboard_access(kwargs)
    f, message = explorer_filter(start, end, actions, age_group, category)
    series = selectors.events_timeseries(f)
    funnel = selectors.funnel_stats(f)
    season = selectors.seasonality_stats(f)
    products = selectors.products_stats(f)
    return (
        charts.events_over_time_figure(series),
        charts.funnel_figure(funnel),
        charts.seasonality_figure(season, "hour", "events"),
        charts.top_revenue_figure(products["top_revenue"], limit=8),
        message,
    )


def explorer_filter(start: str | None, end: str | None, actions: list[str] | None, age_group: str | None,
                    category: str | None) -> tuple[MetricFilter, str]:
    """The Dash inputs as a MetricFilter, and a one-line description (or the problem) for the page.

    The inputs come from the browser as JSON and may be anything: a wrong type gets the same friendly
    message as a bad value, never an exception (a 500 from the callback)."""
    try:
        params = {"start": _date_input(start, "start"), "end": _date_input(end, "end"),
                  "action": _list_input(actions, "actions"), "age_group": _str_input(age_group, "age group"),
                  "category": _str_input(category, "category")}
        f = MetricFilter.from_query(params)
    except FilterError as exc:
        return MetricFilter.default(), exc.fallback_message
    assert f.start is not None and f.end is not None
    parts = [f"{f.start:%d %b %Y} – {f.end:%d %b %Y}"]
    parts += [", ".join(f.actions)] if f.actions else []
    parts += [f"age {f.age_group}"] if f.age_group else []
    parts += [f.category] if f.category else []
    return f, "Showing " + " · ".join(parts)


def _str_input(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FilterError(f"{name} must be text.")
    return value


def _date_input(value: Any, name: str) -> str:
    # The date picker sends "2024-01-31" or a full ISO timestamp; only the date part counts.
    return _str_input(value, name)[:10]


def _list_input(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > 20:
        raise FilterError(f"{name} must be a list of names.")
    return value


def _require_dashboard_access(kwargs: dict[str, Any]) -> None:
    """django-plotly-dash passes the request's ``user`` to callbacks: refuse users without the dashboard."""
    user = kwargs.get("user")
    if user is not None and not (user.is_authenticated and user.can(VIEW_DASHBOARD)):
        raise PermissionError("dashboard access required")

