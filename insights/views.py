"""Dashboard pages and CSV exports.

Thin: parse the filter from the query string, call the selectors (``insights.selectors``), turn
their output into figures (``insights.charts``) and render. Roles are checked here, on the server:
every page needs VIEW_DASHBOARD, exports need EXPORT_DATA, and personal data is masked
(``insights.shaping``) unless the user has VIEW_PERSONAL_DATA. Higher apps add to a page through
``insights.extensions`` (the ML app's cart predictions and open-cart lists).
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
from accounts.roles import EXPORT_DATA, VIEW_CUSTOMER_DETAIL, VIEW_DASHBOARD
from customers.models import Customer
from insights import charts, page_filters, selectors, sentences
from insights.clv.selectors import clv_customer_prediction, clv_slipping_away
from insights.extensions import page_extensions
from insights.filters import FilterError, MetricFilter
from insights.panels import panel_answer
from insights.selectors.affinity import count_param
from insights.selectors.cohorts import cohort_filter
from insights.shaping import (
    carts_shaped,
    customer_detail_shaped,
    customers_shaped,
    hides_personal_data,
    slipping_away_shaped,
)
from products.models import Product

SEASONALITY_METRICS = ["events", "orders", "revenue", "conversion"]
BREAKDOWNS = {"age_group": "age group", "category": "category"}
SLIPPING_ROWS = 20  # on the customers page; the CSV export has up to 1,000
# The dashboard pages of the navigation (templates/base.html), each linked with the filters it keeps.
NAV_PAGES = ("overview", "funnel", "seasonality", "customers", "products", "cohorts", "carts", "acquisition",
             "insights", "explorer")


# --- helpers ---------------------------------------------------------------------------------

def _masked(request: HttpRequest) -> bool:
    return hides_personal_data(request.user)


def _filter(request: HttpRequest) -> tuple[MetricFilter, str | None]:
    """The page's filter, or the default one with a message the page shows."""
    return MetricFilter.from_query_or_default(request.GET)


def _figure_json(fig: Any) -> str:
    # Safe inside <script type="application/json">: no "</script>" or HTML can break out.
    return fig.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _render(request: HttpRequest, template: str, page: str, f: MetricFilter, filter_error: str | None,
            figures: dict[str, Any], **context: Any) -> HttpResponse:
    """Render ``insights/<name>.html`` with the filter bar, charts, freshness banner and ``context``, plus
    what the extensions registered for page ``<name>`` add (``insights.extensions``; e.g. the ML app's
    ``cart_predictions`` on "customer_detail" and its HTML ``fragments`` on "carts"). The navigation's
    links and the form's hidden inputs carry the filters from page to page (``insights.page_filters``)."""
    choices = selectors.filter_choices()
    period = page_filters.carried_period(page, f, request.GET)
    ctx: dict[str, Any] = {
        "page": page,
        "filter": f,
        "filter_error": filter_error,
        "query": f.to_query(),
        "nav_queries": {target: page_filters.nav_query(target, page, f, period) for target in NAV_PAGES},
        "form_fields": page_filters.form_fields(page),
        "hidden_filters": page_filters.hidden_inputs(page, f, period),
        "ignored_here": page_filters.ignored_names(page, f),
        "ignored_notes": page_filters.ignored_notes(page, f, period),
        "choices": choices,
        "charts": {name: _figure_json(fig) for name, fig in figures.items()},
        "store_time_zone": settings.STORE_TIME_ZONE,
        "freshness": selectors.derivation_status(),  # the banner in _freshness.html
        "bots_excluded": selectors.bot_events_excluded(),  # events of known bots, left out
        "sample_rates_note": selectors.sample_rates_note(f),  # money converted with the shipped sample rates
        "channel_notes": selectors.page_channel_notes(page, f),  # what the channel filter does not cut here
        **context,
    }
    extension_page = template.rsplit("/", 1)[-1].removesuffix(".html")
    ctx.update(page_extensions(extension_page, request, ctx))
    return render(request, template, ctx)


def _min_orders(request: HttpRequest) -> dict[str, int]:
    """Affinity's ``min_orders`` from the query (a bad value: the default)."""
    try:
        n = count_param(request.GET, "min_orders")
    except ValueError:
        n = None
    return {"min_baskets": n} if n else {}


# --- pages -----------------------------------------------------------------------------------

