"""Kept RFM scores (insights.rfm_store, docs/metrics.md#rfm-segments): the set-based refresh gives exactly
the per-request scoring it replaced (``rfm_assignments_scored``, the reference), on the hand-built
stores and on drawn buyers full of ties; it follows derivation batches, rebuilds and the beat task."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from customers.models import Customer
from insights import selectors
from insights.filters import MetricFilter
from insights.models import CustomerRfm, CustomerTotals, RfmRefresh
from insights.rebuild import analytics_rebuild
from insights.rfm_store import rfm_refresh
from insights.selectors.rfm import rfm_assignments, rfm_assignments_scored, segment_customer_pks
from insights.services import analytics_process_pending
from insights.stats import quintile_scores
from insights.tasks import refresh_rfm_task
from tests.insights.store_fixture import DAY, build_store, ingest

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def kept_scores() -> dict[int, tuple[int, int, int]]:
    return {r.pk: (r.recency, r.frequency, r.monetary) for r in CustomerRfm.objects.all()}


def reference_scores() -> dict[int, tuple[int, int, int]]:
    """R, F and M of every buyer by ``insights.stats.quintile_scores`` (the per-request definition)."""
    rows = list(CustomerTotals.objects.filter(orders__gt=0).values_list(
        "customer_id", "last_purchase_at", "orders", "revenue", "discounts", "refunds"))
    r = quintile_scores([row[1].timestamp() if row[1] else 0.0 for row in rows])
    f = quintile_scores([float(row[2]) for row in rows])
    m = quintile_scores([float(row[3] - row[4] - row[5]) for row in rows])
    return {row[0]: scores for row, *scores in zip(rows, r, f, m, strict=True)}


def assert_kept_equals_reference() -> None:
    assert kept_scores() == {pk: tuple(s) for pk, s in reference_scores().items()}
    assert rfm_assignments() == rfm_assignments_scored()


def draw_buyers(rng: random.Random, n: int) -> None:
    """``n`` customers' all-time totals with many ties (a few order counts, amounts and times), some
    refunded beyond their revenue, one without a purchase time, and non-buyers beside them."""
    for i in range(n):
        c = Customer.objects.create(external_id=f"d{n}-{i}", age=rng.choice((None, 22, 40, 70)))
        orders = rng.choice((0, 1, 1, 2, 3, 7))
        revenue = Decimal(rng.choice(("0", "10.00", "10.00", "99.99", "250.50", "1000.00")))
        CustomerTotals.objects.create(
            customer_id=c.pk, orders=orders, revenue=revenue, discounts=Decimal(rng.choice(("0", "0", "5.00"))),
            refunds=Decimal(rng.choice(("0", "0", "0", "20.00"))),
            last_purchase_at=None if i == 0 else T0 + dt.timedelta(hours=rng.choice((0, 0, 1, 5, 30)),
                                                                   microseconds=rng.choice((0, 0, 1))))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 13, 40, 101])
def test_kept_scores_equal_the_per_request_scoring_with_ties(n):
    draw_buyers(random.Random(n), n)
    assert rfm_refresh() == CustomerTotals.objects.filter(orders__gt=0).count()
    assert_kept_equals_reference()


def test_hand_built_store_kept_equals_scored_and_the_pinned_segments():
    build_store()  # its derivation batches refresh the kept scores
    assert_kept_equals_reference()
    c = selectors.customers_stats(MetricFilter(start=DAY, end=DAY))
    rfm = {r["segment"]: (r["customers"], r["revenue"]) for r in c["rfm"]}
    assert rfm["At risk"] == (1, 140.0) and rfm["Hibernating"] == (1, 50.0) and rfm["New"] == (1, 20.0)
    assert c["rfm_as_of"] == RfmRefresh.objects.get().refreshed_at.isoformat()


def test_retention_store_kept_equals_scored():
    from tests.insights.retention_fixture import build_retention_store

    build_retention_store()
    assert len(rfm_assignments()) == 4
    assert_kept_equals_reference()
    analytics_rebuild()
    assert_kept_equals_reference()


def test_refresh_drops_former_buyers_and_is_idempotent():
    draw_buyers(random.Random(3), 30)
    rfm_refresh()
    first = kept_scores()
    rfm_refresh()
    assert kept_scores() == first
    gone = CustomerTotals.objects.filter(orders__gt=0).first()
    CustomerTotals.objects.filter(pk=gone.pk).update(orders=0)
    rfm_refresh()
    assert gone.pk not in kept_scores()
    assert_kept_equals_reference()


def test_boundaries_and_freshness_are_recorded():
    draw_buyers(random.Random(5), 25)
    buyers = rfm_refresh()
    kept = RfmRefresh.objects.get()
    assert kept.buyers == buyers and selectors.customers_stats(MetricFilter.default())["rfm_as_of"]
    monetary = kept.boundaries["monetary"]
    assert sum(b["customers"] for b in monetary) == buyers
    assert [b["score"] for b in monetary] == sorted(b["score"] for b in monetary)
    for lower, upper in zip(monetary, monetary[1:], strict=False):
        assert lower["high"] < upper["low"]  # quintiles do not overlap
    nets = sorted(float(r.net_revenue) for r in CustomerRfm.objects.all())
    assert (monetary[0]["low"], monetary[-1]["high"]) == (nets[0], nets[-1])


def test_derivation_batches_and_the_beat_task_refresh_the_kept_scores():
    build_store()
    before = rfm_assignments()
    ingest([{"event_id": "k-1", "customer_id": "B", "action": "purchase", "product_id": "p1",
             "product_price": "900.00", "order_id": "o-big", "timestamp": "2024-03-04T18:00:00+00:00"}])
    analytics_process_pending()
    b = Customer.objects.get(external_id="B").pk
    assert b not in before and b in rfm_assignments()  # B bought: kept after the batch
    assert_kept_equals_reference()
    CustomerTotals.objects.filter(customer_id=b).update(refunds=Decimal("900.00"))  # as a refund at ingest
    assert rfm_assignments() != rfm_assignments_scored()
    assert refresh_rfm_task() == 4
    assert_kept_equals_reference()


def test_segment_filter_and_customer_page_read_the_kept_segment():
    build_store()
    new = segment_customer_pks(MetricFilter(start=DAY, end=DAY, segment="New"))
    assert new == [Customer.objects.get(external_id="D").pk]
    CustomerRfm.objects.filter(pk__in=new).update(segment="Lost")  # what the page shows is what is kept
    assert segment_customer_pks(MetricFilter(start=DAY, end=DAY, segment="New")) == []
    profile = selectors.customer_detail(new[0])["profile"]
    assert profile["segment"] == "Lost"
    assert profile["segment_as_of"] == RfmRefresh.objects.get().refreshed_at.isoformat()


def test_pages_say_when_the_segments_were_kept(client_for):
    from accounts.roles import Role

    client = client_for(Role.ANALYST)
    assert "RFM segments not computed yet" in client.get("/customers/").content.decode()
    build_store()
    as_of = RfmRefresh.objects.get().refreshed_at.isoformat()[:16].replace("T", " ")
    assert f"RFM segments as of {as_of} UTC" in client.get("/customers/").content.decode()
    a = Customer.objects.get(external_id="A").pk
    page = client.get(f"/customers/{a}/").content.decode()
    assert "Segment as of" in page and "At risk" in page


def test_an_erased_customer_leaves_the_kept_scores_at_once():
    from django.db import transaction

    from insights.upkeep import customer_events_erase

    build_store()
    a = Customer.objects.get(external_id="A")
    assert CustomerRfm.objects.filter(pk=a.pk).exists()
    with transaction.atomic():
        customer_events_erase(customer=a)
    assert not CustomerRfm.objects.filter(pk=a.pk).exists()
    rfm_refresh()  # the others are scored again without them
    assert_kept_equals_reference() and len(rfm_assignments()) == 2
