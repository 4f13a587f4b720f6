"""The cohorts page's revenue is net, and the page says so: the curves add up gross less the orders'
discounts and the refunds dated on a day the customer ordered (insights.retention)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.roles import Role
from insights.filters import MetricFilter
from insights.selectors.cohorts import cohorts_stats
from tests.insights.retention_fixture import make_retention_catalogue
from tests.insights.store_fixture import ingest

pytestmark = pytest.mark.django_db
YEAR = "start=2024-01-01&end=2024-12-31"


@pytest.fixture
def store(db):
    from insights.services import analytics_process_pending

    make_retention_catalogue()
    base = {"customer_id": "R1", "quantity": 1}
    ingest([
        # January: a 100.00 phone with a 10.00 order discount, 5.00 of it refunded the same day
        {**base, "event_id": "n-1", "action": "purchase", "product_id": "p1", "product_price": "100.00",
         "order_id": "n1", "order": {"discount": "10.00"}, "timestamp": "2024-01-10T10:00:00Z"},
        {**base, "event_id": "n-2", "action": "refund", "order_id": "n1", "amount": "5.00",
         "timestamp": "2024-01-10T15:00:00Z"},
        # February: a 20.00 case, no discount
        {**base, "event_id": "n-3", "action": "purchase", "product_id": "p2", "product_price": "20.00",
         "order_id": "n2", "timestamp": "2024-02-10T10:00:00Z"},
    ])
    analytics_process_pending()


def test_the_lifetime_curves_are_net_revenue(store):
    (cohort,) = cohorts_stats(MetricFilter.from_query({"start": "2024-01-01", "end": "2024-12-31"}))["cohorts"]
    assert cohort["cohort"] == "2024-01" and cohort["customers"] == 1
    cumulative = [Decimal(str(c["cumulative_revenue_per_customer"])) for c in cohort["cells"][:2]]
    assert cumulative == [Decimal("85.00"), Decimal("105.00")]  # 100 − 10 − 5, then + 20 (gross would be 100, 120)


def test_the_page_says_net_not_gross(client_for, store):
    text = client_for(Role.VIEWER).get(f"/cohorts/?{YEAR}").content.decode()
    assert "gross revenue." not in text and "Revenue is gross" not in text
    assert "Revenue is net revenue: gross less the orders' discounts and refunds" in text
    assert "Net revenue per cohort customer" in text and "$105.00" in text
