"""What each dashboard page's PDF holds, from the same selectors and pure chart builders as the page
(docs/alerts-and-reports.md#pdf-reports): its KPI cards, figures, tables and sentences. Aggregates only:
no customer's name or e-mail goes into a report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from insights import charts, selectors, sentences
from insights.filters import MetricFilter
from insights.selectors.cohorts import cohort_filter


@dataclass
class ReportPage:
    title: str
    cards: list[dict[str, Any]] = field(default_factory=list)  # insights.charts.kpi_cards
    figures: dict[str, Any] = field(default_factory=dict)  # name → plotly figure
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)  # title, headers, rows
    sentences: list[str] = field(default_factory=list)


def _overview(f: MetricFilter) -> ReportPage:
    kpis = selectors.kpis_stats(f)
    return ReportPage("Overview", cards=charts.kpi_cards(kpis),
                      figures={"Events over time": charts.events_over_time_figure(selectors.events_timeseries(f))},
                      sentences=[i["text"] for i in sentences.insights_list(f)[:3]])


def _funnel(f: MetricFilter) -> ReportPage:
    stats = selectors.funnel_stats(f)
    rows = [[charts.STEP_LABELS.get(s["step"], s["step"]), s["sessions"], s.get("rate_from_previous"),
             s.get("rate_from_first")] for s in stats.get("steps", [])]
    return ReportPage("Funnel", figures=_titled(charts.funnel_page_figures(stats, breakdown=False)),
                      tables=[("Steps", ["step", "sessions", "from the step before", "from the first step"], rows)])


def _titled(figures: dict[str, Any]) -> dict[str, Any]:
    return {name.replace("_", " ").capitalize(): fig for name, fig in figures.items()}


def _simple(title: str, stats_of: Callable[[MetricFilter], Any], figures_of: Callable[[Any], dict]) -> Callable:
    return lambda f: ReportPage(title, figures=_titled(figures_of(stats_of(f))))


PAGES: dict[str, Callable[[MetricFilter], ReportPage]] = {
    "overview": _overview,
    "funnel": _funnel,
    "seasonality": _simple("Seasonality", selectors.seasonality_stats,
                           lambda s: charts.seasonality_page_figures(s, "events")),
    "customers": _simple("Customers", selectors.customers_stats, charts.customers_page_figures),
    "products": _simple("Products", selectors.products_stats, charts.products_page_figures),
    "cohorts": _simple("Cohorts", selectors.cohorts_stats, charts.cohorts_page_figures),
    "carts": _simple("Abandoned carts", selectors.carts_stats, charts.carts_page_figures),
    "acquisition": _simple("Acquisition", selectors.acquisition_stats, charts.acquisition_page_figures),
    "insights": lambda f: ReportPage("Insights", sentences=[i["text"] for i in sentences.insights_list(f)]),
}


def report_page(page: str, f: MetricFilter, params: Any) -> ReportPage:
    """The report of ``page`` for filter ``f`` (``params``: the query, for the cohorts page's own range)."""
    return PAGES[page](cohort_filter(f, params) if page == "cohorts" else f)
