"""Closing idle sessions (insights.services.sessions_close_idle, docs/derivation.md#closing-idle-sessions):
a session without an open cart is closed by setting its flag only, one with an open cart is derived again
(its cart becomes abandoned or emptied); either way the tables equal a rebuild at the same time."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from insights.models import Session
from insights.rebuild import analytics_rebuild
from insights.services import analytics_process_pending, sessions_close_idle
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import ingest
from tests.insights.test_services import (
    BASE,
    SESSIONS,
    batches_at,
    derived_and_events_clear,
    event_strategy,
    products_create,
    snapshot,
    wire_events,
)

pytestmark = pytest.mark.django_db

DERIVED_AT = BASE + dt.timedelta(minutes=150)  # sessions with an event after 120 minutes are still open then
CLOSED_AT = BASE + dt.timedelta(days=1)


def _visit(minute: int, action: str, session: str = "") -> dict:
    return {"customer": "k1", "minute": minute, "action": action, "product": "kp1", "quantity": 1,
            "session": session}


# Open at 150 minutes: a session of views only (closed by its flag), one with a cart left open (derived
# again: abandoned), one whose cart converted (its flag only).
EXAMPLE = [_visit(125, "view", "a"), _visit(126, "view", "a"), _visit(128, "add_to_cart", "b"),
           _visit(130, "add_to_cart", "c"), _visit(131, "purchase", "c")]


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(event_strategy(prefix="k", sessions=SESSIONS), min_size=1, max_size=20),
       cuts=st.lists(st.integers(min_value=1, max_value=20), max_size=3))
@example(stream=EXAMPLE, cuts=[2])
def test_closing_idle_sessions_equals_a_rebuild_at_the_same_time(stream, cuts):
    derived_and_events_clear()
    if not ProductFactory._meta.model.objects.filter(external_id="kp1").exists():
        products_create(prefix="k")
        for n, age in ((1, 20), (2, None), (3, 60)):
            CustomerFactory(external_id=f"k{n}", age=age)
    for batch in batches_at(wire_events(stream, prefix="k"), cuts):
        ingest(batch)
    analytics_process_pending(as_of=DERIVED_AT)
    open_before = {(s.customer.external_id, s.key): s.cart.state if hasattr(s, "cart") else None
                   for s in Session.objects.filter(closed=False).select_related("cart", "customer")}
    closed = sessions_close_idle(as_of=CLOSED_AT)
    assert closed == len(open_before)
    assert not Session.objects.filter(closed=False).exists()
    incremental = snapshot()
    analytics_rebuild(as_of=CLOSED_AT)
    assert snapshot() == incremental
    if stream == EXAMPLE:
        assert open_before == {("k1", "s:a"): None, ("k1", "s:b"): "open", ("k1", "s:c"): "converted"}
        assert sorted(Session.objects.values_list("key", "cart__state")) == [
            ("s:a", None), ("s:b", "abandoned"), ("s:c", "converted")]
