"""Currencies and exchange rates (issue 13): the ECB layout, ``import_rates``, conversion at ingest at
the rate of the event's date, refusals; refund, cancel and the order object on the wire and from
Segment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from events import wire
from events.models import Event, ExchangeRate
from events.money import parse_ecb_csv, rate_between
from events.services import events_ingest
from events.services.rates import rate_table

LATEST = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
ECB = """Date,USD,JPY,CYP,GBP,
2024-03-05,1.0857,162.68,N/A,0.85420,
2024-03-04,1.0849,162.89,N/A,0.85555,
2024-03-01,1.0826,162.51,N/A,0.85553,
"""


def rates(text: str = ECB) -> None:
    ExchangeRate.objects.bulk_create(ExchangeRate(day=d, currency=c, per_eur=r) for d, c, r in
                                     parse_ecb_csv(StringIO(text)))


def line(**kw):
    base = {"event_id": "e1", "customer_id": "c1", "action": "purchase", "product_id": "p1",
            "product_price": "10.00", "quantity": 2, "order_id": "1001", "timestamp": "2024-03-04T12:00:00Z"}
    return {**base, **kw}


# --- the ECB layout -------------------------------------------------------------------------------


def test_parse_ecb_reads_the_layout_skipping_na_cells_and_the_trailing_comma():
    rows = parse_ecb_csv(StringIO(ECB))
    assert len(rows) == 9  # 3 days × USD, JPY, GBP; CYP is N/A
    assert (dt.date(2024, 3, 4), "GBP", Decimal("0.85555")) in rows
    assert not any(code == "CYP" for _, code, _ in rows)


@pytest.mark.parametrize("text,message", [
    ("Day,USD\n2024-01-01,1.1\n", "first column must be 'Date'"),
    ("Date,USD\n2024-13-01,1.1\n", "line 2: '2024-13-01' is not a date"),
    ("Date,USD\n2024-01-01,abc\n", "line 2: USD rate 'abc' is not a number"),
    ("Date,USD\n2024-01-01,-1\n", "must be > 0"),
    ("Date,US$\n", "is not an ISO 4217 code"),
])
def test_parse_ecb_refuses_what_is_not_the_layout(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("$", r"\$")):
        parse_ecb_csv(StringIO(text))


@pytest.mark.django_db
def test_import_rates_sample_then_a_file_replaces_a_day(tmp_path):
    out = StringIO()
    call_command("import_rates", "--sample", stdout=out)
    assert "of 13 currencies from 2023-01-02 to 2026-11-30" in out.getvalue()
    assert ExchangeRate.objects.filter(currency="USD").count() == 1008
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text("Date,USD,\n2026-11-30,1.2345,\n")
    call_command("import_rates", str(path), stdout=StringIO())
    assert ExchangeRate.objects.get(currency="USD", day=dt.date(2026, 11, 30)).per_eur == Decimal("1.2345")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_rates", str(tmp_path / "missing.csv"))


@pytest.mark.django_db
def test_rate_between_uses_the_latest_earlier_rate_and_crosses_through_the_euro():
    rates()
    table = rate_table(currencies={"USD", "GBP", "JPY"}, first=dt.date(2024, 3, 2), last=dt.date(2024, 3, 9))
    saturday = dt.date(2024, 3, 2)  # no rate: Friday's
    assert rate_between(table, "EUR", "USD", saturday) == Decimal("1.0826")
    assert rate_between(table, "GBP", "USD", dt.date(2024, 3, 4)) == (Decimal("1.0849") / Decimal("0.85555")).quantize(
        Decimal("1E-10"))
    assert rate_between(table, "USD", "USD", dt.date(1999, 1, 1)) == 1
    assert rate_between(table, "JPY", "USD", dt.date(2024, 2, 29)).code == "no_rate"
    assert rate_between(table, "CHF", "USD", saturday).code == "unknown_currency"


# --- conversion at ingest -----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_event_in_another_currency_is_stored_converted_with_its_currency_and_rate():
    rates()
    result = events_ingest(raw_events=[
        line(currency="EUR", amount="20.00", order={"discount": "5.00", "coupon": "SPRING10", "shipping": "4.99",
                                                      "tax": "2.10"}),
        line(event_id="e2", currency="USD"),
        line(event_id="e3"),  # no currency: the store's
    ], broadcast=False)
    assert result.accepted == 3 and not result.rejected
    e = Event.objects.get(event_id="e1")
    assert (e.currency, e.fx_rate) == ("EUR", Decimal("1.0849"))
    assert (e.amount, e.price, e.discount, e.shipping, e.tax, e.coupon) == (
        Decimal("21.70"), Decimal("10.85"), Decimal("5.42"), Decimal("5.41"), Decimal("2.28"), "SPRING10")
    assert [(x.currency, x.fx_rate, x.price) for x in Event.objects.filter(event_id__in=["e2", "e3"])] == [
        ("USD", None, Decimal("10.00"))] * 2


@pytest.mark.django_db
def test_unknown_currency_or_no_earlier_rate_rejects_that_event_only():
    rates()
    result = events_ingest(raw_events=[
        line(event_id="ok", currency="GBP"),
        line(event_id="chf", currency="CHF"),
        line(event_id="early", currency="EUR", timestamp="2024-02-29T23:00:00Z"),
    ], broadcast=False)
    assert result.accepted == 1
    assert [(r["index"], r["event_id"], r["errors"]["currency"].code) for r in result.rejected] == [
        (1, "chf", "unknown_currency"), (2, "early", "no_rate")]
    # EUR is the base: what is missing is the store currency's own rate against it that day
    assert result.rejected[1]["errors"]["currency"] == "no USD exchange rate on or before 2024-02-29"
    assert list(Event.objects.values_list("event_id", flat=True)) == ["ok"]


@pytest.mark.django_db
@override_settings(STORE_CURRENCY="EUR")
def test_the_store_currency_needs_no_rate():
    result = events_ingest(raw_events=[line(currency="EUR")], broadcast=False)
    assert result.accepted == 1
    assert Event.objects.get().currency == "EUR"


# --- the wire ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("event,errors", [
    ({"action": "refund", "order_id": None, "amount": 5}, {"order_id": "required for refund"}),
    ({"action": "cancel", "order_id": None}, {"order_id": "required for cancel"}),
    ({"action": "refund", "product_price": None}, {"amount": "required for refund (or product_price)"}),
    ({"action": "cancel", "amount": 3}, {"amount": "only on purchase lines and refunds"}),
    ({"action": "view", "order": {"discount": 1}}, {"order": "only on purchase lines"}),
    ({"order": {"discount": -1}}, {"order": "discount: must be >= 0"}),
    ({"order": {"coupon": [5]}}, {"order": "coupon: must be a string"}),
    ({"order": [1]}, {"order": "must be an object: discount, coupon, shipping, tax"}),
    ({"currency": "US"}, {"currency": "must be an ISO 4217 code: 3 letters, e.g. USD"}),
    ({"currency": "€UR"}, {"currency": "must be an ISO 4217 code: 3 letters, e.g. USD"}),
])
def test_wire_refusals_of_money_fields(event, errors):
    raw = line(**event)
    if raw["action"] in ("refund", "cancel"):
        raw.pop("product_id")
        if "product_price" not in event:
            raw.pop("product_price")
    assert wire.parse_event(raw, LATEST) == errors


def test_wire_refund_and_cancel_shapes():
    refund = wire.parse_event({"event_id": "r", "customer_id": "c", "action": "refund", "order_id": "1001",
                               "product_id": "17", "quantity": 1, "amount": 19.99, "currency": "eur",
                               "timestamp": "2024-03-04T12:00:00Z"}, LATEST)
    assert (refund.action, refund.amount, refund.product_id, refund.currency) == ("refund", Decimal("19.99"), "17",
                                                                                  "EUR")
    cancel = wire.parse_event({"event_id": "x", "customer_id": "c", "action": "cancel", "order_id": "1001",
                               "timestamp": "2024-03-04T12:00:00Z"}, LATEST)
    assert (cancel.action, cancel.order_id, cancel.product_id) == ("cancel", "1001", None)
    empty_order = wire.parse_event(line(order={}), LATEST)
    assert empty_order.order is None


def test_segment_order_refunded_cancelled_and_completed_money():
    completed = wire.segment_to_native({
        "type": "track", "event": "Order Completed", "messageId": "m1", "userId": "u1",
        "timestamp": "2024-03-04T12:00:00Z",
        "properties": {"order_id": "1001", "currency": "EUR", "discount": 5, "coupon": "SPRING10", "shipping": 4.99,
                       "tax": 2.1,
                       "products": [{"product_id": "17", "price": 19.99}, {"product_id": "18", "price": 5}]},
    })
    assert [c.get("order") for c in completed] == [
        {"discount": 5, "coupon": "SPRING10", "shipping": 4.99, "tax": 2.1}, None]
    assert {c["currency"] for c in completed} == {"EUR"}
    by_lines = wire.segment_to_native({
        "event": "Order Refunded", "messageId": "m2", "userId": "u1", "timestamp": "2024-03-05T12:00:00Z",
        "properties": {"order_id": "1001", "products": [{"product_id": "17", "price": 19.99, "quantity": 1}]}})
    assert [{k: v for k, v in line.items() if v is not None} for line in by_lines] == [
        {"customer_id": "u1", "action": "refund", "timestamp": "2024-03-05T12:00:00Z", "order_id": "1001",
         "product_id": "17", "product_price": 19.99, "quantity": 1, "event_id": "m2:0"}]
    by_total = wire.segment_to_native({"event": "Order Refunded", "messageId": "m3", "userId": "u1",
                                       "properties": {"order_id": "1001", "total": 10}})
    assert (by_total[0]["action"], by_total[0]["amount"], by_total[0]["event_id"]) == ("refund", 10, "m3")
    cancelled = wire.segment_to_native({"event": "Order Cancelled", "messageId": "m4", "userId": "u1",
                                        "properties": {"order_id": "1001"}})
    assert [(c["action"], c["order_id"], c["event_id"]) for c in cancelled] == [("cancel", "1001", "m4")]
    with pytest.raises(wire.SegmentError, match="products or a total"):
        wire.segment_to_native({"event": "Order Refunded", "messageId": "m5", "userId": "u1",
                                "properties": {"order_id": "1001"}})
