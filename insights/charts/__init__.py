"""Pure chart builders: selector output in, ``plotly.graph_objects.Figure`` out.

Nothing here touches the ORM or the request: every function takes the JSON-shaped data the
selectors return (``insights.selectors``, see the metrics contract) and returns a figure, or
plain data for the page (KPI cards). Empty inputs give a figure that says so instead of an error.

One module per page family (``overview``, ``funnel``, ``seasonality``, ``customers``, ``products``,
``carts``, ``cohorts``, ``acquisition``); ``common`` holds the palette, labels and helpers. Callers
use ``from insights import charts`` and ``charts.<name>``: everything is re-exported here.
"""

from insights.charts.acquisition import acquisition_page_figures, attribution_figure, channel_conversion_figure
from insights.charts.carts import cart_value_figure, carts_over_time_figure, carts_page_figures, rate_interval_figure
from insights.charts.cohorts import (
    cohort_heatmap_figure,
    cohorts_page_figures,
    ltv_curves_figure,
    orders_per_customer_figure,
)
from insights.charts.common import bucket_label, empty_figure, label_text
from insights.charts.customers import (
    age_groups_figure,
    clv_distribution_figure,
    customer_activity_figure,
    customers_page_figures,
    rfm_figure,
)
from insights.charts.funnel import (
    funnel_breakdown_figure,
    funnel_dropoff_figure,
    funnel_figure,
    funnel_page_figures,
)
from insights.charts.overview import KPI_CARDS, events_over_time_figure, format_value, kpi_cards
from insights.charts.palette import BLUE, GREEN, GREY, METRICS, ORANGE, PURPLE, RED, STEP_COLOURS, STEP_LABELS
from insights.charts.products import (
    product_bar_figure,
    product_conversion_figure,
    products_page_figures,
    top_revenue_figure,
)
from insights.charts.seasonality import heatmap_figure, seasonality_figure, seasonality_page_figures
from insights.labels import MONTHS, WEEKDAYS

__all__ = [
    "acquisition_page_figures", "attribution_figure", "channel_conversion_figure",
    "BLUE", "GREEN", "GREY", "KPI_CARDS", "METRICS", "MONTHS", "ORANGE", "PURPLE", "RED", "STEP_COLOURS",
    "STEP_LABELS", "WEEKDAYS", "age_groups_figure", "bucket_label", "cart_value_figure", "carts_over_time_figure",
    "carts_page_figures", "clv_distribution_figure", "cohort_heatmap_figure", "cohorts_page_figures",
    "ltv_curves_figure", "orders_per_customer_figure", "customer_activity_figure", "customers_page_figures",
    "empty_figure", "events_over_time_figure", "format_value", "funnel_breakdown_figure", "funnel_dropoff_figure",
    "funnel_figure", "funnel_page_figures", "heatmap_figure", "kpi_cards", "label_text", "product_bar_figure",
    "product_conversion_figure", "products_page_figures", "rate_interval_figure", "rfm_figure",
    "seasonality_figure", "seasonality_page_figures", "top_revenue_figure",
]
