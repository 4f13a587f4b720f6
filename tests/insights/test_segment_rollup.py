"""The segment × day rollup and the segments' retention rows (insights.segment_store,
docs/metrics.md#rfm-segments): segment-filtered panels read them and give what the per-customer sums over
the segment's day × customer rows gave (the reference, ``ROLLUP_READS = False``), on the hand-built store
and on drawn streams (fixed seeds) with refunds, discounts and abandoned carts; and the kept scores'
refresh throttle (``rfm_refresh_if_due``)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from customers.models import Customer
from events.services import events_ingest
from insights import selectors
from insights.filters import RFM_SEGMENTS, MetricFilter
from insights.kept_models import SegmentBuyerOrders, SegmentCohortMonthly, SegmentDaily, SegmentOrderGap
from insights.models import CustomerRfm, RfmRefresh
from insights.retention import months_between
from insights.rfm_store import rfm_refresh, rfm_refresh_if_due
from insights.selectors import segment_days
from insights.selectors.cohorts import cohort_month_one
from insights.sentences import insights_list
from insights.services import analytics_process_pending
from tests.factories import ProductFactory
from tests.insights.store_fixture import DAY, build_store

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 5, 6, 8, 0, tzinfo=dt.UTC)
DAYS = 9
PERIODS = ((None, None), (T0.date(), T0.date() + dt.timedelta(days=DAYS)), (T0.date() + dt.timedelta(days=2),
                                                                            T0.date() + dt.timedelta(days=4)))


def segment_views(f: MetricFilter) -> dict:
    """Every segment-filtered panel read the rollup replaces (what ``insights_list`` says included)."""
    customers = selectors.customers_stats(f)
    return {"kpis": selectors.kpis_stats(f), "funnel": selectors.funnel_stats(f, "age_group"),
            "carts": selectors.carts_stats(f), "timeseries": selectors.events_timeseries(f),
            "customers": {k: customers[k] for k in ("age_groups", "top_customers", "clv_distribution", "rfm")},
            "insights": insights_list(f), "cohorts": selectors.cohorts_stats(f), "month_one": cohort_month_one(f)}


def per_customer_views(f: MetricFilter, monkeypatch) -> dict:
    with monkeypatch.context() as m:
        m.setattr(segment_days, "ROLLUP_READS", False)
        return segment_views(f)


def test_segment_views_of_the_hand_built_store_pinned():
    build_store()
    assert dict(CustomerRfm.objects.values_list("customer__external_id", "segment")) == {
        "A": "At risk", "C": "Hibernating", "D": "New"}
    f = MetricFilter(start=DAY, end=DAY, segment="At risk")  # A: sessions A1 (bought o-1, 140) and A2
    k = selectors.kpis_stats(f)
    assert (k["events"], k["customers"], k["sessions"], k["orders"], k["revenue"], k["aov"], k["avg_clv"]) == \
        (7, 1, 2, 1, 140.0, 140.0, 140.0)
    assert (k["cart_conversion_rate"], k["cart_abandonment_rate"], k["session_conversion_rate"]) == (0.5, 0.5, 0.5)
    funnel = selectors.funnel_stats(f, "age_group")
    assert [s["sessions"] for s in funnel["steps"]] == [2, 2, 1, 1]
    assert [g["group"] for g in funnel["breakdown"]["groups"]] == ["26-35"]
    carts = selectors.carts_stats(f)
    assert carts["over_time"] == [{"t": "2024-03-04", "converted": 1, "abandoned": 1, "emptied": 0,
                                   "abandonment_rate": 0.5}]
    assert carts["revenue_left"] == 20.0 and [(r["age_group"], r["carts"], r["abandoned"])
                                              for r in carts["by_age_group"]] == [("26-35", 2, 1)]
    assert [(r["customer_id"], r["value"]) for r in carts["recent_abandoned"]] == [("A", 20.0)]  # the segment's only
    points = selectors.events_timeseries(f)["points"]
    assert [(p["t"], p["events"], p["orders"], p["revenue"]) for p in points] == [("2024-03-04", 7, 1, 140.0)]
    ages = {r["age_group"]: r for r in selectors.customers_stats(f)["age_groups"]}
    assert (ages["26-35"]["customers"], ages["26-35"]["sessions"], ages["26-35"]["purchasing_sessions"],
            ages["26-35"]["revenue"]) == (1, 2, 1, 140.0)
    assert ages["18-25"]["sessions"] == 0
    c = MetricFilter(start=DAY, end=DAY, segment="Hibernating")  # C: C1 (two views), C2 (late view, bought 50)
    k = selectors.kpis_stats(c)
    assert (k["events"], k["customers"], k["sessions"], k["orders"], k["revenue"]) == (6, 1, 2, 1, 50.0)
    assert [s["sessions"] for s in selectors.funnel_stats(c)["steps"]] == [2, 1, 1, 1]
    assert selectors.kpis_stats(MetricFilter(start=DAY, end=DAY, segment="At risk", age_group="18-25"))["sessions"] == 0


def test_rollup_rows_follow_the_refresh():
    build_store()
    assert SegmentDaily.objects.filter(segment="New").values_list("day", "age_group", "orders").get() == \
        (DAY, "unknown", 1)
    month = DAY.replace(day=1)  # D's one order: a cohort of one, one buyer with one order, no gap
    assert SegmentCohortMonthly.objects.filter(segment="New").values_list(
        "cohort", "month", "age_group", "customers", "orders").get() == (month, month, "unknown", 1, 1)
    assert SegmentBuyerOrders.objects.filter(segment="New").values_list("orders", "customers").get() == (1, 1)
    assert not SegmentOrderGap.objects.filter(segment="New").exists()
    d = Customer.objects.get(external_id="D").pk
    CustomerRfm.objects.filter(pk=d).update(segment="Champions")  # what the refresh recomputes …
    rfm_refresh()  # … is put back, and the rollup with it
    assert SegmentDaily.objects.filter(segment="New").count() == 1
    assert not SegmentDaily.objects.filter(segment="Champions").exists()
    assert not SegmentCohortMonthly.objects.filter(segment="Champions").exists()
    assert SegmentCohortMonthly.objects.filter(segment="New").count() == 1


def draw_stream(rng: random.Random, customers: int, days: int = DAYS) -> list[dict]:
    """Sessions over ``DAYS`` days: views, carts added to and emptied, checkouts, orders (some with a
    discount, some refunded later), explicit abandons."""
    events: list[dict] = []
    n = 0
    for c in range(customers):
        for _ in range(rng.randrange(1, 6)):
            at = T0 + dt.timedelta(days=rng.randrange(days), minutes=rng.randrange(600))
            session = []
            steps = rng.choice((["view"], ["view", "add_to_cart"], ["view", "add_to_cart", "remove_from_cart"],
                                ["view", "add_to_cart", "checkout", "purchase"], ["view", "add_to_cart", "abandon"],
                                ["view", "add_to_cart", "checkout"], ["view", "add_to_cart", "checkout", "purchase"]))
            product = f"q{rng.randrange(3)}"
            order = f"o{c}-{n}"
            for step in steps:
                n += 1
                e = {"event_id": f"r{n}", "customer_id": f"c{c}", "action": step,
                     "timestamp": (at + dt.timedelta(minutes=len(session))).isoformat()}
                if step in ("view", "add_to_cart", "remove_from_cart", "purchase"):
                    e |= {"product_id": product, "product_price": rng.choice(("10.00", "19.99", "250.00")),
                          "quantity": rng.randint(1, 3)}
                if step == "purchase":
                    e["order_id"] = order
                    if rng.random() < 0.3:
                        e["order"] = {"discount": "3.50"}
                session.append(e)
            events += session
            if steps[-1] == "purchase" and rng.random() < 0.3:
                n += 1
                events.append({"event_id": f"r{n}", "customer_id": f"c{c}", "action": "refund", "order_id": order,
                               "amount": "5.00", "timestamp": (at + dt.timedelta(days=1)).isoformat()})
    return events


def load_stream(seed: int, days: int = DAYS) -> random.Random:
    rng = random.Random(seed)
    for i in range(3):
        ProductFactory(external_id=f"q{i}", category=("shoes", "hats", "bags")[i])
    for c in range(30):
        Customer.objects.create(external_id=f"c{c}", age=rng.choice((None, 20, 30, 30, 50, 70)))
    events = draw_stream(rng, 30, days)
    late = [e for e in events if e["action"] == "refund"]
    events = [e for e in events if e["action"] != "refund"]
    rng.shuffle(events)
    for i in range(0, len(events), 60):
        assert not events_ingest(raw_events=events[i:i + 60], broadcast=False).rejected
    analytics_process_pending()
    assert not events_ingest(raw_events=late, broadcast=False).rejected  # refunds at ingest: no batch follows
    rfm_refresh()  # as the beat task does
    return rng


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollup_figures_equal_the_per_customer_sums(seed, monkeypatch):
    rng = load_stream(seed)
    segments = sorted(set(CustomerRfm.objects.values_list("segment", flat=True)))
    assert len(segments) >= 2
    cases = [(segment, period, None) for segment in segments for period in PERIODS]
    cases += [(segment, PERIODS[0], "26-35") for segment in segments]
    cases.append((rng.choice([s for s in RFM_SEGMENTS if s not in segments] or segments), PERIODS[1], None))
    for segment, (start, end), age_group in cases:
        f = MetricFilter(start=start, end=end, segment=segment, age_group=age_group)
        assert segment_views(f) == per_customer_views(f, monkeypatch), (segment, start, age_group)
    kpis = selectors.kpis_stats(MetricFilter(start=None, end=None, segment=segments[0]))
    assert kpis["sessions"] > 0 and kpis["customers"] > 0  # the comparison compared something
    assert any(selectors.cohorts_stats(MetricFilter(segment=s))["time_between_orders"]["gaps"] for s in segments)


def test_kept_retention_rows_over_several_months_equal_the_per_customer_ones(monkeypatch):
    """Orders over four months: cohorts after the first month, returns one and two months on, long gaps."""
    load_stream(5, days=110)
    segments = sorted(set(CustomerRfm.objects.values_list("segment", flat=True)))
    compared = 0
    for segment in segments:
        for age_group in (None, "26-35"):
            f = MetricFilter(segment=segment, age_group=age_group)
            kept = {"cohorts": selectors.cohorts_stats(f), "month_one": cohort_month_one(f)}
            with monkeypatch.context() as m:
                m.setattr(segment_days, "ROLLUP_READS", False)
                assert kept == {"cohorts": selectors.cohorts_stats(f), "month_one": cohort_month_one(f)}, f
            compared += sum(len(c["cells"]) > 1 for c in kept["cohorts"]["cohorts"])
    kept_rows = SegmentCohortMonthly.objects.values_list("cohort", "month")
    assert compared and sum(months_between(cohort, month) >= 2 for cohort, month in kept_rows) >= 5


def test_refresh_throttle(settings):
    build_store()
    refreshed = RfmRefresh.objects.get().refreshed_at
    settings.RFM_REFRESH_MIN_SECONDS = 30
    assert rfm_refresh_if_due(now=refreshed + dt.timedelta(seconds=29)) is None
    assert RfmRefresh.objects.get().refreshed_at == refreshed
    assert rfm_refresh_if_due(now=refreshed + dt.timedelta(seconds=31)) == 3
    assert RfmRefresh.objects.get().refreshed_at > refreshed
    settings.RFM_REFRESH_MIN_SECONDS = 0
    RfmRefresh.objects.all().delete()
    assert rfm_refresh_if_due() == 3 and RfmRefresh.objects.exists()  # never refreshed: due
