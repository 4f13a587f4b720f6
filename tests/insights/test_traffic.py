"""Traffic sources on derived sessions (DESIGN §4 channel, issue 12): each session's channel, source,
medium, campaign and landing page from its first event's context, the ``traffic_daily`` rollup kept
exact incrementally (late events, identity merges) as a rebuild computes it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from events.services import events_ingest_segment
from events.types import StoredEvent
from insights.derivation import DerivedSession, derive_session
from insights.models import CustomerTotals, Session, TrafficDaily
from insights.rebuild import analytics_rebuild
from insights.services import analytics_process_pending
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import ingest
from tests.insights.test_services import (
    BASE,
    batches_at,
    derived_and_events_clear,
    event_strategy,
    products_create,
    snapshot,
    wire_events,
)

EMAIL = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring",
         "landing_page": "https://shop.example/sale"}
PAID_SOCIAL = {"utm_source": "facebook", "utm_medium": "cpc", "landing_page": "https://shop.example/"}
SEARCH = {"referrer": "https://www.google.com/", "page_url": "https://shop.example/lamp"}


def _event(pk: int, minute: int, action: str = "view", *, context: dict | None = None, order: str | None = None,
           discount: str | None = None) -> StoredEvent:
    return StoredEvent(pk, f"e{pk}", 1, 7, "", action, 1, Decimal("10.00"), order,
                       BASE + dt.timedelta(minutes=minute), discount=Decimal(discount) if discount else None,
                       context=context)


def test_a_session_takes_its_traffic_from_the_first_event_with_a_context():
    events = [_event(1, 0), _event(2, 1, context=EMAIL), _event(3, 2, context=PAID_SOCIAL)]
    s = derive_session("g:x", events, as_of=BASE)
    assert (s.traffic.channel, s.traffic.source, s.traffic.medium, s.traffic.campaign, s.traffic.landing_page) == (
        "Email", "newsletter", "email", "spring", "https://shop.example/sale")
    assert DerivedSession.from_json(s.to_json()) == s
    assert derive_session("g:y", [_event(1, 0)], as_of=BASE).traffic.channel == "Direct"


def test_a_session_counts_each_orders_discount_once():
    events = [_event(1, 0, "purchase", order="o1", discount="5.00"), _event(2, 0, "purchase", order="o1",
                                                                               discount="5.00"),
              _event(3, 1, "purchase", order="o2", discount="2.50")]
    s = derive_session("g:x", events, as_of=BASE)
    assert s.discounts == Decimal("7.50") and s.revenue == Decimal("30.00")
    cancelled = derive_session("g:x", events, as_of=BASE, cancelled=frozenset({"o1"}))
    assert cancelled.discounts == Decimal("2.50")


@pytest.mark.django_db
def test_sessions_store_their_traffic_and_the_rollup_moves_when_a_late_event_changes_it():
    ProductFactory(external_id="lamp", price=40)
    CustomerFactory(external_id="c1", age=30)
    at = lambda m: (BASE + dt.timedelta(minutes=m)).isoformat()  # noqa: E731
    ingest([{"event_id": "t1", "customer_id": "c1", "action": "view", "product_id": "lamp", "timestamp": at(5),
             "context": PAID_SOCIAL},
            {"event_id": "t2", "customer_id": "c1", "action": "purchase", "product_id": "lamp", "timestamp": at(6),
             "order_id": "o1", "context": PAID_SOCIAL}])
    analytics_process_pending()
    session = Session.objects.get()
    assert (session.channel, session.source, session.medium) == ("Paid Social", "facebook", "cpc")
    row = TrafficDaily.objects.get(sessions=1)
    assert (row.channel, row.purchasing_sessions, row.orders, row.revenue) == ("Paid Social", 1, 1, Decimal("40"))
    # A late, earlier event from the newsletter: the session started there, so it is Email now.
    ingest([{"event_id": "t0", "customer_id": "c1", "action": "view", "product_id": "lamp", "timestamp": at(0),
             "context": EMAIL}])
    analytics_process_pending()
    assert Session.objects.get().channel == "Email"
    rows = {r.channel: (r.sessions, r.revenue) for r in TrafficDaily.objects.all() if r.sessions}
    assert rows == {"Email": (1, Decimal("40.00"))}
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental


@pytest.mark.django_db
def test_an_identify_keeps_the_anonymous_campaign_visit_and_the_rollup_exact():
    ProductFactory(external_id="lamp", price=40)
    CustomerFactory(external_id="c-1", age=30)
    context = {"session_id": "s-1", "campaign": {"source": "newsletter", "medium": "email"},
               "page": {"url": "https://shop.example/?utm_source=newsletter&utm_medium=email"}}
    at = lambda m: (BASE + dt.timedelta(minutes=m)).isoformat()  # noqa: E731
    events_ingest_segment(messages=[
        {"type": "page", "messageId": "m1", "anonymousId": "a-1", "timestamp": at(0), "context": context},
        {"type": "track", "event": "Product Added", "messageId": "m2", "anonymousId": "a-1", "timestamp": at(1),
         "properties": {"product_id": "lamp", "price": 40}, "context": context}], broadcast=False)
    analytics_process_pending()
    assert TrafficDaily.objects.get().channel == "Email"
    events_ingest_segment(messages=[
        {"type": "identify", "messageId": "m3", "userId": "c-1", "anonymousId": "a-1", "timestamp": at(2)},
        {"type": "track", "event": "Order Completed", "messageId": "m4", "userId": "c-1", "timestamp": at(3),
         "context": {"session_id": "s-1"},
         "properties": {"order_id": "o-1", "products": [{"product_id": "lamp", "price": 40, "quantity": 1}]}}],
        broadcast=False)
    analytics_process_pending()
    customer = Customer.objects.get(external_id="c-1")
    session = Session.objects.get()
    assert (session.customer_id, session.channel, session.purchased) == (customer.pk, "Email", True)
    live = [(r.channel, r.sessions, r.purchasing_sessions, r.carts_converted) for r in TrafficDaily.objects.all()
            if r.sessions]
    assert live == [("Email", 1, 1, 1)]
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental


@pytest.mark.django_db
@pytest.mark.parametrize("order", ["gap_first", "client_first"])
def test_two_sessions_starting_together_give_the_same_first_touch_in_any_order(order):
    """A client-id session ("s:tab") and a gap session ("g:…") of one customer start at the same instant:
    the first touch is the smaller key's channel (the gap session's), whichever arrives first."""
    ProductFactory(external_id="lamp", price=40)
    CustomerFactory(external_id="c1", age=30)
    at = BASE.isoformat()
    gap = {"event_id": "g1", "customer_id": "c1", "action": "view", "product_id": "lamp", "timestamp": at,
           "context": PAID_SOCIAL}
    client = {"event_id": "s1", "customer_id": "c1", "action": "view", "product_id": "lamp", "timestamp": at,
              "session_id": "tab", "context": EMAIL}
    for event in ([gap, client] if order == "gap_first" else [client, gap]):
        ingest([event])
        analytics_process_pending()
    totals = CustomerTotals.objects.get()
    assert (totals.first_channel, totals.first_session[:2]) == ("Paid Social", "g:")
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental


CONTEXTS = [None, EMAIL, PAID_SOCIAL, SEARCH]


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(event_strategy(prefix="r", sessions=["", "", "sa"], context=st.sampled_from(range(4)),
                                      order=st.sampled_from([None, "o1", "o2"])), min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=5))
def test_random_stream_with_sources_incremental_equals_rebuild(stream, cuts):
    derived_and_events_clear()
    if not ProductFactory._meta.model.objects.filter(external_id="rp1").exists():
        products_create(prefix="r")
        CustomerFactory(external_id="r1", age=20)
        CustomerFactory(external_id="r2", age=None)
        CustomerFactory(external_id="r3", age=60)
    raw = wire_events(stream, prefix="r")
    for event, drawn in zip(raw, stream, strict=True):
        if CONTEXTS[drawn["context"]] is not None:
            event["context"] = CONTEXTS[drawn["context"]]
    for batch in batches_at(raw, cuts):  # later batches carry late events
        ingest(batch)
        analytics_process_pending()
    incremental = snapshot()
    assert sum(v[0] for v in incremental["traffic_daily"].values()) == len(incremental["sessions"])
    analytics_rebuild()
    assert snapshot() == incremental
