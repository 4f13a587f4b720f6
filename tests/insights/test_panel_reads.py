"""Panel reads narrowed for 30,000 customers (docs/benchmarks.md#dashboard-reads-with-30000-customers): the
same answers as the per-row computations they replaced."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from customers.models import Customer
from insights.filters import MetricFilter
from insights.models import CustomerTotals
from insights.rfm_store import rfm_refresh
from insights.selectors.customers import CLV_EDGES, customers_stats

pytestmark = pytest.mark.django_db


def python_buckets(values: list[float]) -> dict[int, int]:
    """The CLV distribution as it was computed in Python: bucket = the last edge at or below the value."""
    counts = dict.fromkeys(CLV_EDGES, 0)
    for v in values:
        low = CLV_EDGES[0]
        for edge in CLV_EDGES:
            if v >= edge:
                low = edge
        counts[low] += 1
    return counts


@pytest.mark.parametrize("age_group", [None, "26-35"])
def test_clv_distribution_counted_in_sql_equals_the_python_buckets(age_group):
    rng = random.Random(11)
    amounts = ("0.01", "49.99", "50.00", "50.01", "99.99", "100.00", "250.00", "999.99", "1000.00", "5000.00",
               "12000.00", "60.10", "0.30")
    for i in range(120):
        c = Customer.objects.create(external_id=f"v{i}", age=rng.choice((30, 50, None)))
        revenue = Decimal(rng.choice(amounts))
        CustomerTotals.objects.create(customer_id=c.pk, orders=rng.choice((0, 1, 2)), revenue=revenue,
                                      discounts=Decimal(rng.choice(("0", "0", "10.10", "0.10"))),
                                      refunds=Decimal(rng.choice(("0", "0.20", "500.00"))))
    rfm_refresh()
    f = MetricFilter(age_group=age_group)
    rows = CustomerTotals.objects.filter(revenue__gt=0)
    if age_group:
        rows = rows.filter(customer_id__in=Customer.objects.filter(age_group=age_group).values("pk"))
    expected = python_buckets([float(t.revenue - t.discounts - t.refunds) for t in rows])
    got = {b["bucket_low"]: b["customers"] for b in customers_stats(f)["clv_distribution"]}
    assert got == expected and sum(got.values()) == rows.count()


def python_retention_rows(pks: list[int]) -> dict[str, list[tuple]]:
    """The reference: ``insights.retention``'s contributions of these customers, summed over age groups."""
    from insights.contributions import new_contributions
    from insights.retention import add_retention_contributions
    from insights.rollup_store import customer_order_days

    out = new_contributions()
    add_retention_contributions(out, customer_order_days(pks), age_of={})
    shapes = {"cohort_months": ("customers", "orders", "revenue"), "buyer_orders": ("customers",),
              "order_gaps": ("gaps",)}
    rows: dict[str, list[tuple]] = {}
    for name, counters in shapes.items():
        sums: dict[tuple, list] = {}
        for key, values in out[name].items():
            tally = sums.setdefault(key[:-1], [0] * len(counters))
            for i, c in enumerate(counters):
                tally[i] += values.get(c, 0)
        rows[name] = sorted((*k, *v) for k, v in sums.items() if any(v))
    return rows


def draw_order_days(rng: random.Random, customers: int) -> None:
    import datetime as dt

    from insights.models import CustomerDaily

    for i in range(customers):
        c = Customer.objects.create(external_id=f"r{i}", age=rng.choice((30, 50)))
        for day in {dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(300)) for _ in range(rng.randrange(6))}:
            CustomerDaily.objects.create(day=day, customer_id=c.pk, orders=rng.choice((0, 1, 1, 2, 3)),
                                         revenue=Decimal(rng.choice(("0", "20.00", "35.50"))),
                                         refunds=Decimal(rng.choice(("0", "0", "5.25"))))


@pytest.mark.parametrize("age_group", [None, "26-35"])
def test_segment_retention_in_sql_equals_the_python_contributions(age_group):
    from insights.models import CustomerRfm
    from insights.selectors.rfm import segment_rows
    from insights.selectors.segment_retention import segment_retention_rows

    draw_order_days(random.Random(2), 60)
    for c in Customer.objects.all():  # every customer in one segment (no totals needed for this)
        CustomerRfm.objects.create(customer_id=c.pk, recency=1, frequency=1, monetary=1, segment="Lost")
    f = MetricFilter(segment="Lost", age_group=age_group)
    rows = segment_retention_rows(segment_rows(f))
    expected = python_retention_rows(list(segment_rows(f).values_list("customer_id", flat=True)))
    got = {name: sorted(tuple(Decimal(str(v)).quantize(Decimal("0.01")) if isinstance(v, float | Decimal) else v
                              for v in row) for row in found if any(row[-3:] if name == "cohort_months" else row[-1:]))
           for name, found in rows.items()}
    expected = {name: sorted(tuple(Decimal(str(v)).quantize(Decimal("0.01")) if isinstance(v, float | Decimal)
                                   else v for v in row) for row in found) for name, found in expected.items()}
    assert got == expected and expected["cohort_months"] and expected["order_gaps"]


