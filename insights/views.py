"""Dashboard pages and CSV exports.

Thin: parse the filter from the query string, call the selectors (``insights/selectors.py``),
turn their output into figures (``insights/charts.py``) and render. Roles are checked here, on the
server: every page needs VIEW_DASHBOARD, exports need EXPORT_DATA, and personal data is masked
unless the user has VIEW_PERSONAL_DATA.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from csp.decorators import csp_replace
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.decorators import capability_required
from accounts.roles import EXPORT_DATA, VIEW_CUSTOMER_DETAIL, VIEW_DASHBOARD, VIEW_PERSONAL_DATA
from customers.models import Customer
from insights import charts, selectors
from insights.filters import FilterError, MetricFilter
from ml.selectors import cart_predictions_for_customer

SEASONALITY_METRICS = ["events", "orders", "revenue", "conversion"]
BREAKDOWNS = {"age_group": "age group", "category": "category"}


# --- helpers ---------------------------------------------------------------------------------

def _mask(request: HttpRequest) -> bool:
    return not request.user.can(VIEW_PERSONAL_DATA)  # type: ignore[union-attr]


def _filter(request: HttpRequest) -> tuple[MetricFilter, str | None]:
    """The page's filter, or the default one with a message the page shows."""
    try:
        return MetricFilter.from_query(request.GET), None
    except FilterError as exc:
        return MetricFilter.default(), f"{exc} Showing the last 30 days instead."


def _figure_json(fig: Any) -> str:
    # Safe inside <script type="application/json">: no "</script>" or HTML can break out.
    return fig.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _render(request: HttpRequest, template: str, page: str, f: MetricFilter, filter_error: str | None,
            figures: dict[str, Any], **context: Any) -> HttpResponse:
    choices = selectors.filter_choices()
    ctx = {
        "page": page,
        "filter": f,
        "filter_error": filter_error,
        "query": f.to_query(),
        "choices": choices,
        "charts": {name: _figure_json(fig) for name, fig in figures.items()},
        "store_time_zone": settings.STORE_TIME_ZONE,
        "freshness": selectors.derivation_status(),  # the banner in _page_head.html (issue 10)
        **context,
    }
    return render(request, template, ctx)


# --- pages -----------------------------------------------------------------------------------

