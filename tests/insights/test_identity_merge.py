"""Identity (DESIGN §4 people, issue 12): an identify links an anonymous visitor to the customer;
the visitor's events before and after belong to the customer, a session spanning the log-in is one
session, an anonymous cart bought after log-in is converted, and the rollups stay exact (incremental
equals a rebuild) whenever the identify arrives."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from events import wire
from events.models import Event
from events.services import events_ingest_segment, identities_record
from insights.models import Cart, Session
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

pytestmark = pytest.mark.django_db


def at(minutes: int) -> str:
    return (BASE + dt.timedelta(minutes=minutes)).isoformat()


def test_a_shopper_who_logs_in_mid_session_is_one_customer_with_one_converted_session():
    ProductFactory(external_id="lamp", price=40)
    CustomerFactory(external_id="c-1", age=30)
    context = {"session_id": "s-1", "campaign": {"source": "newsletter", "medium": "email"}}
    before = [
        {"type": "page", "messageId": "m1", "anonymousId": "a-1", "timestamp": at(0), "context": context},
        {"type": "track", "event": "Product Viewed", "messageId": "m2", "anonymousId": "a-1", "timestamp": at(1),
         "properties": {"product_id": "lamp"}, "context": context},
        {"type": "track", "event": "Product Added", "messageId": "m3", "anonymousId": "a-1", "timestamp": at(2),
         "properties": {"product_id": "lamp", "price": 40}, "context": context},
    ]
    events_ingest_segment(messages=before, broadcast=False)
    analytics_process_pending()
    anonymous = Customer.objects.get(external_id="anon:a-1")
    assert Session.objects.get().customer_id == anonymous.pk  # before the log-in: the visitor's
    after = [
        {"type": "identify", "messageId": "m4", "userId": "c-1", "anonymousId": "a-1", "timestamp": at(3)},
        {"type": "track", "event": "Product Viewed", "messageId": "m5", "anonymousId": "a-1", "timestamp": at(4),
         "properties": {"product_id": "lamp"}, "context": context},  # a late event with only the anonymous id
        {"type": "track", "event": "Order Completed", "messageId": "m6", "userId": "c-1", "anonymousId": "a-1",
         "timestamp": at(5), "context": context,
         "properties": {"order_id": "o-1", "products": [{"product_id": "lamp", "price": 40, "quantity": 1}]}},
    ]
    events_ingest_segment(messages=after, broadcast=False)
    analytics_process_pending()
    customer = Customer.objects.get(external_id="c-1")
    assert set(Event.objects.values_list("customer_id", flat=True)) == {customer.pk}
    session = Session.objects.get()  # one session across the log-in, the customer's, in their age group
    assert (session.customer_id, session.age_group, session.event_count, session.purchased) == (
        customer.pk, "26-35", 5, True)
    assert Cart.objects.get().state == "converted"
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental


def test_an_alias_merges_a_previous_id_into_the_new_one():
    ProductFactory(external_id="p", price=5)
    events_ingest_segment(messages=[{"type": "track", "event": "Product Viewed", "messageId": "x1",
                                     "userId": "old-id", "timestamp": at(0), "properties": {"product_id": "p"}}],
                          broadcast=False)
    events_ingest_segment(messages=[{"type": "alias", "messageId": "x2", "userId": "new-id",
                                     "previousId": "old-id", "timestamp": at(1)}], broadcast=False)
    assert Event.objects.get().customer.external_id == "new-id"
    # Later events under the previous id are the new id's too.
    events_ingest_segment(messages=[{"type": "track", "event": "Product Viewed", "messageId": "x3",
                                     "userId": "old-id", "timestamp": at(2), "properties": {"product_id": "p"}}],
                          broadcast=False)
    assert set(Event.objects.values_list("customer__external_id", flat=True)) == {"new-id"}
    analytics_process_pending()
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental


def test_an_identify_before_any_anonymous_event_links_the_later_ones():
    ProductFactory(external_id="p", price=5)
    events_ingest_segment(messages=[
        {"type": "identify", "messageId": "i1", "userId": "c-9", "anonymousId": "a-9", "timestamp": at(0)},
        {"type": "page", "messageId": "i2", "anonymousId": "a-9", "timestamp": at(1)}], broadcast=False)
    events_ingest_segment(messages=[{"type": "page", "messageId": "i3", "anonymousId": "a-9", "timestamp": at(2)}],
                          broadcast=False)
    assert set(Event.objects.values_list("customer__external_id", flat=True)) == {"c-9"}


# --- property: identifies arriving at any point of a random stream ------------------------------

VISITORS = {"m1": "a-m1", "m2": "a-m2"}  # drawn "customers" m1, m2 are anonymous visitors


def _anonymous(raw: list[dict]) -> list[dict]:
    """The drawn events of visitors sent with only their anonymous id."""
    out = []
    for event in raw:
        anonymous = VISITORS.get(event["customer_id"])
        if anonymous is not None:
            event = {k: v for k, v in event.items() if k != "customer_id"} | {"anonymous_id": anonymous}
        out.append(event)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(event_strategy(prefix="m", sessions=["", "", "sa"]), min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=4),
       identifies=st.lists(st.tuples(st.sampled_from(["a-m1", "a-m2"]), st.sampled_from(["m3", "known"])),
                           min_size=1, max_size=3),
       process_after=st.lists(st.booleans(), min_size=5, max_size=5))
def test_identifies_arriving_late_keep_incremental_equal_to_rebuild(stream, cuts, identifies, process_after):
    derived_and_events_clear()
    Customer.objects.all().delete()
    if not ProductFactory._meta.model.objects.filter(external_id="mp1").exists():
        products_create(prefix="m")
    CustomerFactory(external_id="m3", age=40)
    CustomerFactory(external_id="known", age=70)
    batches = batches_at(_anonymous(wire_events(stream, prefix="m")), cuts)
    linked: dict[str, str] = {}
    for n, batch in enumerate(batches):
        ingest(batch)
        if process_after[n % len(process_after)]:
            analytics_process_pending()
        if n < len(identifies):
            anonymous, customer = identifies[n]
            identities_record(calls=[wire.IdentityCall(0, "identify", f"id-{n}", customer, anonymous, "", {},
                                                       at(300 + n))])
            linked[anonymous] = customer
    analytics_process_pending()
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
    # Every event of a linked visitor is their customer's (the latest link for events after it).
    for anonymous in linked:
        assert not Event.objects.filter(customer__external_id=f"anon:{anonymous}").exists()
