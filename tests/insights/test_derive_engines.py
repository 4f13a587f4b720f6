"""The SQL derivation engine (insights.derive_sql, docs/derivation.md) against the Python reference
(insights.derivation): the same random stream through each engine leaves the same sessions, carts and
rollups. Streams mix late and resent events, an anonymous visitor identified midway, orders with
discounts and line totals in three currencies, refunds and cancels, traffic contexts, and browser-reported
purchases (public-key namespace) with and without a verified order of their id, under each revenue source
and two confirmation windows (docs/trust.md#browser-reported-and-verified-orders)."""

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
from events.services import events_ingest, identities_record, ingest_key_create, source_of_key
from insights.derive_engine import derivation_engine
from insights.models import PendingWindow
from insights.services import analytics_process_pending, sessions_close_idle
from insights.session_store import Window, windows_from_json
from tests.factories import CustomerFactory
from tests.insights.test_money import seed_rates
from tests.insights.test_services import BASE, batches_at, derived_and_events_clear, products_create, snapshot

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL engine runs on PostgreSQL")]

ACTIONS = ["view", "view", "add_to_cart", "add_to_cart", "remove_from_cart", "checkout", "purchase", "purchase",
           "abandon", "page", "refund", "cancel"]
CONTEXTS = [None, None, {}, {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand"},
            {"referrer": "https://www.facebook.com/x", "page_url": "https://shop.test/a"},
            {"utm_source": "newsletter", "landing_page": "/spring"}]

# A stream about orders: mostly purchases, half of them browser-reported, over three order ids.
ORDER_ACTIONS = ["view", "add_to_cart", "checkout", "purchase", "purchase", "purchase", "cancel"]


def events_of(actions: list[str], browser: list[bool]) -> st.SearchStrategy:
    return st.fixed_dictionaries({
        **EVENT_FIELDS, "action": st.sampled_from(actions),
        "browser": st.sampled_from(browser),  # sent with the public key (refunds and cancels never)
    })


EVENT_FIELDS = {
    "customer": st.sampled_from(["e1", "e2", "visitor"]),
    "minute": st.integers(min_value=0, max_value=100),
    "product": st.sampled_from(["ep1", "ep2", "ep1", "ep3", None]),
    "quantity": st.integers(min_value=1, max_value=3),
    "session": st.sampled_from(["", "", "", "sa"]),
    "order": st.sampled_from(["o1", "o2", "o3", None]),
    "currency": st.sampled_from(["USD", "EUR", "GBP"]),
    "amount": st.sampled_from([None, None, "19.99", "7.35"]),
    "discount": st.sampled_from([None, None, "2.50", "0.00"]),
    "price": st.sampled_from([None, "0.00", "12.40", "3.33"]),
    "context": st.sampled_from(range(len(CONTEXTS))),
}


event_strategy = events_of(ACTIONS, [False, False, True])
order_event_strategy = events_of(ORDER_ACTIONS, [False, True])


def wire_event(n: int, e: dict) -> dict:
    """A drawn event in the native wire format (the visitor's with only its anonymous id)."""
    event: dict = {"event_id": f"x-{n}", "action": e["action"], "quantity": e["quantity"],
                   "timestamp": (BASE + dt.timedelta(minutes=e["minute"])).isoformat()}
    event |= {"anonymous_id": "a-v"} if e["customer"] == "visitor" else {"customer_id": e["customer"]}
    if e["product"] or e["action"] in ("view", "add_to_cart", "remove_from_cart", "purchase"):
        event["product_id"] = e["product"] or "ep1"
    if e["price"] is not None and "product_id" in event:
        event["product_price"] = e["price"]
    if e["session"]:
        event["session_id"] = e["session"]
    if e["action"] in ("purchase", "refund", "cancel"):
        event["order_id"] = e["order"] or "o1"
        event["currency"] = e["currency"]
    if e["action"] in ("purchase", "refund") and e["amount"] or e["action"] == "refund":
        event["amount"] = e["amount"] or "5.00"  # a refund needs an amount
    if e["action"] == "purchase" and e["discount"] is not None:
        event["order"] = {"discount": e["discount"]}
    if CONTEXTS[e["context"]] is not None:
        event["context"] = CONTEXTS[e["context"]]
    if e["browser"] and e["action"] not in ("refund", "cancel"):
        event[_BROWSER] = True
    return event


_BROWSER = "_browser"  # a mark on a drawn event: sent in the public key's namespace (taken off when sent)


def send(events: list[dict]) -> None:
    """Store-level events through the server source, marked ones through the public key's."""
    key = IngestKey.objects.get(name="storefront")
    for browser in (False, True):
        part = [{k: v for k, v in e.items() if k != _BROWSER} for e in events if e.get(_BROWSER, False) == browser]
        if part:
            result = events_ingest(raw_events=part, source=source_of_key(key) if browser else None, broadcast=False)
            assert not result.rejected, result.rejected


class _Undo(Exception):
    """Raised to roll a run back: the next engine starts from the same customers, links and events."""


def _run(engine: str, batches: list[list[dict]], process_after: list[bool], identify_at: int,
         orders: tuple[str, int]) -> dict:
    """The batches through ``engine``: derived now and then, the visitor identified after batch
    ``identify_at``, some resent, idle sessions closed; the state it leaves (then rolled back).
    ``orders``: the revenue source and the confirmation window (hours) in force."""
    state: dict = {}
    revenue_source, hours = orders
    try:
        with transaction.atomic(), override_settings(DERIVATION_ENGINE=engine, REVENUE_SOURCE=revenue_source,
                                                     BROWSER_ORDER_CONFIRM_HOURS=hours):
            assert derivation_engine() == engine
            for n, batch in enumerate(batches):
                send(batch)
                if process_after[n % len(process_after)]:
                    analytics_process_pending()
                if n == identify_at:
                    identities_record(calls=[wire.IdentityCall(0, "identify", "id-1", "e2", "a-v", "", {},
                                                               BASE + dt.timedelta(minutes=150))])
            send([e for b in batches for e in b][:5])  # resent: nothing changes
            analytics_process_pending()
            sessions_close_idle(as_of=BASE + dt.timedelta(minutes=200))
            analytics_process_pending()
            state = snapshot()
            raise _Undo
    except _Undo:
        pass
    return state


def engines_agree(stream: list[dict], cuts: list[int], process_after: list[bool], identify_at: int,
                  orders: tuple[str, int] = ("auto", 24)) -> tuple[dict, dict]:
    """The state each engine leaves from the same stream (the reference first)."""
    if not ExchangeRate.objects.exists():
        seed_rates()
    if not Customer.objects.filter(external_id="e1").exists():
        products_create(prefix="e")
        CustomerFactory(external_id="e1", age=30)
        CustomerFactory(external_id="e2", age=None)
        CustomerFactory(external_id="anon:a-v", age=None)  # the visitor: the same pk in both runs
    if not IngestKey.objects.filter(name="storefront").exists():
        ingest_key_create(name="storefront", public=True, origins=["https://shop.test"])
    derived_and_events_clear()
    batches = batches_at([wire_event(n, e) for n, e in enumerate(stream)], cuts)
    return (_run("python", batches, process_after, identify_at, orders),
            _run("sql", batches, process_after, identify_at, orders))


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=st.lists(event_strategy, min_size=1, max_size=24),
       cuts=st.lists(st.integers(min_value=1, max_value=24), max_size=5),
       process_after=st.lists(st.booleans(), min_size=3, max_size=3),
       identify_at=st.integers(min_value=0, max_value=4),
       orders=st.tuples(st.sampled_from(["auto", "verified", "browser"]), st.sampled_from([0, 24])))
