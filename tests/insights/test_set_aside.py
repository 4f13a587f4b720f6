"""A failing window never stops the others: derivation sets aside a customer's window it cannot derive
(error kept, retried with backoff, listed in admin, counted in the freshness banner) and derives the
rest. The failing window here is real: a stored row (as written before ingest bounded line totals, or
by hand) whose line total no money column can hold."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from accounts.roles import Role
from events.models import Event
from events.services import ingest_key_create
from insights import selectors
from insights.filters import MetricFilter
from insights.models import Cart, PendingWindow, Session
from insights.rebuild import analytics_rebuild
from insights.services import analytics_process_pending, pending_windows_queue, sessions_close_idle
from insights.set_aside import RETRY_FIRST, retry_delay
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import ingest
from tests.insights.test_services import snapshot

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def line(n: int, customer: str, minutes_ago: int, **kw) -> dict:
    return {"event_id": f"g{n}", "customer_id": customer, "action": "purchase", "product_id": "sp",
            "product_price": "20.00", "quantity": 1, "order_id": f"o{n}", "session_id": f"s-{customer}",
            "timestamp": (NOW - dt.timedelta(minutes=minutes_ago)).isoformat(), **kw}


def hostile_row(*, minutes_ago: int, session: str = "s-h") -> Event:
    """A purchase line of 2·10^19 stored as it is (no ingest check), its window queued with good ones'."""
    customer = CustomerFactory(external_id="h")
    ts = NOW - dt.timedelta(minutes=minutes_ago)
    event = Event.objects.create(event_id="hostile", customer=customer, product=ProductFactory(external_id="hp"),
                                 action="purchase", price=Decimal("9999999999.99"), quantity=2_000_000_000,
                                 order_id="ho", session_id=session, timestamp=ts)
    return event


def set_aside_rows() -> list[PendingWindow]:
    return list(PendingWindow.objects.filter(attempts__gt=0))


def post_event(event: dict) -> None:
    _key, secret = ingest_key_create(name="server")
    response = Client().post("/api/v1/events", data=json.dumps({"events": [event]}), content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.content


def test_a_failing_window_is_set_aside_retried_with_backoff_and_the_others_derived(client_for):
    ProductFactory(external_id="sp", price=Decimal("20.00"))
    ingest([line(1, "a", 50), line(2, "b", 40)])
    hostile = hostile_row(minutes_ago=45)
    ingest([line(3, "c", 30)])
    # the hostile customer's window in the same queued batch as a good customer's
    pending_windows_queue(spans=[(hostile.customer_id, hostile.timestamp, hostile.timestamp),
                                 (Event.objects.get(event_id="g3").customer_id, NOW, NOW)], events=2)
    assert analytics_process_pending() == 3

    assert sorted(Session.objects.values_list("customer__external_id", flat=True)) == ["a", "b", "c"]
    [aside] = set_aside_rows()
    assert PendingWindow.objects.count() == 1 and aside.windows.keys() == {str(hostile.customer_id)}
    assert aside.attempts == 1 and aside.last_error
    assert NOW + RETRY_FIRST <= aside.retry_at <= timezone.now() + RETRY_FIRST

    # the freshness banner counts it (and nothing is waiting in the queue)
    status = selectors.derivation_status()
    assert (status["pending_batches"], status["set_aside_windows"]) == (0, 1)
    assert status["message"] == "1 window could not be derived: see admin (retried automatically)."

    # not due: left alone; then due: tried again alone, and set aside again for twice as long
    assert analytics_process_pending() == 0 and set_aside_rows() == [aside]
    PendingWindow.objects.update(retry_at=timezone.now() - dt.timedelta(seconds=1))
    before = timezone.now()
    assert analytics_process_pending() == 1
    [again] = set_aside_rows()
    assert again.attempts == 2 and again.last_error == aside.last_error
    assert before + retry_delay(2) <= again.retry_at <= timezone.now() + retry_delay(2)
    assert retry_delay(2) == 2 * RETRY_FIRST and retry_delay(30) == dt.timedelta(hours=1)

    # admin lists it with its error; "retry now" makes it due
    admin = client_for(Role.ADMIN)
    listing = admin.get("/admin/insights/pendingwindow/?state=set_aside")
    first_line = escape(again.last_error.splitlines()[0][:60])
    assert listing.status_code == 200 and first_line.encode() in listing.content
    assert b"set aside after 2 failed attempts" in listing.content

    # the store keeps working: an event sent now is derived and on the KPIs
    post_event(line(4, "d", 1, product_price="7.25", quantity=2))
    assert analytics_process_pending() == 1
    assert Session.objects.filter(customer__external_id="d", purchased=True).exists()
    kpis = selectors.kpis_stats(MetricFilter.default())
    assert (kpis["orders"], kpis["revenue"]) == (4, 74.5)

    # once the bad row is gone (removed by hand here), the retry derives the window and it leaves the queue
    hostile.delete()
    response = admin.post("/admin/insights/pendingwindow/", {"action": "retry_now", "_selected_action": [again.pk]})
    assert response.status_code == 302
    assert analytics_process_pending() == 1
    assert not PendingWindow.objects.exists()
    assert selectors.derivation_status()["message"] is None
    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental


def test_closing_idle_sessions_sets_aside_a_failing_customer_and_closes_the_others():
    ProductFactory(external_id="sp", price=Decimal("20.00"))
    # h's session has an open cart too: closing derives it again (one without is closed by its flag alone)
    ingest([{**line(1, "a", 50), "action": "add_to_cart", "order_id": None},
            {**line(2, "h", 50), "action": "add_to_cart", "order_id": None}])
    assert analytics_process_pending(as_of=NOW - dt.timedelta(minutes=45)) == 1
    assert Session.objects.filter(closed=False).count() == 2
    # a hostile row lands in h's open session (stored without its window queued)
    customer = Session.objects.get(customer__external_id="h").customer
    Event.objects.create(event_id="hostile", customer=customer, product=ProductFactory(external_id="hp"),
                         action="purchase", price=Decimal("9999999999.99"), quantity=2_000_000_000, order_id="ho",
                         session_id="s-h", timestamp=NOW - dt.timedelta(minutes=50))
    assert sessions_close_idle(as_of=NOW) == 2
    assert Cart.objects.get(customer__external_id="a").state == "abandoned"
    assert list(Session.objects.filter(closed=False).values_list("customer__external_id", flat=True)) == ["h"]
    [aside] = set_aside_rows()
    assert aside.windows.keys() == {str(customer.pk)} and aside.attempts == 1
    # the next run leaves the set-aside customer to its retry instead of failing on it again
    assert sessions_close_idle(as_of=NOW) == 0 and set_aside_rows() == [aside]