@capability_required(VIEW_DASHBOARD)
def overview(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    kpis = selectors.kpis_stats(f)
    series = selectors.events_timeseries(f)
    feed = selectors.events_latest(20)
    return _render(request, "insights/overview.html", "overview", f, error,
                   {"events_over_time": charts.events_over_time_figure(series)},
                   cards=charts.kpi_cards(kpis), kpis=kpis, feed=feed, grain=series.get("grain"),
                   insights=sentences.insights_list(f)[:3], coupons=selectors.coupons_stats(f))


@capability_required(VIEW_DASHBOARD)
def funnel(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    breakdown = request.GET.get("breakdown") or None
    if breakdown not in BREAKDOWNS:
        breakdown = None
    stats = selectors.funnel_stats(f, breakdown=breakdown)
    figures = charts.funnel_page_figures(stats, breakdown=bool(breakdown))
    return _render(request, "insights/funnel.html", "funnel", f, error, figures, stats=stats,
                   breakdown=breakdown, breakdowns=BREAKDOWNS, step_labels=charts.STEP_LABELS)


@capability_required(VIEW_DASHBOARD)
def seasonality(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    metric = request.GET.get("metric") or "events"
    if metric not in SEASONALITY_METRICS:
        metric = "events"
    stats = selectors.seasonality_stats(f)
    figures = charts.seasonality_page_figures(stats, metric)
    return _render(request, "insights/seasonality.html", "seasonality", f, error, figures, stats=stats,
                   metric=metric, metrics=[(m, charts.METRICS[m]) for m in SEASONALITY_METRICS])


@capability_required(VIEW_DASHBOARD)
def customers(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    stats = customers_shaped(selectors.customers_stats(f), masked=_masked(request))
    # Per-customer predictions are for roles that may see a single customer (docs/security.md).
    slipping = (slipping_away_shaped(clv_slipping_away(limit=SLIPPING_ROWS), masked=_masked(request))
                if request.user.can(VIEW_CUSTOMER_DETAIL) else None)
    return _render(request, "insights/customers.html", "customers", f, error, charts.customers_page_figures(stats),
                   stats=stats, slipping=slipping)


@capability_required(VIEW_CUSTOMER_DETAIL)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    f, error = _filter(request)
    try:
        detail = customer_detail_shaped(selectors.customer_detail(pk), masked=_masked(request))
    except Customer.DoesNotExist:
        raise Http404("No such customer") from None
    return _render(request, "insights/customer_detail.html", "customers", f, error,
                   {"activity": charts.customer_activity_figure(detail)}, detail=detail, customer_pk=pk,
                   clv=clv_customer_prediction(customer_pk=pk))


@capability_required(VIEW_DASHBOARD)
def products(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    stats = selectors.products_stats(f)
    return _render(request, "insights/products.html", "products", f, error, charts.products_page_figures(stats),
                   stats=stats, affinity=selectors.affinity_stats(f, **_min_orders(request)))


@capability_required(VIEW_DASHBOARD)
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One product's figures and what is bought with it (aggregates only)."""
    f, error = _filter(request)
    product = Product.objects.filter(pk=pk).values("pk", "external_id", "title", "category", "price").first()
    if product is None:
        raise Http404("No such product")
    affinity = selectors.affinity_stats(f, product_pk=pk, **_min_orders(request))
    return _render(request, "insights/product_detail.html", "products", f, error, {}, product=product,
                   affinity=affinity, product_stats=selectors.product_figures(f, pk))


@capability_required(VIEW_DASHBOARD)
def cohorts(request: HttpRequest) -> HttpResponse:
    """Retention: open to viewers (docs/security.md), aggregates only."""
    f, error = _filter(request)
    f = cohort_filter(f, request.GET)
    stats = selectors.cohorts_stats(f)
    return _render(request, "insights/cohorts.html", "cohorts", f, error, charts.cohorts_page_figures(stats),
                   stats=stats)


@capability_required(VIEW_DASHBOARD)
def carts(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    stats = carts_shaped(selectors.carts_stats(f), masked=_masked(request))
    return _render(request, "insights/carts.html", "carts", f, error, charts.carts_page_figures(stats), stats=stats)


@capability_required(VIEW_DASHBOARD)
def acquisition(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    stats = selectors.acquisition_stats(f)
    items = [i for i in sentences.insights_list(f) if i["kind"] == "channel_conversion"]
    return _render(request, "insights/acquisition.html", "acquisition", f, error,
                   charts.acquisition_page_figures(stats), stats=stats, items=items)


@capability_required(VIEW_DASHBOARD)
def insights(request: HttpRequest) -> HttpResponse:
    f, error = _filter(request)
    return _render(request, "insights/insights.html", "insights", f, error, {},
                   items=sentences.insights_list(f))


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

ExportRows = Callable[[MetricFilter, bool], Iterable[dict[str, Any]]]


def _panel_list(panel: str, key: str | None = None) -> ExportRows:
    """The rows of the list ``key`` in ``panel``'s answer (the answer itself when it is a list), as the
    user's role may see them (``masked``: without personal data)."""

    def rows(f: MetricFilter, masked: bool) -> Iterable[dict[str, Any]]:
        answer = panel_answer(panel, f, masked=masked)
        return answer if key is None else answer[key]

    return rows


def _cohort_cells(f: MetricFilter, masked: bool) -> Iterable[dict[str, Any]]:
    """One row per (cohort, month N): the retention matrix as a table (aggregates only)."""
    for c in panel_answer("cohorts", f, masked=masked)["cohorts"]:
        for cell in c["cells"]:
            yield {"cohort": c["cohort"], "cohort_customers": c["customers"], **cell}


def _pairs(f: MetricFilter, masked: bool) -> Iterable[dict[str, Any]]:
    answer = panel_answer("affinity", f, masked=masked)
    for kind in ("orders", "carts"):
        for p in answer[kind]["pairs"]:
            yield {"basket": kind, "product_a": p["product_a"].get("external_id"),
                   "title_a": p["product_a"].get("title"), "product_b": p["product_b"].get("external_id"),
                   "title_b": p["product_b"].get("title"), "baskets": p["baskets"], "support": p["support"],
                   "confidence_ab": p["confidence_ab"], "confidence_ba": p["confidence_ba"], "lift": p["lift"]}


# table → (title, rows for a filter and a role)
EXPORTS: dict[str, tuple[str, ExportRows]] = {
    "events_over_time": ("Events over time", _panel_list("timeseries", "points")),
    "latest_events": ("Latest events", lambda f, masked: selectors.events_latest(500)),  # no personal data
    "funnel": ("Funnel", _panel_list("funnel", "steps")),
    "seasonality_hour": ("Seasonality by hour", _panel_list("seasonality", "hour")),
    "seasonality_weekday": ("Seasonality by weekday", _panel_list("seasonality", "weekday")),
    "seasonality_month": ("Seasonality by month", _panel_list("seasonality", "month")),
    "seasonality_weekday_hour": ("Weekday × hour", _panel_list("seasonality", "weekday_hour")),
    "age_groups": ("Age groups", _panel_list("customers", "age_groups")),
    "top_customers": ("Top customers", _panel_list("customers", "top_customers")),
    "clv_distribution": ("CLV distribution", _panel_list("customers", "clv_distribution")),
    "rfm": ("RFM segments", _panel_list("customers", "rfm")),
    "products_most_viewed": ("Most viewed products", _panel_list("products", "most_viewed")),
    "products_top_revenue": ("Top revenue products", _panel_list("products", "top_revenue")),
    "products_most_abandoned": ("Most abandoned products", _panel_list("products", "most_abandoned")),
    "products_abandonment_rate": ("Product abandonment rate", _panel_list("products", "abandonment_rate")),
    "products_conversion": ("Product conversion", _panel_list("products", "conversion")),
    "products_refund_rate": ("Product refund rate", _panel_list("products", "refund_rate")),
    "top_coupons": ("Top coupons", _panel_list("coupons", "top_coupons")),
    "carts_over_time": ("Carts over time", _panel_list("carts", "over_time")),
    "cart_values": ("Abandoned cart values", _panel_list("carts", "value_distribution")),
    "carts_by_age_group": ("Abandonment by age group", _panel_list("carts", "by_age_group")),
    "carts_by_category": ("Abandonment by category", _panel_list("carts", "by_category")),
    "abandoned_carts": ("Recovery list", _panel_list("carts", "recent_abandoned")),
    "acquisition_channels": ("Acquisition by channel", _panel_list("acquisition", "channels")),
    "acquisition_source_medium": ("Acquisition by source / medium", _panel_list("acquisition", "source_medium")),
    "acquisition_campaigns": ("Acquisition by campaign", _panel_list("acquisition", "campaigns")),
    "acquisition_attribution": ("First- and last-touch revenue", _panel_list("acquisition", "attribution")),
    "insights": ("Insights", _panel_list("insights")),
    "slipping_away": ("Valuable customers slipping away",
                      lambda f, masked: slipping_away_shaped(clv_slipping_away(), masked=masked)["rows"]),
    "cohort_retention": ("Cohort retention", _cohort_cells),
    "product_pairs": ("Products bought or carted together", _pairs),
}


class _EchoBuffer:
    """A file for csv.writer that hands each written line back instead of keeping it (for streaming)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_EchoBuffer())
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
    data = rows(f, _masked(request))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(_csv_lines(data), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}-{stamp}.csv"'
    return response