@example(stream=[{**e, "action": a, "product": p, "minute": m} for e in [{
    "customer": "e1", "quantity": 1, "session": "", "order": "o1", "currency": "USD", "amount": None,
    "discount": None, "price": None, "context": 0, "browser": False}]
    for a, p, m in [("add_to_cart", "ep1", 1), ("add_to_cart", "ep2", 2), ("checkout", None, 3),
                    ("purchase", "ep1", 4), ("purchase", "ep2", 4), ("purchase", "ep3", 4)]],
    cuts=[], process_after=[True, True, True], identify_at=0, orders=("auto", 24))
def test_sql_engine_equals_the_python_reference(stream, cuts, process_after, identify_at, orders):
    """(The explicit example: one order of two products of one category and one of another: each
    category counts the order once.)"""
    reference, sql = engines_agree(stream, cuts, process_after, identify_at, orders)
    assert sql == reference


def _order(customer: str, minute: int, action: str, order: str, browser: bool) -> dict:
    return {"customer": customer, "minute": minute, "action": action, "product": "ep1", "quantity": 1, "session": "",
            "order": order, "currency": "USD", "amount": None, "discount": None, "price": "12.40", "context": 0,
            "browser": browser}


# Each verdict at least once: o1 confirmed (verified 10 minutes later), o2 with no verified order (counted
# or void by the revenue source), o3 verified 40 minutes later (void with a 0-hour window).
ORDER_EXAMPLE = [_order("e1", 5, "add_to_cart", "o1", True), _order("e1", 6, "purchase", "o1", True),
                 _order("e2", 10, "purchase", "o2", True), _order("e2", 50, "purchase", "o3", True),
                 _order("e1", 16, "purchase", "o1", False), _order("e2", 90, "purchase", "o3", False)]


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=st.lists(order_event_strategy, min_size=1, max_size=16),
       cuts=st.lists(st.integers(min_value=1, max_value=16), max_size=3),
       orders=st.tuples(st.sampled_from(["auto", "verified", "browser"]), st.sampled_from([0, 24])))
