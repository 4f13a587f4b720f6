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
