from datetime import UTC, datetime, timedelta
from decimal import Decimal

from events.types import StoredEvent
from insights.derivation import (
    ADDED,
    CART_ABANDONED,
    CART_CONVERTED,
    CART_EMPTIED,
    CART_OPEN,
    PURCHASED,
    VIEWED,
    DerivedSession,
    derive_sessions,
)

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)
_n = iter(range(1, 10_000))


def ev(minutes, action, *, customer=1, product=1, session_id="", quantity=1, price="10.00", order_id=None):
    pk = next(_n)
    return StoredEvent(pk=pk, event_id=f"e{pk}", customer_pk=customer, product_pk=product, session_id=session_id,
                       action=action, quantity=quantity, price=Decimal(price), order_id=order_id,
                       timestamp=T0 + timedelta(minutes=minutes))


def test_gap_of_31_minutes_splits_and_29_does_not():
    events = [ev(0, "view"), ev(29, "view"), ev(60, "view"), ev(200, "view", customer=2)]
    sessions = derive_sessions(events, as_of=LATER)
    assert [(s.customer_pk, s.event_count) for s in sessions] == [(1, 2), (1, 1), (2, 1)]
    assert sessions[0].key == f"g:{T0.isoformat()}"
    assert all(s.closed for s in sessions)


def test_client_session_id_groups_regardless_of_gaps():
    events = [ev(0, "view", session_id="a"), ev(90, "view", session_id="a"), ev(1, "view")]
    sessions = derive_sessions(events, as_of=LATER)
    assert sorted((s.key, s.event_count) for s in sessions) == [(f"g:{(T0 + timedelta(minutes=1)).isoformat()}", 1),
                                                               ("s:a", 2)]


def test_cart_outcomes():
    converted = [ev(0, "view"), ev(1, "add_to_cart", quantity=2), ev(2, "checkout"),
                 ev(3, "purchase", quantity=2, order_id="o1")]
    abandoned = [ev(0, "add_to_cart", customer=2, price="5.00"), ev(1, "add_to_cart", customer=2, product=2,
                                                                     price="7.50")]
    emptied = [ev(0, "add_to_cart", customer=3), ev(2, "remove_from_cart", customer=3)]
    explicit = [ev(0, "add_to_cart", customer=4), ev(1, "abandon", customer=4, product=None)]
    still_open = [ev(0, "add_to_cart", customer=5)]
    as_of = T0 + timedelta(minutes=20)  # customer 5 is still within 30 minutes...
    s = {x.customer_pk: x for x in derive_sessions(converted + abandoned + emptied + explicit + still_open,
                                                  as_of=T0 + timedelta(minutes=40))}
    assert s[1].cart.state == CART_CONVERTED and s[1].funnel_step == 4 and s[1].revenue == Decimal("20.00")
    assert s[1].orders == [("o:o1", T0 + timedelta(minutes=3))]
    assert s[2].cart.state == CART_ABANDONED and s[2].cart.value == Decimal("12.50") and s[2].cart.items == 2
    assert s[2].cart.revenue_left == Decimal("12.50")
    assert s[3].cart.state == CART_EMPTIED and s[3].cart.items == 0 and s[3].cart.revenue_left == 0
    assert s[4].cart.state == CART_ABANDONED and s[4].cart.closed_at == T0 + timedelta(minutes=1)
    assert s[5].cart.state == CART_ABANDONED
    open_now = derive_sessions(still_open, as_of=as_of)[0]
    assert open_now.cart.state == CART_OPEN and not open_now.closed and open_now.cart.closed_at is None


def test_funnel_counts_steps_in_order_only():
    events = [ev(0, "checkout"), ev(1, "add_to_cart"), ev(2, "view"), ev(3, "purchase")]
    (s,) = derive_sessions(events, as_of=LATER)
    assert s.funnel_step == 1  # view came after the other steps
    assert s.purchased and s.cart.state == CART_CONVERTED


def test_orders_without_order_id_count_once_per_session_and_multi_line():
    events = [ev(0, "purchase", product=1, price="3.00", quantity=3), ev(0, "purchase", product=2, price="1.50"),
              ev(100, "purchase", order_id="A"), ev(100, "purchase", product=2, order_id="A"),
              ev(101, "purchase", order_id="B")]
    s1, s2 = derive_sessions(events, as_of=LATER)
    assert s1.order_count == 1 and s1.revenue == Decimal("10.50")
    assert s2.order_count == 2 and s2.revenue == Decimal("30.00")
    assert s1.products[1].flags == PURCHASED and s1.products[1].units == 3


def test_product_flags_and_json_round_trip():
    events = [ev(0, "view"), ev(1, "add_to_cart"), ev(2, "view", product=2), ev(3, "abandon", product=None)]
    (s,) = derive_sessions(events, as_of=LATER)
    assert s.products[1].flags == VIEWED | ADDED and s.products[2].flags == VIEWED
    assert DerivedSession.from_json(s.to_json()) == s


def test_refunds_and_cancels_make_no_session_and_a_cancelled_order_is_no_purchase():
    events = [ev(0, "add_to_cart"), ev(1, "purchase", order_id="o1"), ev(2, "purchase", product=2, order_id="o2"),
              ev(500, "refund", order_id="o2"), ev(900, "cancel", product=None, order_id="o1")]
    (s,) = derive_sessions(events, as_of=LATER, cancelled=frozenset({"o1"}))
    assert s.event_count == 3  # the cancelled line is still an event of the visit
    assert [k for k, _ in s.orders] == ["o:o2"] and s.revenue == Decimal("10.00") and s.purchased
    assert not s.products[1].purchased and s.products[2].purchased
    assert s.cart.state == CART_CONVERTED  # o2 converted it
    (only_cancelled,) = derive_sessions(events[:2], as_of=LATER, cancelled=frozenset({"o1"}))
    assert not only_cancelled.purchased and only_cancelled.order_count == 0
    assert only_cancelled.cart.state != CART_CONVERTED