@example(stream=ORDER_EXAMPLE, cuts=[3], orders=("verified", 0))
@example(stream=ORDER_EXAMPLE, cuts=[5], orders=("browser", 24))
@example(stream=ORDER_EXAMPLE[:4], cuts=[2], orders=("auto", 24))
@example(stream=[*ORDER_EXAMPLE, _order("e1", 30, "cancel", "o1", False)], cuts=[6], orders=("auto", 24))
def test_browser_orders_sql_equals_the_python_reference(stream, cuts, orders):
    """Browser purchases with and without a verified order of their id, cancels among them: the SQL
    engine's verdicts (confirmed, counted, void) are the reference's."""
    reference, sql = engines_agree(stream, cuts, [True, False, True], 1, orders)
    assert sql == reference


def _visit(minute: int, session: str) -> dict:
    return {"customer": "e1", "minute": minute, "action": "view", "product": "ep1", "quantity": 1, "session": session,
            "order": None, "currency": "USD", "amount": None, "discount": None, "price": None, "context": 0,
            "browser": False}


# Stored after the first batch: idle-gap sessions at 0 and at 30 (a gap of 30 minutes parts them) and client
# session "a" at 10. The second batch's view at 45 (no client session) reaches the one at 30 within the idle
# gap, and from there the one at 0: two rounds of the one statement, one of the rounds (an overlap grows until
# it stops within a round). The window names no client session, so "a" is not reached.
GROWTH_STREAM = [_visit(0, ""), _visit(30, ""), _visit(10, "a"), _visit(45, "")]


@pytest.mark.parametrize("rounds", [2, 20])
def test_windows_grown_by_the_rounds_when_the_one_statement_hits_the_cap(monkeypatch, rounds):
    """The growth in one statement hands over to the rounds when a window still grows at the cap (2
    here); the sessions, carts and rollups are the reference's either way."""
    from insights import derive_sql

    monkeypatch.setattr("insights.services._MAX_WINDOW_GROWTH", rounds)
    monkeypatch.setattr(derive_sql, "_GROW_ROUNDS", rounds)
    by_rounds = []
    grow = derive_sql._grow_by_rounds
    monkeypatch.setattr(derive_sql, "_grow_by_rounds", lambda cur: by_rounds.append(grow(cur)) or by_rounds[-1])
    reference, sql = engines_agree(GROWTH_STREAM, [3], [True, True, True], 5)
    assert sql == reference
    assert sorted((key[:3], n) for _, key, _, _, n, *_ in sql["sessions"]) == [("g:2", 1), ("g:2", 2), ("s:a", 1)]
    assert by_rounds == ([True] if rounds == 2 else [])  # handed over at the cap, and the rounds converged


