"""Changing history keeps the numbers true (issue 10): after erasing a customer or changing a
customer's age group, incremental rollups equal a rebuild from the remaining events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from events.models import Event
from insights.models import Cart, CustomerDaily, CustomerTotals, EventHourly, PendingWindow, ProductDaily, Session
from insights.rebuild import analytics_rebuild
from insights.services import analytics_process_pending
from insights.upkeep import customer_age_group_change, customer_events_erase
from ml.models import CartScore
from tests.factories import CustomerFactory, ModelVersionFactory, ProductFactory
from tests.insights.store_fixture import build_store, ingest
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


def revenue(model, **filters) -> Decimal:
    return Decimal(str(model.objects.filter(**filters).aggregate(t=Sum("revenue"))["t"] or 0))


def assert_equals_rebuild() -> dict:
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
    return incremental


def test_erasing_a_customer_takes_exactly_their_share_out_of_every_rollup(make_user):
    objs = build_store()
    alice = objs["customers"]["A"]
    LogEntry.objects.create(user=make_user(None), content_type=ContentType.objects.get_for_model(Customer),
                            object_id=str(alice.pk), object_repr=str(alice), action_flag=CHANGE,
                            change_message="Changed email.")
    before_total = revenue(EventHourly)
    alice_revenue = revenue(CustomerTotals, customer_id=alice.pk)
    assert alice_revenue == Decimal("140.00")
    others = {pk: (rev, n) for pk, rev, n in CustomerTotals.objects.exclude(customer_id=alice.pk)
              .values_list("customer_id", "revenue", "events")}
    version = ModelVersionFactory()
    CartScore.objects.create(customer=alice, session_key="g:x", model_version=version, probability=0.5,
                             opened_at=BASE, decided_at=BASE)

    result = customer_events_erase(customer=alice)

    assert (result.events, result.sessions, result.carts) == (7, 2, 2)
    assert not Customer.objects.filter(pk=alice.pk).exists()
    assert not Event.objects.filter(customer_id=alice.pk).exists()
    assert not Session.objects.filter(customer_id=alice.pk).exists() and not Cart.objects.filter(
        customer_id=alice.pk).exists()
    assert not CustomerDaily.objects.filter(customer_id=alice.pk).exists()
    assert not CartScore.objects.exists()
    assert revenue(EventHourly) == before_total - alice_revenue
    assert revenue(ProductDaily) == before_total - alice_revenue
    assert {pk: (rev, n) for pk, rev, n in CustomerTotals.objects.values_list("customer_id", "revenue", "events")
            } == others
    assert list(LogEntry.objects.values_list("object_repr", flat=True)) == [f"erased customer #{alice.pk}"]
    after = assert_equals_rebuild()
    assert not any(key[2] == "26-35" for key in after["events_hourly"])  # Alice was the only 26-35 customer


def test_erasing_a_customer_whose_events_are_not_derived_yet():
    build_store()
    CustomerFactory(external_id="E", age=50)
    ingest([{"event_id": f"e-{i}", "customer_id": "E", "action": "purchase", "product_id": "p2", "quantity": 1,
             "amount": "19.99", "order_id": "oe", "timestamp": f"2024-03-04T17:0{i}:00Z"} for i in range(3)])
    assert PendingWindow.objects.exists()  # queued, not derived
    erased = Customer.objects.get(external_id="E")
    assert customer_events_erase(customer=erased).events == 3
    analytics_process_pending()  # the queued window finds nothing to derive
    after = assert_equals_rebuild()
    assert not any(key[2] == "46-55" for key in after["events_hourly"])


def test_an_age_change_moves_the_customers_history_to_the_new_group():
    objs = build_store()
    bob = objs["customers"]["B"]
    assert bob.age_group == "36-45"
    moved = customer_age_group_change(customer=bob, age=70)
    assert (moved.old_group, moved.new_group, moved.events, moved.sessions) == ("36-45", "66+", 8, 2)
    assert (bob.age, bob.age_group) == (70, "66+")
    assert Customer.objects.get(pk=bob.pk).age_group == "66+"
    assert set(Session.objects.filter(customer=bob).values_list("age_group", flat=True)) == {"66+"}
    assert set(Cart.objects.filter(customer=bob).values_list("age_group", flat=True)) == {"66+"}
    after = assert_equals_rebuild()
    assert not any(key[2] == "36-45" for key in after["events_hourly"])
    assert any(key[1] == "66+" for key in after["sessions_daily"])
    # Events sent after the change count in the new group from the start.
    ingest([{"event_id": "b-late", "customer_id": "B", "action": "view", "product_id": "p1",
             "timestamp": "2024-03-04T18:00:00Z"}])
    analytics_process_pending()
    assert EventHourly.objects.get(hour=dt.datetime(2024, 3, 4, 18, tzinfo=dt.UTC)).age_group == "66+"
    assert_equals_rebuild()


def test_an_age_change_within_the_group_moves_nothing():
    objs = build_store()
    before = snapshot()
    moved = customer_age_group_change(customer=objs["customers"]["B"], age=44)
    assert (moved.old_group, moved.new_group, moved.events) == ("36-45", "36-45", 0)
    assert Customer.objects.get(external_id="B").age == 44
    assert snapshot() == before


def test_unknown_age_and_back():
    objs = build_store()
    dan = objs["customers"]["D"]
    assert customer_age_group_change(customer=dan, age=19).new_group == "18-25"
    assert_equals_rebuild()
    assert customer_age_group_change(customer=dan, age=None).new_group == "unknown"
    assert_equals_rebuild()


# --- property: erasures and age changes at random points of a random stream --------------------

operation = st.tuples(st.sampled_from(["erase", "age"]), st.sampled_from(["u1", "u2", "u3"]),
                      st.sampled_from([None, 20, 30, 70]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(event_strategy(prefix="u", sessions=["", "", "sa"],
                                      amount=st.sampled_from([None, None, "9.99", "10.01"])), min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=4),
       ops=st.lists(operation, min_size=1, max_size=4),
       process_after=st.lists(st.booleans(), min_size=6, max_size=6))
def test_random_history_changes_keep_incremental_equal_to_rebuild(stream, cuts, ops, process_after):
    derived_and_events_clear()
    Customer.objects.all().delete()
    if not ProductFactory._meta.model.objects.filter(external_id="up1").exists():
        products_create(prefix="u")
    for ext, age in (("u1", 20), ("u2", None), ("u3", 60)):
        CustomerFactory(external_id=ext, age=age)
    batches = batches_at(wire_events(stream, prefix="u"), cuts)
    # Interleave: batch, maybe derive, one history change, ... (a change may meet queued windows).
    for n, batch in enumerate(batches):
        ingest(batch)
        if process_after[n % len(process_after)]:
            analytics_process_pending()
        if n < len(ops):
            kind, ext, age = ops[n]
            customer = Customer.objects.filter(external_id=ext).first()
            if customer is None:
                continue
            if kind == "erase":
                customer_events_erase(customer=customer)
            else:
                customer_age_group_change(customer=customer, age=age)
    analytics_process_pending()
    incremental = snapshot()
    assert sum(v[0] for v in incremental["events_hourly"].values()) == Event.objects.count()
    analytics_rebuild()
    assert snapshot() == incremental


# --- PostgreSQL: an ingest transaction in flight is waited for -----------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["age", "erase"])
def test_a_history_change_waits_for_an_ingest_transaction_in_flight(change):
    """The ingest transaction reads the customer's age group and adds its events' counters before it
    commits; the change must see those events, or they would stay counted under the old group (or
    outlive the erasure)."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises write transactions already (IMMEDIATE)")
    build_store()
    inserted, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def ingest_then_wait() -> None:
        try:
            with transaction.atomic():
                ingest([{"event_id": "flight-1", "customer_id": "B", "action": "purchase", "product_id": "p1",
                         "amount": "99.95", "timestamp": "2024-03-04T19:00:00Z"}])
                inserted.set()
                # Commit only once the change is waiting for this transaction (a lock not granted).
                with connection.cursor() as cur:
                    for _ in range(600):
                        cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'relation'")
                        if cur.fetchone()[0]:
                            break
                        done.wait(0.05)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=ingest_then_wait)
    thread.start()
    try:
        assert inserted.wait(30)
        bob = Customer.objects.get(external_id="B")
        if change == "age":
            assert customer_age_group_change(customer=bob, age=70).events == 9  # 8 + the one in flight
        else:
            assert customer_events_erase(customer=bob).events == 9
    finally:
        done.set()
        thread.join(30)
    assert not errors
    analytics_process_pending()
    after = assert_equals_rebuild()
    assert not any(key[2] == "36-45" for key in after["events_hourly"])
