"""Retention figures (DESIGN §4) pinned on the hand-computed store of tests/insights/retention_fixture.py;
incremental retention rollups equal a rebuild, also after history changes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from events.models import Event
from insights.filters import MetricFilter
from insights.rebuild import analytics_rebuild
from insights.retention import order_gaps
from insights.selectors import cohorts_stats
from insights.selectors.cohorts import returning_customer_rate
from insights.services import analytics_process_pending
from insights.stats import median_of_counts
from insights.upkeep import customer_age_group_change, customer_events_erase
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.retention_fixture import ORDERS, build_retention_store
from tests.insights.store_fixture import ingest
from tests.insights.test_services import batches_at, derived_and_events_clear, snapshot

pytestmark = pytest.mark.django_db

ALL_2024 = MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))


def _cells(stats: dict, cohort: str) -> list[dict]:
    return next(c for c in stats["cohorts"] if c["cohort"] == cohort)["cells"]


def test_cohort_matrix_and_lifetime_value():
    build_retention_store()
    stats = cohorts_stats(ALL_2024)
    assert [(c["cohort"], c["customers"]) for c in stats["cohorts"]] == [("2024-01", 2), ("2024-02", 2)]
    jan, feb = _cells(stats, "2024-01"), _cells(stats, "2024-02")
    assert [c["retention"] for c in jan] == [1.0, 0.5, 0.5, 0.0]
    assert [c["cumulative_revenue_per_customer"] for c in jan] == [170.0, 205.0, 280.0, 280.0]
    assert [c["orders"] for c in jan] == [3, 2, 1, 0]
    assert [c["retention"] for c in feb] == [1.0, 0.0, 0.5]
    assert [c["cumulative_revenue_per_customer"] for c in feb] == [95.0, 95.0, 105.0]
    assert jan[1]["ci_low"] < 0.5 < jan[1]["ci_high"]
    assert stats["cohorts"][0]["note"]  # two customers: flagged as too few
    assert stats["max_months"] == 4


def test_date_range_picks_the_cohorts_and_age_group_the_customers():
    build_retention_store()
    feb_only = cohorts_stats(MetricFilter(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29)))
    assert [c["cohort"] for c in feb_only["cohorts"]] == ["2024-02"]
    young_adults = cohorts_stats(MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31),
                                              age_group="26-35"))
    assert [(c["cohort"], c["customers"]) for c in young_adults["cohorts"]] == [("2024-01", 1)]
    assert [c["retention"] for c in _cells(young_adults, "2024-01")] == [1.0, 0.0, 1.0, 0.0]
    assert young_adults["repeat_purchase_rate"]["rate"] == 1.0


def test_repeat_rate_distribution_and_time_between_orders():
    build_retention_store()
    stats = cohorts_stats(ALL_2024)
    repeat = stats["repeat_purchase_rate"]
    assert (repeat["repeat_buyers"], repeat["buyers"], repeat["rate"]) == (3, 4, 0.75)
    assert "too few" in repeat["reason"]
    assert stats["orders_per_customer"] == [{"orders": "1", "customers": 1}, {"orders": "2", "customers": 1},
                                            {"orders": "3", "customers": 2}, {"orders": "4", "customers": 0},
                                            {"orders": "5+", "customers": 0}]
    between = stats["time_between_orders"]
    assert (between["median_days"], between["gaps"]) == (30.0, 5)


def test_returning_customer_rate():
    build_retention_store()
    feb = returning_customer_rate(MetricFilter(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29)), None)
    assert (feb["returning"], feb["customers"]) == (1, 3)
    assert feb["rate"] == pytest.approx(1 / 3)
    march = returning_customer_rate(MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31)), None)
    assert (march["returning"], march["customers"]) == (1, 1)
    empty = returning_customer_rate(MetricFilter(start=dt.date(2024, 6, 1), end=dt.date(2024, 6, 30)), None)
    assert empty["rate"] is None and empty["reason"] == "no customer ordered in this period"


def test_segment_filter_reads_the_segments_customers():
    build_retention_store()
    stats = cohorts_stats(MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31), segment="Champions"))
    everyone = cohorts_stats(ALL_2024)
    assert stats["repeat_purchase_rate"]["buyers"] <= everyone["repeat_purchase_rate"]["buyers"]
    assert sum(c["customers"] for c in stats["cohorts"]) == stats["repeat_purchase_rate"]["buyers"]


def test_order_gaps_and_median_helpers():
    d = dt.date
    assert order_gaps([(d(2024, 2, 14), 2, 0), (d(2024, 1, 15), 1, 0)]) == [30, 0]
    assert median_of_counts([(0.0, 1), (15.0, 1), (30.0, 1), (42.0, 1), (50.0, 1)]) == 30.0
    assert median_of_counts([(1.0, 2), (3.0, 2)]) == 2.0
    assert median_of_counts([]) is None


def test_incremental_equals_rebuild_with_late_first_orders():
    # The latest orders first: customers change cohort as their earlier orders arrive.
    build_retention_store(order=["o9", "o3", "r5", "o6", "o2", "o8", "o5", "o7", "o4", "o1"])
    incremental = snapshot()
    assert incremental["cohort_months"] and incremental["order_gaps"] and incremental["product_pairs"]
    analytics_rebuild()
    assert snapshot() == incremental
    assert [c["retention"] for c in _cells(cohorts_stats(ALL_2024), "2024-01")] == [1.0, 0.5, 0.5, 0.0]


def test_history_changes_keep_retention_equal_to_rebuild():
    build_retention_store()
    customer_age_group_change(customer=Customer.objects.get(external_id="R1"), age=50)
    customer_events_erase(customer=Customer.objects.get(external_id="R2"))
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
    stats = cohorts_stats(ALL_2024)
    assert [c["customers"] for c in stats["cohorts"]] == [1, 2]
    assert cohorts_stats(MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31),
                                      age_group="46-55"))["cohorts"][0]["customers"] == 1


def test_fixture_lists_every_batch():
    assert len(ORDERS) == 10


# --- property: orders spread over months, arriving late and out of order -------------------------

MONTHS_BASE = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC)
SPREAD_EVENT = st.fixed_dictionaries({
    "customer": st.sampled_from(["q1", "q2", "q3"]),
    "day": st.integers(min_value=0, max_value=120),
    "minute": st.integers(min_value=0, max_value=50),
    "action": st.sampled_from(["purchase", "purchase", "add_to_cart", "view"]),
    "product": st.sampled_from(["qp1", "qp2", "qp3"]),
    "order": st.sampled_from([None, "x1", "x2"]),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(SPREAD_EVENT, min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=5),
       process_after=st.lists(st.booleans(), min_size=6, max_size=6))
def test_random_months_of_orders_incremental_equals_rebuild(stream, cuts, process_after):
    derived_and_events_clear()
    if not ProductFactory._meta.model.objects.filter(external_id="qp1").exists():
        for i in (1, 2, 3):
            ProductFactory(external_id=f"qp{i}", price=i * 10)
        CustomerFactory(external_id="q1", age=25)
        CustomerFactory(external_id="q2", age=None)
        CustomerFactory(external_id="q3", age=50)
    raw = []
    for i, e in enumerate(stream):
        at = MONTHS_BASE + dt.timedelta(days=e["day"], minutes=e["minute"])
        event = {"event_id": f"q-{i}", "customer_id": e["customer"], "action": e["action"], "quantity": 1,
                 "timestamp": at.isoformat(), "product_id": e["product"]}
        if e["order"] and e["action"] == "purchase":
            event["order_id"] = f"{e['customer']}-{e['order']}-{e['day']}"
        raw.append(event)
    batches = batches_at(raw, cuts)
    for batch, process in zip(batches, process_after, strict=False):
        ingest(batch)
        if process:
            analytics_process_pending()
    for batch in batches[len(process_after):]:
        ingest(batch)
    analytics_process_pending()
    incremental = snapshot()
    assert Event.objects.count() == len(raw)
    analytics_rebuild()
    assert snapshot() == incremental
    stats = cohorts_stats(MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31)))
    buyers = len({e["customer"] for e in stream if e["action"] == "purchase"})
    assert sum(c["customers"] for c in stats["cohorts"]) == stats["repeat_purchase_rate"]["buyers"] == buyers