def test_clv_distribution_of_a_segment_on_its_edges():
    """Hand-computed: each net (revenue − discounts − refunds) rounded once, on or just below an edge,
    and only the segment's buyers counted."""
    from insights.models import CustomerRfm

    nets = {  # (revenue, discounts, refunds) → the bucket it falls in
        ("60.10", "10.10", "0"): 50,  # 50.00: on the edge
        ("50.00", "0", "0.01"): 0,  # 49.99
        ("0.01", "0", "0"): 0,
        ("100.00", "0", "0.20"): 50,  # 99.80
        ("1000.00", "0", "0"): 1000,
        ("5000.00", "0", "0"): 5000,
        ("12000.00", "0", "500.00"): 5000,
        ("300.00", "0", "500.00"): 0,  # below zero: the first bucket
    }
    for i, (revenue, discounts, refunds) in enumerate(nets):
        c = Customer.objects.create(external_id=f"e{i}")
        CustomerTotals.objects.create(customer_id=c.pk, orders=1, revenue=Decimal(revenue),
                                      discounts=Decimal(discounts), refunds=Decimal(refunds))
        CustomerRfm.objects.create(customer_id=c.pk, recency=1, frequency=1, monetary=1, segment="Lost")
    other = Customer.objects.create(external_id="other")  # a buyer of another segment: not counted
    CustomerTotals.objects.create(customer_id=other.pk, orders=1, revenue=Decimal("700.00"))
    CustomerRfm.objects.create(customer_id=other.pk, recency=5, frequency=5, monetary=5, segment="Champions")
    got = {b["bucket_low"]: b["customers"] for b in customers_stats(MetricFilter(segment="Lost"))["clv_distribution"]}
    assert got == {0: 3, 50: 2, 100: 0, 250: 0, 500: 0, 1000: 1, 2500: 0, 5000: 2}
    assert {b["bucket_low"]: b["customers"] for b in customers_stats(MetricFilter(segment="Champions"))
            ["clv_distribution"]} == {**dict.fromkeys(CLV_EDGES, 0), 500: 1}


def test_segment_month_one_cohorts_hand_computed_and_as_the_full_matrix():
    """A segment's month-0 and month-1 customers (the cohort comparison's figures) from its kept retention
    rows, against a hand count and the full matrix's first two cells."""
    import datetime as dt

    from insights.models import CohortMonthly, CustomerDaily, CustomerRfm
    from insights.segment_store import segment_days_refresh
    from insights.selectors.cohorts import cohort_matrix, cohort_month_one

    days = {  # customer → (day, orders); a day without orders is no order day
        "a": [("2024-01-05", 1), ("2024-02-10", 1)],  # Jan, back in Feb
        "b": [("2024-01-20", 2), ("2024-03-01", 1)],  # Jan, back only in month 2
        "c": [("2024-02-01", 0), ("2024-02-15", 1), ("2024-03-31", 1)],  # Feb (not the orderless 1st), back
        "d": [("2023-12-31", 1), ("2024-01-01", 1)],  # Dec 2023: before the window
        "e": [("2024-12-15", 1), ("2025-01-03", 3)],  # Dec 2024, back across the year
        "other": [("2024-01-02", 1), ("2024-02-02", 1)],  # another segment
    }
    for name, rows in days.items():
        c = Customer.objects.create(external_id=name)
        CustomerRfm.objects.create(customer_id=c.pk, recency=1, frequency=1, monetary=1,
                                   segment="Champions" if name == "other" else "Lost")
        for day, orders in rows:
            CustomerDaily.objects.create(day=dt.date.fromisoformat(day), customer_id=c.pk, orders=orders,
                                         revenue=Decimal("10.00") * orders)
    CohortMonthly.objects.create(cohort=dt.date(2025, 1, 1), month=dt.date(2025, 2, 1), age_group="", customers=1)
    segment_days_refresh()  # what the RFM refresh keeps from the segments written above
    f = MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31), segment="Lost")
    got = [(c["cohort"], c["customers"], c["cells"][1]["customers"]) for c in cohort_month_one(f)]
    assert got == [("2024-01", 2, 1), ("2024-02", 1, 1), ("2024-12", 1, 1)]
    full = [(c["cohort"], c["customers"], c["cells"][1]["customers"]) for c in cohort_matrix(f)]
    assert full == got


@pytest.mark.parametrize("age_group", [None, "26-35"])
def test_active_customers_per_age_group_from_the_people_bitmaps(age_group):
    """Hand-computed: the customers of each age group with a bit set in the period's people bitmaps
    (counted in SQL on PostgreSQL, from every customer's pk in Python elsewhere)."""
    import datetime as dt

    from insights.people import bitmap
    from insights.retention_models import DailyPeople

    ages = {"a": 30, "b": 30, "idle": 30, "c": 50, "before": 50, "d": None}
    pk = {name: Customer.objects.create(external_id=name, age=age).pk for name, age in ages.items()}
    active = {dt.date(2024, 5, 1): ["a", "c"], dt.date(2024, 5, 2): ["b", "a", "d"], dt.date(2024, 4, 1): ["before"]}
    for day, names in active.items():
        DailyPeople.objects.create(day=day, kind="v", bits=bitmap(pk[n] for n in names))
    f = MetricFilter(start=dt.date(2024, 5, 1), end=dt.date(2024, 5, 31), age_group=age_group)
    got = {g["age_group"]: g["customers"] for g in customers_stats(f)["age_groups"]}
    if age_group:
        assert got == {"26-35": 2}
    else:
        assert got == {"18-25": 0, "26-35": 2, "36-45": 0, "46-55": 1, "56-65": 0, "66+": 0, "unknown": 1}
