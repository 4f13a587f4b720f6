"""insights_list: each sentence states the figure its evidence panel shows, claims "highest" or
"best" only where Wilson intervals separate, and says nothing from too little data."""

import calendar
import datetime as dt
import re

import pytest
from django.utils import timezone

from events.simulation import simulator_backfill
from insights import selectors, sentences
from insights.filters import MetricFilter
from insights.rebuild import analytics_rebuild
from insights.stats import wilson_interval
from products.models import Product

END = dt.datetime(2025, 12, 31, 23, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(db, settings):
    settings.STORE_TIME_ZONE = "UTC"
    simulator_backfill(days=60, customers=400, seed=11, end=END)
    analytics_rebuild(as_of=END + dt.timedelta(hours=2))


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%".replace(".0%", "%")  # as sentences.percent writes it


def test_sentences_state_the_figures_of_their_panels(store):
    f = MetricFilter(start=dt.date(2025, 12, 2), end=dt.date(2025, 12, 31))
    items = {i["kind"]: i for i in sentences.insights_list(f)}
    k = selectors.kpis_stats(f)
    season = selectors.seasonality_stats(f)
    carts = selectors.carts_stats(f)
    assert {"peak", "cart_abandonment", "aov"} <= set(items)

    busiest = max(season["weekday_hour"], key=lambda r: r["events"])  # first of equals: earliest slot
    hour = busiest["hour"] % 12 or 12
    day = calendar.day_name[busiest["weekday"]]
    assert items["peak"]["text"] == (f"Peak activity occurs at {hour} {'AM' if busiest['hour'] < 12 else 'PM'} "
                                     f"on {day}s.")
    assert items["peak"]["figure"] == f"{busiest['events']:,} events"

    ab = items["cart_abandonment"]
    assert ab["figure"] == _pct(k["cart_abandonment_rate"])
    assert f"${carts['revenue_left']:,.2f} left in carts" in ab["text"]
    assert 0.5 < k["cart_abandonment_rate"] < 0.9  # the simulator's ~70%

    assert items["aov"]["figure"] == f"${k['aov']:,.2f}"
    assert f"{k['orders']:,} orders" in items["aov"]["text"]
    change = (k["revenue"] - k["previous"]["revenue"]) / k["previous"]["revenue"]
    if abs(change) >= 0.05:  # a trend is mentioned only when it is one
        assert items["revenue_trend"]["figure"] == _pct(change)
        assert ("up" if change > 0 else "down") in items["revenue_trend"]["text"]
    else:
        assert "revenue_trend" not in items

    for item in items.values():
        assert item["link"].endswith("?" + f.to_query())


def test_best_and_highest_only_where_intervals_separate(store):
    f = MetricFilter(start=dt.date(2025, 11, 2), end=dt.date(2025, 12, 31))
    items = {i["kind"]: i for i in sentences.insights_list(f)}
    groups = [g for g in selectors.customers_stats(f)["age_groups"] if g["age_group"] != "unknown"]
    if "age_conversion" in items:
        m = re.match(r"Customers aged (\S+) convert best", items["age_conversion"]["text"])
        best = next(g for g in groups if g["age_group"].replace("-", "–") == m.group(1) or g["age_group"] == m.group(1))
        assert all(best["ci_low"] > g["ci_high"] for g in groups if g is not best and g["sessions"] >= 20)
    else:  # no group stands apart: then the intervals of the top two overlap
        top = sorted((g for g in groups if g["sessions"] >= 20), key=lambda g: -g["conversion"])[:2]
        assert len(top) < 2 or top[0]["ci_low"] <= top[1]["ci_high"]
    if "product_abandonment" in items:
        title = items["product_abandonment"]["text"].split(" has the highest")[0]
        assert Product.objects.filter(title=title).exists()


def test_no_trend_against_a_period_the_history_only_partly_covers(store):
    f = MetricFilter(start=dt.date(2025, 11, 20), end=dt.date(2025, 12, 31))  # previous: 9 Oct – 19 Nov
    previous = selectors.kpis_stats(f)["previous"]
    assert previous["orders"] >= 20 and previous["revenue"] > 0  # enough orders, but from 1 Nov only
    assert "revenue_trend" not in {i["kind"] for i in sentences.insights_list(f)}


def test_too_little_data_says_nothing(db):
    now = timezone.now()
    simulator_backfill(days=0.05, customers=5, seed=3, end=now)  # an hour or so: a handful of carts
    analytics_rebuild(as_of=now + dt.timedelta(hours=1))
    today = now.date()
    kinds = {i["kind"] for i in sentences.insights_list(MetricFilter(start=today - dt.timedelta(days=1), end=today))}
    assert not kinds & {"cart_abandonment", "product_abandonment", "age_conversion", "aov", "revenue_trend"}


def test_wilson_interval_is_what_the_sentence_quotes():
    low, high = wilson_interval(124, 1000)
    assert 0.10 < low < 0.124 < high < 0.15