# Client sessions "a" (minutes 0 to 10) and "b" (20 to 30) stored, then a late view of "b" at 31.
REACH_STREAM = [_visit(0, "a"), _visit(10, "a"), _visit(20, "b"), _visit(30, "b"), _visit(31, "b")]


def _stored_then_sent(stream: list[dict], cut: int) -> int:
    """The stream's first ``cut`` events derived, the rest sent (queued); the customer "e1"'s pk."""
    events = [wire_event(n, e) for n, e in enumerate(stream)]
    send(events[:cut])
    analytics_process_pending()
    send(events[cut:])
    return Customer.objects.get(external_id="e1").pk


def _reach(windows: dict) -> tuple[dict, list[str], list[tuple], list[tuple]]:
    """How each engine grows these windows: the Python path's grown windows and the keys of the stored
    sessions it replaces; the SQL engine's grown ``dv_w`` (lo, hi) and ``dv_old`` keys."""
    from insights.derive_sql import windows_grow, windows_load
    from insights.services import _sessions_reached

    reach, _ = _sessions_reached(windows)
    with connection.cursor() as cur:
        windows_load(cur, windows, {})
        windows_grow(cur)
        cur.execute("SELECT lo, hi FROM dv_w")
        grown = cur.fetchall()
        cur.execute("SELECT k FROM dv_old")
        old = cur.fetchall()
    return reach.windows, sorted(s.key for s in reach.stored.values()), grown, old


def test_a_late_event_of_a_client_session_reaches_no_other_client_session():
    """A client session depends on its own events only (an idle-gap session also on its neighbours'
    gaps): a late view of "b" re-derives "b" and not "a", which ends 10 minutes before "b" starts,
    well within the idle gap; both engines grow the window the same way, and end as the reference."""
    reference, sql = engines_agree(REACH_STREAM, [4], [True, True, True], 5)
    assert sql == reference
    assert sorted((key, n) for _, key, _, _, n, *_ in sql["sessions"]) == [("s:a", 2), ("s:b", 3)]

    customer = _stored_then_sent(REACH_STREAM, 4)
    late = BASE + dt.timedelta(minutes=31)
    windows, stored, grown, old = _reach({customer: Window(late, late)})
    assert windows == {customer: Window(BASE + dt.timedelta(minutes=20), late)}
    assert stored == ["s:b"]
    assert grown == [(BASE + dt.timedelta(minutes=20), late)]
    assert old == [("s:b",)]


# Client sessions "a" (minutes 0 to 40) and "b" (10 to 20, inside "a") stored, then a view of "a" at 41.
NAMED_STREAM = [_visit(0, "a"), _visit(40, "a"), _visit(10, "b"), _visit(20, "b"), _visit(41, "a")]


def test_a_new_event_re_derives_the_client_session_it_names_and_no_other():
    """Ingest queues a new event's window with its client session's key: the window grows to the whole of
    "a" (0 to 41) yet does not take "b", which it overlaps but whose events did not change; both engines
    replace "a" only, and end as the reference."""
    reference, sql = engines_agree(NAMED_STREAM, [4], [True, True, True], 5)
    assert sql == reference
    assert sorted((key, n) for _, key, _, _, n, *_ in sql["sessions"]) == [("s:a", 3), ("s:b", 2)]

    customer = _stored_then_sent(NAMED_STREAM, 4)
    late = BASE + dt.timedelta(minutes=41)
    queued = windows_from_json(PendingWindow.objects.values_list("windows", flat=True))
    assert queued == {customer: Window(late, late, frozenset({"s:a"}))}
    windows, stored, grown, old = _reach(queued)
    assert windows == {customer: Window(BASE, late, frozenset({"s:a"}))}
    assert stored == ["s:a"]
    assert grown == [(BASE, late)]
    assert old == [("s:a",)]
