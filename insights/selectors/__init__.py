"""Reads for the dashboards and the JSON API: one module per panel family (definitions: docs/metrics.md).

Every panel reads rollups (never the event table); the customer drill-down and the recent lists use
indexed look-ups with a LIMIT. Money is a float rounded to 2 dp, rates are fractions or None. Selectors
return the real values: personal data is masked where output leaves the server (``insights.shaping``).

Filter semantics:
- date range (store days, end inclusive): events and revenue by their own time; sessions, carts,
  orders and funnel steps by the session's start.
- actions: restrict event counts (events, timeseries, seasonality events). Revenue, orders, sessions
  and carts are not event counts and ignore it.
- age_group: the customer's age group, everywhere.
- category: events and revenue of that category's products; the sessions that touched it, the carts
  it was added to, and orders with a line in it. The distinct-customer count, seasonality by hour,
  CLV and RFM do not have a category dimension and ignore it.
- cohorts and affinity say how each filter applies in their own modules.
- segment: the customers currently in that RFM segment; answered from the day × customer rollup
  (KPIs, funnel, timeseries by day, customers, carts over time and rates). Seasonality and
  products ignore it (they have no customer dimension).
- channel: the session's traffic channel. Figures built from sessions are cut by it (KPIs, timeseries,
  funnel, seasonality, carts, customers' conversion and top customers, acquisition): events, orders
  and revenue of the channel's sessions, by the session's start, revenue before refunds (refunds are
  not attributed). Products, cohorts, pairs, coupons, CLV and RFM are not; with a segment it is not
  applied. ``channel_scope`` holds that table and what the API and pages say about it.

Modules: ``kpis``, ``timeseries``, ``funnel``, ``seasonality``, ``customers`` (with the drill-down),
``products``, ``carts``, ``acquisition`` (traffic sources, people), ``channel_scope``, ``coupons`` (the
one panel reading the period's order lines), ``revenue_source`` (browser-reported or verified revenue),
``rfm`` (the kept scores), ``cohorts`` (retention; ``segment_retention`` for an RFM segment's),
``affinity``, ``freshness`` (comparisons
and derivation lag), ``latest`` (feed, filter choices); ``_common`` holds the query helpers they share.
The insight sentences built from these figures are in ``insights.sentences``.
"""

from insights.selectors.acquisition import acquisition_stats
from insights.selectors.affinity import affinity_stats
from insights.selectors.carts import carts_stats
from insights.selectors.channel_scope import page_channel_notes, panel_channel_flags
from insights.selectors.cohorts import cohorts_stats
from insights.selectors.coupons import coupons_stats
from insights.selectors.customers import customer_detail, customers_stats
from insights.selectors.freshness import (
    FRESHNESS_GRACE_SECONDS,
    bot_events_excluded,
    data_first_day,
    derivation_status,
    previous_period_comparison,
    sample_rates_note,
)
from insights.selectors.funnel import funnel_stats
from insights.selectors.kpis import KPI_KEYS, kpis_stats
from insights.selectors.latest import events_latest, filter_choices
from insights.selectors.products import product_figures, products_stats
from insights.selectors.revenue_source import revenue_source_stats
from insights.selectors.rfm import rfm_assignments
from insights.selectors.seasonality import seasonality_stats
from insights.selectors.timeseries import events_timeseries

__all__ = [
    "acquisition_stats",
    "affinity_stats",
    "cohorts_stats",
    "FRESHNESS_GRACE_SECONDS",
    "KPI_KEYS",
    "carts_stats",
    "page_channel_notes",
    "panel_channel_flags",
    "coupons_stats",
    "customer_detail",
    "customers_stats",
    "data_first_day",
    "bot_events_excluded",
    "derivation_status",
    "events_latest",
    "events_timeseries",
    "filter_choices",
    "funnel_stats",
    "kpis_stats",
    "revenue_source_stats",
    "previous_period_comparison",
    "product_figures",
    "products_stats",
    "rfm_assignments",
    "sample_rates_note",
    "seasonality_stats",
]
