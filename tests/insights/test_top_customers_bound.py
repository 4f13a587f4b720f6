"""The period's top customers read through the all-time bound (``insights.selectors.customers._bounded_top``)
equal the same list read from every buyer of the period: over all history, long and short periods, an
age group, a segment and each channel, with refunds (a customer's period figure below their all-time
revenue) and rounds small enough that the bound has to stop the read early."""

from __future__ import annotations

import datetime as dt

import pytest

from insights import selectors
from insights.filters import MetricFilter
from insights.models import CustomerTotals
from insights.selectors import customers
from insights.services import analytics_process_pending
from tests.insights import test_month_copies, test_segment_rollup

pytestmark = pytest.mark.django_db

START = dt.datetime(2024, 2, 20, 8, 0, tzinfo=dt.UTC)
FILTERS = (MetricFilter(), MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 4, 15)),
           MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 3)), MetricFilter(age_group="26-35"),
           MetricFilter(channel="Direct"), MetricFilter(channel="Email", start=dt.date(2024, 3, 10)),
           MetricFilter(segment="Champions"))


def _purchase(customer: str, at: str, price: str, order: str) -> dict:
    return {"event_id": f"big-{order}", "customer_id": customer, "action": "purchase", "product_id": "q1",
            "product_price": price, "quantity": 1, "order_id": order, "timestamp": at}


def top(f: MetricFilter) -> list:
    return selectors.customers_stats(f)["top_customers"]


def test_the_bounded_top_customers_equal_the_whole_periods(monkeypatch):
    monkeypatch.setattr(test_segment_rollup, "T0", START)
    monkeypatch.setattr(test_segment_rollup, "events_ingest", test_month_copies.ingest_with_channels)
    test_segment_rollup.load_stream(11, days=60)
    # Six customers who spent the most before March (the all-time leaders) and little in it; four who
    # spent most in March: a read that stopped at the first customers by all-time revenue would miss them.
    big = [_purchase(f"c{100 + i}", "2024-02-21T10:00:00+00:00", "50000.00", f"w{i}") for i in range(6)]
    big += [_purchase(f"c{100 + i}", "2024-03-05T10:00:00+00:00", "1.00", f"w{i}m") for i in range(6)]
    big += [_purchase(f"c{200 + i}", f"2024-03-0{i + 2}T10:00:00+00:00", f"{3000 + i}.00", f"n{i}") for i in range(4)]
    assert not test_month_copies.ingest_with_channels(raw_events=big, broadcast=False).rejected
    analytics_process_pending()
    monkeypatch.setattr(customers, "TOP_N", 4)
    monkeypatch.setattr(customers, "BOUNDED_ROUNDS", (3, 3, 3, 3))
    monkeypatch.setattr(customers, "CHANNEL_ROUNDS", (3, 3, 3, 3))
    monkeypatch.setattr(customers, "BOUNDED_DAYS", 30)  # the 46 days of March to mid-April read bounded
    reads: list = []
    bounded = customers._bounded_top
    monkeypatch.setattr(customers, "_bounded_top",
                        lambda rows, rounds: reads.append(bounded(rows, rounds)) or reads[-1])
    for f in FILTERS:
        with monkeypatch.context() as m:
            m.setattr(customers, "_bounded_top", lambda rows, rounds: None)
            reference = top(f)
        assert top(f) == reference, f
    # all history settled within 12 of the buyers (the bound stopped the read early); some filter did not
    assert CustomerTotals.objects.filter(revenue__gt=0).count() > 12 and len(reads) == len(FILTERS) - 1  # (3 days: not)
    assert reads[0] is not None and len(reads[0]) == 4 and None in reads
    assert sum(rows is not None for rows in reads) >= 3
    assert [r["customer_id"] for r in top(FILTERS[1])] == ["c203", "c202", "c201", "c200"]