@capability_required(VIEW_DASHBOARD)
def overview(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    kpis = selectors.kpis_stats(f)
    series = selectors.events_timeseries(f)
    feed = selectors.events_latest(20, mask=_mask(request))
    return _render(request, "insights/overview.html", "overview", f, error,
                   {"events_over_time": charts.events_over_time_figure(series)},
                   cards=charts.kpi_cards(kpis), kpis=kpis, feed=feed, grain=series.get("grain"),
                   insights=selectors.insights_list(f)[:3])


@capability_required(VIEW_DASHBOARD)
def funnel(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    breakdown = request.GET.get("breakdown") or None
    if breakdown not in BREAKDOWNS:
        breakdown = None
    stats = selectors.funnel_stats(f, breakdown=breakdown)
    figures = {"funnel": charts.funnel_figure(stats), "dropoff": charts.funnel_dropoff_figure(stats)}
    if breakdown:
        figures["breakdown"] = charts.funnel_breakdown_figure(stats)
    return _render(request, "insights/funnel.html", "funnel", f, error, figures, stats=stats,
                   breakdown=breakdown, breakdowns=BREAKDOWNS, step_labels=charts.STEP_LABELS)


@capability_required(VIEW_DASHBOARD)
def seasonality(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    metric = request.GET.get("metric") or "events"
    if metric not in SEASONALITY_METRICS:
        metric = "events"
    stats = selectors.seasonality_stats(f)
    figures = {
        "hour": charts.seasonality_figure(stats, "hour", metric),
        "weekday": charts.seasonality_figure(stats, "weekday", metric),
        "month": charts.seasonality_figure(stats, "month", metric),
        "heatmap": charts.heatmap_figure(stats, metric),
    }
    return _render(request, "insights/seasonality.html", "seasonality", f, error, figures, stats=stats,
                   metric=metric, metrics=[(m, charts.METRICS[m]) for m in SEASONALITY_METRICS])


@capability_required(VIEW_DASHBOARD)
def customers(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    stats = selectors.customers_stats(f, mask=_mask(request))
    figures = {
        "age_groups": charts.age_groups_figure(stats),
        "clv": charts.clv_distribution_figure(stats),
        "rfm": charts.rfm_figure(stats),
    }
    return _render(request, "insights/customers.html", "customers", f, error, figures, stats=stats)


@capability_required(VIEW_CUSTOMER_DETAIL)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    f, error = _filter(request)
    try:
        detail = selectors.customer_detail(pk, mask=_mask(request))
    except Customer.DoesNotExist:
        raise Http404("No such customer") from None
    return _render(request, "insights/customer_detail.html", "customers", f, error,
                   {"activity": charts.customer_activity_figure(detail)}, detail=detail,
                   # Each open cart's purchase probability from the active model (issue 7).
                   cart_predictions=cart_predictions_for_customer(customer_pk=pk))


@capability_required(VIEW_DASHBOARD)
def products(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    stats = selectors.products_stats(f)
    figures = {
        "most_viewed": charts.product_bar_figure(stats["most_viewed"], "views", label="Views"),
        "top_revenue": charts.product_bar_figure(stats["top_revenue"], "revenue", label="Revenue",
                                                 colour=charts.GREEN, money=True),
        "most_abandoned": charts.product_bar_figure(stats["most_abandoned"], "abandoned_carts",
                                                    label="Abandoned carts", colour=charts.RED),
        "abandonment_rate": charts.product_bar_figure(stats["abandonment_rate"], "rate",
                                                      label="Abandonment rate", colour=charts.ORANGE, percent=True),
        "conversion": charts.product_conversion_figure(stats["conversion"]),
    }
    return _render(request, "insights/products.html", "products", f, error, figures, stats=stats)


@capability_required(VIEW_DASHBOARD)
def carts(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    stats = selectors.carts_stats(f, mask=_mask(request))
    figures = {
        "over_time": charts.carts_over_time_figure(stats),
        "value": charts.cart_value_figure(stats),
        "by_age_group": charts.rate_interval_figure(stats["by_age_group"], "age_group"),
        "by_category": charts.rate_interval_figure(stats["by_category"], "category"),
    }
    return _render(request, "insights/carts.html", "carts", f, error, figures, stats=stats)


@capability_required(VIEW_DASHBOARD)
def insights(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    return _render(request, "insights/insights.html", "insights", f, error, {},
                   items=selectors.insights_list(f))


# Dash 4's components inject their own <style> blocks at run time: this page alone allows inline
# styles (scripts stay as strict as everywhere: analytics_site/csp.py).
@csp_replace({"style-src": ["'self'", "'unsafe-inline'"]})
@capability_required(VIEW_DASHBOARD)
def explorer(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    from insights import dash_apps  # noqa: F401  (registers the Dash app)

    return _render(request, "insights/explorer.html", "explorer", f, error, {},
                   initial=json.dumps({"query": f.to_query()}))


# --- CSV exports -----------------------------------------------------------------------------

Rows = Callable[[MetricFilter, bool], Iterable[dict[str, Any]]]


def _part(fn: Callable[..., Any], key: str, *, masked: bool = False, **kwargs: Any) -> Rows:
    if masked:
        return lambda f, mask: fn(f, mask=mask, **kwargs)[key]
    return lambda f, mask: fn(f, **kwargs)[key]


EXPORTS: dict[str, tuple[str, Rows]] = {
    "events_over_time": ("Events over time", lambda f, mask: selectors.events_timeseries(f)["points"]),
    "latest_events": ("Latest events", lambda f, mask: selectors.events_latest(500, mask=mask)),
    "funnel": ("Funnel", _part(selectors.funnel_stats, "steps")),
    "seasonality_hour": ("Seasonality by hour", _part(selectors.seasonality_stats, "hour")),
    "seasonality_weekday": ("Seasonality by weekday", _part(selectors.seasonality_stats, "weekday")),
    "seasonality_month": ("Seasonality by month", _part(selectors.seasonality_stats, "month")),
    "seasonality_weekday_hour": ("Weekday × hour", _part(selectors.seasonality_stats, "weekday_hour")),
    "age_groups": ("Age groups", _part(selectors.customers_stats, "age_groups", masked=True)),
    "top_customers": ("Top customers", _part(selectors.customers_stats, "top_customers", masked=True)),
    "clv_distribution": ("CLV distribution", _part(selectors.customers_stats, "clv_distribution", masked=True)),
    "rfm": ("RFM segments", _part(selectors.customers_stats, "rfm", masked=True)),
    "products_most_viewed": ("Most viewed products", _part(selectors.products_stats, "most_viewed")),
    "products_top_revenue": ("Top revenue products", _part(selectors.products_stats, "top_revenue")),
    "products_most_abandoned": ("Most abandoned products", _part(selectors.products_stats, "most_abandoned")),
    "products_abandonment_rate": ("Product abandonment rate", _part(selectors.products_stats, "abandonment_rate")),
    "products_conversion": ("Product conversion", _part(selectors.products_stats, "conversion")),
    "carts_over_time": ("Carts over time", _part(selectors.carts_stats, "over_time", masked=True)),
    "cart_values": ("Abandoned cart values", _part(selectors.carts_stats, "value_distribution", masked=True)),
    "carts_by_age_group": ("Abandonment by age group", _part(selectors.carts_stats, "by_age_group", masked=True)),
    "carts_by_category": ("Abandonment by category", _part(selectors.carts_stats, "by_category", masked=True)),
    "abandoned_carts": ("Recovery list", _part(selectors.carts_stats, "recent_abandoned", masked=True)),
    "insights": ("Insights", lambda f, mask: selectors.insights_list(f)),
}


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    columns: list[str] | None = None
    for row in rows:
        if columns is None:
            columns = list(row.keys())
            yield writer.writerow(columns)
        yield writer.writerow([_cell(row.get(c)) for c in columns])
    if columns is None:
        yield writer.writerow(["no rows for these filters"])


# OWASP "CSV Injection" (and ASVS 1.2.10): a cell a spreadsheet would read as a formula starts with one
# of these. Line feed, NUL and the full-width forms (some spreadsheet locales read them as the ASCII
# ones) are refused too: prefixing a harmless cell costs nothing.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "＝", "＋", "－", "＠")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _cell(value: Any) -> Any:
    """A value for a CSV cell: numbers stay numbers, text a spreadsheet would run as a formula is
    prefixed with ``'`` (which spreadsheets read as "this is text")."""
    if isinstance(value, list | dict):
        value = json.dumps(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value  # no formula injection when opened in a spreadsheet
    return "" if value is None else value


@capability_required(EXPORT_DATA)
def export_csv(request: HttpRequest, table: str) -> HttpResponse | StreamingHttpResponse:
    if table not in EXPORTS:
        raise Http404("No such table")
    try:
        f = MetricFilter.from_query(request.GET)
    except FilterError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    _title, rows = EXPORTS[table]
    data = rows(f, _mask(request))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(_csv_lines(data), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}-{stamp}.csv"'
    return response
