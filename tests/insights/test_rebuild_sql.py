"""The set-based rebuild (insights.rebuild_sql, docs/derivation.md#rebuild) against the Python rebuild
(insights.rebuild, the reference): from the same stored events, both leave the same sessions with their
summaries, carts, every rollup (event- and session-grained, product pairs, retention), people bitmaps.
Streams are those of tests/insights/test_derive_engines.py: late and resent events, an anonymous visitor
identified midway, orders with discounts and line totals in three currencies, refunds and cancels,
traffic contexts, browser-reported purchases under each revenue source and confirmation window."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from events import wire
from events.models import ExchangeRate, IngestKey
from events.services import identities_record, ingest_key_create
from insights.derive_engine import derivation_engine
from insights.models import CustomerRfm, Session
from insights.rebuild import analytics_rebuild
from insights.rebuild_sql import sessions_rebuild
from insights.services import analytics_process_pending
from tests.factories import CustomerFactory
from tests.insights.test_derive_engines import ORDER_EXAMPLE, event_strategy, order_event_strategy, send, wire_event
from tests.insights.test_money import seed_rates
from tests.insights.test_services import BASE, batches_at, derived_and_events_clear, products_create, snapshot

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL rebuild runs on PostgreSQL")]


class _Undo(Exception):
    """Rolls a run back: the next example starts from the same customers and products."""


def _rebuilt(engine: str, as_of: dt.datetime) -> dict:
    with override_settings(DERIVATION_ENGINE=engine):
        assert derivation_engine() == engine
        counts = analytics_rebuild(as_of=as_of)
    state = snapshot()
    state["counts"] = counts
    state["rfm"] = sorted(CustomerRfm.objects.values_list("customer_id", "orders", "recency", "frequency", "monetary",
                                                          "segment"))
    return state


def rebuilds_agree(stream: list[dict], cuts: list[int], identify_at: int, orders: tuple[str, int],
                   as_of: dt.datetime) -> tuple[dict, dict]:
    """The stream stored (derived now and then, the visitor identified after batch ``identify_at``, some
    events resent), then rebuilt by each path; the states they leave (rolled back afterwards)."""
    store_setup()
    revenue_source, hours = orders
    states: tuple[dict, dict] = ({}, {})
    try:
        with transaction.atomic(), override_settings(REVENUE_SOURCE=revenue_source, BROWSER_ORDER_CONFIRM_HOURS=hours):
            batches = batches_at([wire_event(n, e) for n, e in enumerate(stream)], cuts)
            for n, batch in enumerate(batches):
                send(batch)
                if n % 2:
                    analytics_process_pending()
                if n == identify_at:
                    identities_record(calls=[wire.IdentityCall(0, "identify", "id-1", "e2", "a-v", "", {},
                                                               BASE + dt.timedelta(minutes=150))])
            send([e for b in batches for e in b][:5])  # resent: stored once
            states = (_rebuilt("python", as_of), _rebuilt("sql", as_of))
            raise _Undo
    except _Undo:
        pass
    return states


def store_setup() -> None:
    """The customers, products, rates and ingest key of tests/insights/test_derive_engines.py; no events."""
    if not ExchangeRate.objects.exists():
        seed_rates()
    if not Customer.objects.filter(external_id="e1").exists():
        products_create(prefix="e")
        CustomerFactory(external_id="e1", age=30)
        CustomerFactory(external_id="e2", age=None)
        CustomerFactory(external_id="anon:a-v", age=None)
    if not IngestKey.objects.filter(name="storefront").exists():
        ingest_key_create(name="storefront", public=True, origins=["https://shop.test"])
    derived_and_events_clear()


# One order's discount sent on two lines and on a browser line (only its first verified line's counts),
# another order's line and a refund of it, a cancelled order's discounted line.
DISCOUNTED = [ORDER_EXAMPLE[4] | {"minute": 5, "discount": "2.50"},
              ORDER_EXAMPLE[4] | {"minute": 7, "discount": "2.50"},
              ORDER_EXAMPLE[0] | {"action": "purchase", "discount": "1.00"},
              ORDER_EXAMPLE[2] | {"browser": False, "discount": "0.00", "amount": "19.99"},
              ORDER_EXAMPLE[2] | {"browser": False, "action": "refund", "minute": 40, "amount": "7.35"},
              ORDER_EXAMPLE[3] | {"browser": False, "discount": "2.50", "currency": "EUR"},
              ORDER_EXAMPLE[3] | {"browser": False, "action": "cancel", "minute": 95}]
AS_OF = st.sampled_from([BASE + dt.timedelta(minutes=60), BASE + dt.timedelta(minutes=300)])


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=st.lists(event_strategy, min_size=1, max_size=30),
       cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=5),
       identify_at=st.integers(min_value=0, max_value=4),
       orders=st.tuples(st.sampled_from(["auto", "verified", "browser"]), st.sampled_from([0, 24])), as_of=AS_OF)
def test_sql_rebuild_equals_the_python_rebuild(stream, cuts, identify_at, orders, as_of):
    reference, sql = rebuilds_agree(stream, cuts, identify_at, orders, as_of)
    assert reference["counts"]["events"] > 0
    assert sql == reference


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=st.lists(order_event_strategy, min_size=1, max_size=16),
       cuts=st.lists(st.integers(min_value=1, max_value=16), max_size=3),
       orders=st.tuples(st.sampled_from(["auto", "verified", "browser"]), st.sampled_from([0, 24])))
@example(stream=ORDER_EXAMPLE, cuts=[3], orders=("verified", 0))
@example(stream=ORDER_EXAMPLE, cuts=[5], orders=("browser", 24))
@example(stream=[*ORDER_EXAMPLE, ORDER_EXAMPLE[1] | {"action": "cancel", "minute": 30}], cuts=[6],
         orders=("auto", 24))
@example(stream=DISCOUNTED, cuts=[2], orders=("auto", 24))
def test_sql_rebuild_of_browser_orders_equals_the_python_rebuild(stream, cuts, orders):
    """Mostly purchases, half browser-reported, over three order ids: money, discounts and verdicts."""
    reference, sql = rebuilds_agree(stream, cuts, 1, orders, BASE + dt.timedelta(minutes=300))
    assert sql == reference


def test_batches_hold_whole_customers(monkeypatch):
    """Cut into batches of a few events, every customer's sessions are still derived whole."""
    store_setup()
    stream = [{"customer": c, "minute": m, "action": "view", "product": "ep1", "quantity": 1, "session": "",
               "order": None, "currency": "USD", "amount": None, "discount": None, "price": None, "context": 0,
               "browser": False} for c in ("e1", "e2") for m in (1, 5, 9, 80)]
    send([wire_event(n, e) for n, e in enumerate(stream)])
    monkeypatch.setattr("insights.rebuild_sql.BATCH_EVENTS", 3)
    with transaction.atomic():
        Session.objects.all().delete()
        events, sessions = sessions_rebuild(as_of=BASE + dt.timedelta(minutes=300))
    assert (events, sessions) == (8, 4)
    assert sorted(Session.objects.values_list("event_count", flat=True)) == [1, 1, 3, 3]
