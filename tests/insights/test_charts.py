"""Pure chart builders: contract-shaped selector output in, Plotly figures out."""

import plotly.graph_objects as go
import pytest

from insights import charts
from tests.insights import samples


def _is_empty(fig: go.Figure) -> bool:
    return len(fig.data) == 0 and any("No " in (a.text or "") for a in fig.layout.annotations)


def test_kpi_cards_compare_with_previous_period():
    cards = {c["key"]: c for c in charts.kpi_cards(samples.KPIS)}
    assert cards["events"]["display"] == "1,200"
    assert cards["events"]["change_text"] == "+20%" and cards["events"]["good"] is True
    assert cards["events"]["note"] == ""
    # No percentage of zero: the card says what the previous period held instead.
    assert cards["revenue"]["display"] == "$5,234.50" and cards["revenue"]["change_text"] == ""
    assert cards["revenue"]["change"] is None and cards["revenue"]["note"] == "$0.00 in prev. period"
    assert cards["revenue"]["direction"] == "flat" and cards["revenue"]["good"] is None
    # Rates change in percentage points; abandonment going down is good.
    assert cards["cart_abandonment_rate"]["change_text"] == "-5.0 pp"
    assert cards["cart_abandonment_rate"]["good"] is True
    assert cards["customers"]["direction"] == "flat" and cards["customers"]["good"] is None
    assert cards["customers"]["change_text"] == "+0%"
    # No previous value (no buyers then): no change, said so.
    assert cards["avg_clv"]["change_text"] == "" and cards["avg_clv"]["previous_display"] == "—"
    assert cards["avg_clv"]["note"] == "none in prev. period"


def test_kpi_cards_without_previous_period_or_values():
    cards = charts.kpi_cards({"events": 0, "aov": None})
    assert [c["display"] for c in cards[:1]] == ["0"]
    assert next(c for c in cards if c["key"] == "aov")["display"] == "—"
    # No comparison block at all: no delta is ever made up.
    assert all(c["change"] is None and c["change_text"] == "" and c["note"] == "no comparison" for c in cards)


def test_kpi_cards_refuse_a_previous_period_the_data_does_not_cover():
    kpis = dict(samples.KPIS, previous=dict(samples.KPIS["previous"], comparison={
        "available": False, "reason": "data starts 2026-11-20", "data_starts": "2026-11-20"}))
    cards = charts.kpi_cards(kpis)
    for c in cards:
        assert c["change"] is None and c["change_text"] == "" and c["good"] is None and c["direction"] == "flat"
        assert c["note"] == "no comparison: data starts 20 Nov 2026"
        assert c["previous_display"] == "—"
    reason_only = dict(samples.KPIS, previous={"comparison": {"available": False, "reason": "no data yet",
                                                              "data_starts": None}})
    assert charts.kpi_cards(reason_only)[0]["note"] == "no comparison: no data yet"


def test_kpi_cards_against_zero_and_missing_values():
    kpis = {"events": 0, "revenue": 0.0, "aov": None, "cart_conversion_rate": 0.5, "orders": 3,
            "previous": {"events": 0, "revenue": 0.0, "aov": 25.0, "cart_conversion_rate": 0.0, "orders": None,
                         "comparison": {"available": True, "reason": None, "data_starts": "2024-01-01"}}}
    cards = {c["key"]: c for c in charts.kpi_cards(kpis)}
    assert cards["events"]["note"] == "0 in prev. period" and cards["events"]["change"] is None
    assert cards["revenue"]["note"] == "$0.00 in prev. period" and cards["revenue"]["change_text"] == ""
    assert cards["aov"]["note"] == "$25.00 in prev. period" and cards["aov"]["change"] is None
    # A rate from zero is a change in percentage points, which is well defined.
    assert cards["cart_conversion_rate"]["change_text"] == "+50.0 pp" and cards["cart_conversion_rate"]["good"]
    assert cards["orders"]["note"] == "none in prev. period"


def test_events_over_time_has_events_and_revenue_traces():
    fig = charts.events_over_time_figure(samples.TIMESERIES)
    assert [t.name for t in fig.data] == ["Events", "Net revenue"]
    assert list(fig.data[0].y) == [10, 30]
    assert fig.data[1].yaxis == "y2"


def test_funnel_figures():
    fig = charts.funnel_figure(samples.FUNNEL)
    assert isinstance(fig.data[0], go.Funnel)
    assert list(fig.data[0].x) == [100, 40, 20, 10]
    assert list(fig.data[0].y) == ["Viewed", "Added to cart", "Checkout", "Purchased"]
    breakdown = charts.funnel_breakdown_figure(samples.FUNNEL)
    assert [t.name for t in breakdown.data] == ["Added to cart", "Checkout", "Purchased"]
    assert list(breakdown.data[2].y) == [0.1, 0.05]
    drop = charts.funnel_dropoff_figure(samples.FUNNEL)
    assert list(drop.data[0].y) == [0.0, 0.0, 400.0, 300.0]


@pytest.mark.parametrize("dimension,count,first", [("hour", 24, "00"), ("weekday", 7, "Mon"), ("month", 12, "Jan")])
@pytest.mark.parametrize("metric", ["events", "orders", "revenue", "conversion"])
def test_seasonality_bars_for_each_dimension_and_metric(dimension, count, first, metric):
    fig = charts.seasonality_figure(samples.SEASONALITY, dimension, metric)
    assert len(fig.data[0].x) == count and fig.data[0].x[0] == first
    assert fig.data[0].y[1] == samples.SEASONALITY[dimension][1][metric]
    assert (fig.layout.yaxis.tickformat == ".0%") == (metric == "conversion")


