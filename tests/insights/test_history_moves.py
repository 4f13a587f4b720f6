"""History moves in bounded steps (insights.moves): an identify, an alias or an age from traits records
what it says at once and moves the customer's history a step at a time (HISTORY_MOVE_STEP_EVENTS
events and sessions a step, each its own transaction): small ones within the request, the rest in the
Celery task (run here synchronously, as a worker would). Whatever happens between the steps (events,
cancels, derivation, a rebuild, an erasure), incremental rollups equal a rebuild once the moves are
done."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from customers.services import customer_history_settle, customer_traits_update
from events import wire
from events.models import Event
from events.services import events_ingest_segment, identities_record, ingest_key_create, source_of_key
from insights.models import EventHourly, HistoryMove, Session
from insights.moves.services import history_move_step, history_moves_run
from insights.rebuild import analytics_rebuild
from insights.services import analytics_process_pending
from insights.tasks import history_moves_task
from insights.upkeep import customer_events_erase
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import build_store, ingest
from tests.insights.test_identity_merge import VISITORS, _anonymous, at
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


@pytest.fixture
def small_steps(settings, monkeypatch):
    """Steps of 3 events (or one session), and a request that makes one step: the moves here are
    "large" ones, made mostly by the task."""
    settings.HISTORY_MOVE_STEP_EVENTS = 3
    monkeypatch.setattr("insights.moves.services.SETTLE_STEPS", 1)


def assert_equals_rebuild() -> dict:
    analytics_process_pending()
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
    return incremental


def identify(customer: str, *, anonymous: str = "", traits: dict | None = None, n: int = 0) -> None:
    identities_record(calls=[wire.IdentityCall(0, "identify", f"id-{customer}-{n}", customer, anonymous, "",
                                               traits or {}, at(300 + n))])


def test_a_servers_identify_queues_a_large_age_change_and_the_task_makes_it(small_steps,
                                                                            django_capture_on_commit_callbacks):
    build_store()
    with django_capture_on_commit_callbacks(execute=False) as sent:
        identify("B", traits={"age": 70})  # B: 8 events, 2 sessions in 36-45
    move = HistoryMove.objects.get()
    assert move.steps == 1 and move.finished_at is None  # the request made one bounded step
    assert move.events + move.sessions <= 3
    assert len(sent) == 1  # the rest goes to the task, once the request's writes are committed
    assert Customer.objects.get(external_id="B").age_group == "66+"  # from the first step on
    ingest([{"event_id": "b-new", "customer_id": "B", "action": "view", "product_id": "p1",
             "timestamp": "2024-03-04T18:00:00Z"}])  # counted in the new group at once
    assert EventHourly.objects.get(hour=dt.datetime(2024, 3, 4, 18, tzinfo=dt.UTC)).age_group == "66+"
    assert history_moves_task() >= 2
    move.refresh_from_db()
    assert move.finished_at is not None and (move.events, move.sessions) == (8, 2)
    after = assert_equals_rebuild()
    assert not any(key[2] == "36-45" for key in after["events_hourly"])


def test_a_visitors_few_sessions_move_within_the_request(django_capture_on_commit_callbacks):
    ProductFactory(external_id="p", price=5)
    CustomerFactory(external_id="c-1", age=30)
    events_ingest_segment(messages=[{"type": "page", "messageId": f"pg{n}", "anonymousId": "a-1",
                                     "timestamp": at(40 * n)} for n in range(6)], broadcast=False)
    analytics_process_pending()
    assert Session.objects.count() == 6
    with django_capture_on_commit_callbacks(execute=False) as sent:
        identify("c-1", anonymous="a-1")
    assert HistoryMove.objects.get().finished_at is not None and sent == []  # no task needed
    assert set(Event.objects.values_list("customer__external_id", flat=True)) == {"c-1"}
    assert_equals_rebuild()


def test_a_visitor_with_a_long_history_is_linked_at_once_and_merged_in_steps(small_steps,
                                                                             django_capture_on_commit_callbacks):
    ProductFactory(external_id="p", price=5)
    CustomerFactory(external_id="c-1", age=30)
    views = [{"type": "track", "event": "Product Viewed", "messageId": f"v{n}", "anonymousId": "a-1",
              "timestamp": at(n), "properties": {"product_id": "p"}} for n in range(10)]
    events_ingest_segment(messages=views, broadcast=False)
    analytics_process_pending()
    with django_capture_on_commit_callbacks(execute=False) as sent:
        events_ingest_segment(messages=[
            {"type": "identify", "messageId": "i", "userId": "c-1", "anonymousId": "a-1", "timestamp": at(11)},
            {"type": "page", "messageId": "late", "anonymousId": "a-1", "timestamp": at(12)}],
            broadcast=False, source=source_of_key(ingest_key_create(name="web", public=True,
                                                                   origins=["https://shop.example"])[0]))
    customer = Customer.objects.get(external_id="c-1")
    assert Event.objects.get(event_id="late").customer_id == customer.pk  # linked at once
    assert Event.objects.filter(customer__external_id="anon:a-1").count() > 0  # not all moved yet
    assert len(sent) == 1
    history_moves_task()
    assert set(Event.objects.values_list("customer_id", flat=True)) == {customer.pk}
    assert_equals_rebuild()
    session = Session.objects.get()
    assert (session.customer_id, session.age_group, session.event_count) == (customer.pk, "26-35", 11)


def test_a_cancel_between_the_steps_takes_money_out_where_it_is_counted(small_steps):
    ProductFactory(external_id="p", price=10)
    CustomerFactory(external_id="x", age=30)
    ingest([{"event_id": f"l-{o}-{n}", "customer_id": "x", "action": "purchase", "product_id": "p", "quantity": 1,
             "order_id": f"o-{o}", "timestamp": (BASE + dt.timedelta(hours=o, minutes=n)).isoformat()}
            for o in range(3) for n in range(2)])
    analytics_process_pending()
    customer_traits_update(customer_pk=Customer.objects.get(external_id="x").pk, traits={"age": 70})
    customer_history_settle()  # the switch, then the sessions one a step (a session weighs more than 3 events)
    move = HistoryMove.objects.get()
    while move.cursor_at is None:
        history_move_step()  # then 3 of the 6 lines
        move.refresh_from_db()
    assert move.finished_at is None and move.cursor_at < BASE + dt.timedelta(hours=2)
    # The last order's lines are still counted in 26-35 while the customer is already 66+.
    ingest([{"event_id": "cancel", "customer_id": "x", "action": "cancel", "order_id": "o-2",
             "timestamp": (BASE + dt.timedelta(hours=5)).isoformat()}])
    history_moves_run()
    after = assert_equals_rebuild()
    assert {key[2] for key in after["events_hourly"]} == {"66+"}


def test_a_rebuild_between_the_steps_finishes_an_age_move(small_steps):
    build_store()
    identify("A", traits={"age": 50})
    assert HistoryMove.objects.get().finished_at is None
    analytics_rebuild()  # counts every event in its customer's group: the move has nothing left to do
    assert HistoryMove.objects.get().finished_at is not None and history_moves_run() == 0
    ingest([{"event_id": "a-new", "customer_id": "A", "action": "view", "product_id": "p2",
             "timestamp": "2024-03-04T19:00:00Z"}])
    after = assert_equals_rebuild()
    assert not any(key[2] == "26-35" for key in after["events_hourly"])


def test_an_erasure_makes_the_open_moves_first(small_steps):
    build_store()
    ProductFactory(external_id="p", price=5)
    events_ingest_segment(messages=[{"type": "page", "messageId": f"pg{n}", "anonymousId": "v", "timestamp": at(n)}
                                    for n in range(8)], broadcast=False)
    identify("C", anonymous="v")
    assert HistoryMove.objects.filter(finished_at__isnull=True).exists()
    customer_events_erase(customer=Customer.objects.get(external_id="C"))
    assert not HistoryMove.objects.filter(finished_at__isnull=True).exists()
    assert not Event.objects.filter(customer__external_id__in=["C", "anon:v"]).exists()
    assert_equals_rebuild()


def test_a_move_waits_for_an_earlier_one_that_names_its_customer(small_steps):
    build_store()
    events_ingest_segment(messages=[{"type": "page", "messageId": f"pg{n}", "anonymousId": "v", "timestamp": at(n)}
                                    for n in range(8)], broadcast=False)
    identify("D", anonymous="v")  # a merge into D, in steps
    identify("D", traits={"age": 30}, n=1)  # then D's age: after the merge
    identify("C", traits={"age": 60}, n=2)  # C's: independent, goes ahead of D's
    merge, d_age, c_age = HistoryMove.objects.order_by("id")
    assert merge.finished_at is None and d_age.steps == 0 and c_age.steps == 1
    history_moves_run()
    assert all(m.finished_at is not None for m in HistoryMove.objects.all())
    assert Customer.objects.get(external_id="D").age_group == "26-35"
    assert_equals_rebuild()


# --- property: links and ages from traits, made in steps between random batches ---------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(event_strategy(prefix="m", sessions=["", "", "sa"], order=st.sampled_from([None, "mo1", "mo2"]),
                                      amount=st.sampled_from([None, "9.99"])), min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=4),
       changes=st.lists(st.tuples(st.sampled_from(["a-m1", "a-m2", ""]), st.sampled_from(["m3", "known"]),
                                  st.sampled_from([None, 20, 70])), min_size=1, max_size=3),
       cancels=st.lists(st.sampled_from(["mo1", "mo2"]), max_size=2),
       process_after=st.lists(st.booleans(), min_size=5, max_size=5),
       steps_after=st.lists(st.integers(min_value=0, max_value=3), min_size=5, max_size=5))
def test_moves_made_in_steps_between_batches_keep_incremental_equal_to_rebuild(stream, cuts, changes, cancels,
                                                                                process_after, steps_after):
    with override_settings(HISTORY_MOVE_STEP_EVENTS=2):
        derived_and_events_clear()
        HistoryMove.objects.all().delete()
        Customer.objects.all().delete()
        if not ProductFactory._meta.model.objects.filter(external_id="mp1").exists():
            products_create(prefix="m")
        CustomerFactory(external_id="m3", age=40)
        CustomerFactory(external_id="known", age=70)
        batches = batches_at(_anonymous(wire_events(stream, prefix="m")), cuts)
        for n, order in enumerate(cancels):
            batches.insert(min(n + 1, len(batches)), [{"event_id": f"mx-{n}", "customer_id": "m3", "action": "cancel",
                                                       "order_id": order, "timestamp": at(250 + n)}])
        for n, batch in enumerate(batches):
            ingest(batch)
            if process_after[n % len(process_after)]:
                analytics_process_pending()
            if n < len(changes):
                anonymous, customer, age = changes[n]
                identify(customer, anonymous=anonymous, traits={} if age is None else {"age": age}, n=n)
            for _ in range(steps_after[n % len(steps_after)]):
                history_move_step()
        history_moves_run()
        analytics_process_pending()
        incremental = snapshot()
        analytics_rebuild()
        assert snapshot() == incremental
        for anonymous in {a for a, _, _ in changes[:len(batches)] if a}:
            assert not Event.objects.filter(customer__external_id=f"anon:{anonymous}").exists()
        assert VISITORS  # the drawn visitors are the identity test's


def test_admin_lists_the_moves_read_only(small_steps, admin_client):
    build_store()
    identify("B", traits={"age": 70})
    move = HistoryMove.objects.get()
    listing = admin_client.get("/admin/insights/historymove/").content.decode()
    assert f"customer {move.customer_id} age 70" in listing and "/admin/insights/historymove/add/" not in listing
    assert admin_client.post(f"/admin/insights/historymove/{move.pk}/change/", {}).status_code == 403
