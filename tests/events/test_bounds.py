"""No value can overflow anything: every money figure of an event is bounded at ingest (per event, with
a reason; the good events beside it stored) so that every rollup column holds a year of sums, and a
refund counts up to what remains of its order (capped, said in the ack)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.db import models
from django.test import Client, override_settings
from django.utils import timezone

from events import wire
from events.models import Event, ExchangeRate
from events.money import parse_ecb_csv
from events.services import events_ingest
from insights.filters import MetricFilter
from insights.models import CustomerTotals, PendingWindow, Session
from insights.selectors import kpis_stats
from insights.services import analytics_process_pending
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

MAX = wire.MAX_MONEY
YEAR_OF_SUMS = 10**7  # events at the bound one rollup row must hold: one every 3 seconds for a year


def event(n: int | str, **kw) -> dict:
    base = {"event_id": f"b{n}", "customer_id": "c1", "action": "purchase", "product_id": "p1",
            "product_price": "10.00", "quantity": 1, "order_id": "o1", "session_id": "s1",
            "timestamp": "2024-03-04T12:00:00Z"}
    return {k: v for k, v in {**base, **kw}.items() if v is not None}


def test_the_bound_leaves_every_money_column_room_for_a_year_of_sums():
    money = [(m, f) for m in apps.get_models() if m._meta.app_label in ("insights", "ml")
             for f in m._meta.concrete_fields if isinstance(f, models.DecimalField)]
    assert len(money) > 30
    for model, f in money:
        assert MAX * YEAR_OF_SUMS < 10 ** (f.max_digits - f.decimal_places), (model.__name__, f.name)
    # one event's own columns hold the bound too
    for name in ("amount", "discount", "shipping", "tax"):
        f = Event._meta.get_field(name)
        assert MAX < 10 ** (f.max_digits - f.decimal_places)


@pytest.mark.parametrize("fields,errors", [
    ({"product_price": "9999999999.99", "quantity": 100_000},
     {"line_total": "price × quantity is 999999999999000.00: a line may total at most 999999999.99"}),
    ({"product_price": "500000000.00", "quantity": 2},
     {"line_total": "price × quantity is 1000000000.00: a line may total at most 999999999.99"}),
    ({"action": "add_to_cart", "order_id": None, "product_price": "2000000000", "quantity": 1},
     {"line_total": "price × quantity is 2000000000.00: a line may total at most 999999999.99"}),
    ({"amount": "1000000000.00"}, {"amount": "must be <= 999999999.99"}),
    ({"action": "refund", "amount": "5000000000"}, {"amount": "must be <= 999999999.99"}),
    ({"order": {"discount": "1000000001"}}, {"order": "discount: must be <= 999999999.99"}),
    ({"order": {"shipping": "1e10"}}, {"order": "shipping: must be <= 999999999.99"}),
    ({"order": {"tax": 10**12}}, {"order": "tax: must be <= 999999999.99"}),
])
def test_money_beyond_the_bound_is_refused_with_its_reason(fields, errors):
    parsed = wire.parse_event(event(1, **fields), wire.latest_allowed())
    assert parsed == errors
    assert all(wire.code_of(r) == "out_of_range" for r in parsed.values())  # type: ignore[union-attr]


def test_money_at_the_bound_is_accepted():
    for raw in (event(1, product_price="333333333.33", quantity=3), event(2, amount=str(MAX), quantity=7),
                event(3, order={"discount": str(MAX), "shipping": str(MAX), "tax": str(MAX)})):
        assert isinstance(wire.parse_event(raw, wire.latest_allowed()), wire.NativeEvent)


def test_a_line_priced_by_its_product_is_bounded_when_stored_and_its_neighbours_are_kept():
    ProductFactory(external_id="pricey", price=Decimal("9999999999.99"))
    result = events_ingest(raw_events=[event(1), event(2, product_id="pricey", product_price=None, quantity=3),
                                       event(3, product_id="pricey", product_price=None, action="view")],
                           broadcast=False)
    assert result.accepted == 1 and [r["index"] for r in result.rejected] == [1, 2]
    reason = result.rejected[0]["errors"]["event"]
    assert reason == "price × quantity is 29999999999.97: a line may total at most 999999999.99"
    assert wire.code_of(reason) == "out_of_range"
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["b1"]


@override_settings(STORE_CURRENCY="JPY")
def test_money_converted_beyond_the_bound_is_refused():
    ExchangeRate.objects.bulk_create(ExchangeRate(day=d, currency=c, per_eur=r) for d, c, r in
                                     parse_ecb_csv(StringIO("Date,USD,JPY\n2024-03-04,1.0849,162.89\n")))
    result = events_ingest(raw_events=[event(1, currency="USD", amount="9000000"),
                                       event(2, currency="USD", amount="9000")], broadcast=False)
    assert result.accepted == 1
    errors = result.rejected[0]["errors"]
    assert errors == {"amount": "converted to JPY: the amount is 1351285832.80: at most 999999999.99"}
    assert wire.code_of(errors["amount"]) == "out_of_range"
    assert Event.objects.get().event_id == "b2"


# --- refunds: capped to what remains of their order -------------------------------------------------


def refund(n: int | str, amount: str, order: str = "o1", **kw) -> dict:
    return event(f"r{n}", action="refund", order_id=order, product_id=None, product_price=None, amount=amount, **kw)


def stored_amount(event_id: str) -> Decimal:
    return Event.objects.get(event_id=event_id).amount


def test_a_refund_counts_up_to_what_remains_of_its_order_and_the_ack_says_so():
    lines = [event(1, product_price="60.00", order={"discount": "10.00", "shipping": "5.00"}),
             event(2, product_price="40.00")]
    assert events_ingest(raw_events=lines, broadcast=False).accepted == 2  # paid: 100 - 10 = 90
    first = events_ingest(raw_events=[refund(1, "30.00")], broadcast=False)
    assert first.accepted == 1 and "adjusted" not in first.as_ack()
    # a full refund as platforms send it (shipping included): counted as what remains, 60
    result = events_ingest(raw_events=[event("x", product_id="p2", order_id="o2"), refund(2, "65.00")], broadcast=False)
    assert result.accepted == 2
    assert result.as_ack()["adjusted"] == [{
        "index": 1, "event_id": "br2", "field": "amount", "sent": "65.00", "stored": "60.00", "code": "refund_capped",
        "reason": "more than remains of order 'o1' (its lines less its discount and earlier refunds): "
                  "counted as 60.00"}]
    assert stored_amount("br2") == Decimal("60.00")
    # nothing remains: stored (it happened), counting 0
    again = events_ingest(raw_events=[refund(3, "1.00")], broadcast=False)
    assert again.accepted == 1 and again.adjusted[0]["stored"] == "0.00"
    assert stored_amount("br3") == Decimal("0.00")
    # a resent refund is a duplicate: it neither counts again nor is capped
    resent = events_ingest(raw_events=[refund(1, "30.00")], broadcast=False)
    assert resent.duplicates == ["br1"] and not resent.adjusted
    analytics_process_pending()
    totals = CustomerTotals.objects.get()
    assert (totals.revenue - totals.discounts - totals.refunds) == Decimal("10.00")  # order o1 nets 0; p2 line 10


def test_refunds_in_one_batch_with_their_order_are_capped_in_batch_order():
    result = events_ingest(raw_events=[refund(1, "15.00", order="o9"), event(1, order_id="o9", quantity=2),
                                       refund(2, "15.00", order="o9")], broadcast=False)
    assert result.accepted == 3
    assert [(a["event_id"], a["stored"]) for a in result.adjusted] == [("br2", "5.00")]
    assert (stored_amount("br1"), stored_amount("br2")) == (Decimal("15.00"), Decimal("5.00"))


def test_a_refund_of_an_order_not_received_is_stored_as_sent_within_the_bound():
    result = events_ingest(raw_events=[refund(1, "250.00", order="early")], broadcast=False)
    assert result.accepted == 1 and not result.adjusted
    assert stored_amount("br1") == Decimal("250.00")
    # the order arriving later does not change it; a later refund is capped by what then remains (0)
    events_ingest(raw_events=[event(1, order_id="early", product_price="100.00")], broadcast=False)
    later = events_ingest(raw_events=[refund(2, "10.00", order="early")], broadcast=False)
    assert later.adjusted[0]["stored"] == "0.00"


def test_segment_acks_name_the_capped_refunds_message(ingest_secret):
    events_ingest(raw_events=[event(1, order_id="1001", product_price="20.00")], broadcast=False)
    batch = [{"type": "track", "event": "Product Viewed", "userId": "c1", "messageId": "m0",
              "timestamp": "2024-03-04T12:00:00Z", "properties": {"product_id": "p1"}},
             {"type": "track", "event": "Order Refunded", "userId": "c1", "messageId": "m1",
              "timestamp": "2024-03-04T13:00:00Z", "properties": {"order_id": "1001", "total": 25}}]
    auth = "Basic " + base64.b64encode(f"{ingest_secret}:".encode()).decode()
    response = Client().post("/v1/batch", data=json.dumps({"batch": batch}), content_type="application/json",
                             HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    adjusted = response.json()["adjusted"]
    assert [(a["index"], a["event_id"], a["stored"]) for a in adjusted] == [(1, "m1", "20.00")]


# --- the acceptance test: a hostile event cannot stop derivation ------------------------------------


def post_events(secret: str, events: list[dict]) -> dict:
    response = Client().post("/api/v1/events", data=json.dumps({"events": events}), content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def test_after_the_overflow_attack_a_normal_event_is_derived_and_on_the_kpis(ingest_secret):
    now = timezone.now().replace(microsecond=0)
    hostile = [event(f"h{i}", customer_id="attacker", product_price="9999999999.99", quantity=100_000,
                     order_id=f"ho{i}", timestamp=(now - dt.timedelta(minutes=10)).isoformat()) for i in range(12)]
    ack = post_events(ingest_secret, hostile)
    assert ack["accepted"] == 0 and {r["errors"]["line_total"].split(":")[0] for r in ack["rejected"]} == {
        "price × quantity is 999999999999000.00"}
    ack = post_events(ingest_secret, [event("ok", customer_id="shopper", product_price="42.50", quantity=2,
                                            order_id="real-1", timestamp=now.isoformat())])
    assert ack["accepted"] == 1
    assert analytics_process_pending() >= 1
    assert not PendingWindow.objects.exists()  # nothing set aside, nothing left waiting
    assert Session.objects.get().customer.external_id == "shopper"
    kpis = kpis_stats(MetricFilter.default())
    assert (kpis["revenue"], kpis["orders"], kpis["sessions"]) == (85.0, 1, 1)