def test_heatmap_places_weekday_hour_cells():
    fig = charts.heatmap_figure(samples.SEASONALITY, "orders")
    z = fig.data[0].z
    assert len(z) == 7 and len(z[0]) == 24
    assert z[2][5] == (2 + 5) % 3  # weekday 2, hour 5
    assert list(fig.data[0].y) == charts.WEEKDAYS


def test_customer_figures_with_intervals():
    fig = charts.age_groups_figure(samples.CUSTOMERS)
    # The group without sessions is left out; error bars are the distances to the interval ends.
    assert list(fig.data[0].x) == ["18-25"]
    assert fig.data[0].error_y.array[0] == pytest.approx(0.13)
    assert fig.data[0].error_y.arrayminus[0] == pytest.approx(0.06)
    clv = charts.clv_distribution_figure(samples.CUSTOMERS)
    assert list(clv.data[0].x) == ["$0–50", "$50–100"]
    rfm = charts.rfm_figure(samples.CUSTOMERS)
    assert list(rfm.data[0].y) == ["Champions"]
    activity = charts.customer_activity_figure(samples.CUSTOMER_DETAIL)
    assert {t.name for t in activity.data} == {"view", "purchase"}


def test_product_figures():
    fig = charts.product_bar_figure(samples.PRODUCTS["most_viewed"], "views", label="Views")
    # Best at the top: horizontal bars are drawn bottom-up, so the list is reversed.
    assert list(fig.data[0].x) == [20.0, 50.0]
    assert fig.data[0].y[1].endswith("…") and len(fig.data[0].y[1]) == 28
    rate = charts.product_bar_figure(samples.PRODUCTS["abandonment_rate"], "rate", label="Rate", percent=True)
    assert rate.layout.xaxis.tickformat == ".0%"
    conv = charts.product_conversion_figure(samples.PRODUCTS["conversion"])
    assert [t.name for t in conv.data] == ["Cart-to-view", "Purchase-to-view"]
    assert list(conv.data[1].y) == [0.1]


def test_cart_figures():
    fig = charts.carts_over_time_figure(samples.CARTS)
    assert [t.name for t in fig.data] == ["Converted", "Abandoned", "Emptied", "Abandonment rate"]
    assert fig.layout.barmode == "stack"
    # One day of points: the time axis is padded instead of spanning microseconds.
    assert fig.layout.xaxis.range[0].startswith("2023-12-31")
    assert list(charts.cart_value_figure(samples.CARTS).data[0].x) == ["$0–25"]
    assert charts.bucket_label({"bucket_low": 1000, "bucket_high": None, "carts": 1}) == "$1,000+"
    by_age = charts.rate_interval_figure(samples.CARTS["by_age_group"], "age_group")
    assert list(by_age.data[0].x) == ["18-25"]
    assert by_age.data[0].error_y.array[0] == pytest.approx(0.81 - 5 / 9)


def test_empty_inputs_give_a_message_not_an_error():
    e = samples.EMPTY
    figures = [
        charts.events_over_time_figure(e["timeseries"]),
        charts.funnel_figure(e["funnel"]),
        charts.funnel_breakdown_figure(e["funnel"]),
        charts.funnel_dropoff_figure(e["funnel"]),
        charts.seasonality_figure(e["seasonality"], "hour"),
        charts.heatmap_figure(e["seasonality"]),
        charts.age_groups_figure(e["customers"]),
        charts.clv_distribution_figure(e["customers"]),
        charts.rfm_figure(e["customers"]),
        charts.customer_activity_figure({"timeline": []}),
        charts.product_bar_figure([], "views", label="Views"),
        charts.product_conversion_figure([]),
        charts.carts_over_time_figure(e["carts"]),
        charts.cart_value_figure(e["carts"]),
        charts.rate_interval_figure([], "category"),
    ]
    assert all(_is_empty(f) for f in figures)


def test_figures_serialise_to_json():
    fig = charts.heatmap_figure(samples.SEASONALITY, "conversion")
    assert '"type":"heatmap"' in fig.to_json().replace(" ", "")


def test_events_over_time_shows_gross_beside_net_when_they_differ():
    series = {"grain": "day", "points": [{"t": "2024-03-04", "events": 3, "orders": 1, "revenue": 80.0,
                                          "gross_revenue": 100.0}]}
    fig = charts.events_over_time_figure(series)
    assert [t.name for t in fig.data] == ["Events", "Net revenue", "Gross revenue"]
    assert list(fig.data[2].y) == [100.0]


def test_amounts_show_the_store_currency(settings):
    settings.STORE_CURRENCY = "EUR"
    cards = {c["key"]: c for c in charts.kpi_cards({"revenue": 1234.5, "previous": {}})}
    assert cards["revenue"]["display"] == "€1,234.50"
    fig = charts.events_over_time_figure({"grain": "day", "points": [
        {"t": "2024-03-04", "events": 3, "orders": 1, "revenue": 80.0, "gross_revenue": 100.0}]})
    assert fig.layout.yaxis2.tickprefix == "€" and "net €" in fig.data[1].hovertemplate
