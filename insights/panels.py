"""The dashboard's panels by name, read for a filter and shaped for a role: what the JSON API
(``/api/v1/metrics/<panel>``) and the CSV exports serve."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from insights import selectors, sentences
from insights.filters import MetricFilter
from insights.shaping import panel_shaped

PANEL_READERS: dict[str, Callable[..., Any]] = {
    "kpis": selectors.kpis_stats,
    "timeseries": selectors.events_timeseries,
    "funnel": selectors.funnel_stats,
    "seasonality": selectors.seasonality_stats,
    "customers": selectors.customers_stats,
    "products": selectors.products_stats,
    "carts": selectors.carts_stats,
    "coupons": selectors.coupons_stats,
    "cohorts": selectors.cohorts_stats,
    "affinity": selectors.affinity_stats,
    "acquisition": selectors.acquisition_stats,
    "insights": sentences.insights_list,
}


def panel_answer(panel: str, f: MetricFilter, *, masked: bool, **options: Any) -> Any:
    """The answer of ``panel`` (a ``PANEL_READERS`` key) for ``f`` as a role sees it (``masked``: without
    personal data); ``options`` go to the selector (the funnel's ``breakdown``)."""
    return panel_shaped(panel, PANEL_READERS[panel](f, **options), masked=masked)
