"""Money survives import (issue 10): a line total sent with a purchase is kept to the cent, and every
revenue figure (events, sessions, customers, products, KPIs, the model's order history) adds it up.

``fixtures/cdnow_slice.csv`` is the first 95 customers (392 order lines) of the CDNOW master file
(Fader & Hardie's CD retailer log, 1997–98, as shipped with the MIT-licensed ``lifetimes`` package):
its whitespace-separated ``customer date cds amount`` lines written as CSV under the column names
the transactions preset reads. 117 of its lines have an amount that quantity does not divide into
whole cents, so the old unit-price split lost or gained a cent here and there.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.db.models import Sum

from customers.models import Customer
from events import wire
from events.models import Event
from events.services import events_ingest
from events.types import line_total
from insights.filters import MetricFilter
from insights.models import CustomerDaily, CustomerTotals, EventDaily, EventHourly, ProductDaily, SessionDaily
from insights.rebuild import analytics_rebuild
from insights.selectors import kpis_stats
from insights.services import analytics_process_pending
from ml import selectors as ml_selectors
from ml.features import _orders, sessionize
from tests.insights.test_services import snapshot

pytestmark = pytest.mark.django_db

SLICE = Path(__file__).parent / "fixtures" / "cdnow_slice.csv"
CENT = Decimal("0.01")
LATEST = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def read_slice() -> list[dict[str, str]]:
    with open(SLICE, newline="") as handle:
        return list(csv.DictReader(handle))


def import_slice(path: Path = SLICE) -> str:
    out = StringIO()
    call_command("import_events", str(path), "--preset", "transactions", "--date-format", "%Y%m%d",
                 "--no-broadcast", stdout=out)
    return out.getvalue()


def total(qs, field="revenue") -> Decimal:
    return Decimal(str(qs.aggregate(t=Sum(field))["t"] or 0)).quantize(CENT)


def test_the_slice_is_one_the_old_split_got_wrong():
    rows = read_slice()
    exact = sum(Decimal(r["amount"]) for r in rows)
    split = sum((Decimal(r["amount"]) / int(r["quantity"])).quantize(CENT, ROUND_HALF_UP) * int(r["quantity"])
                for r in rows)
    assert (len(rows), exact) == (392, Decimal("14218.33"))
    assert split == Decimal("14219.03")  # what the import stored before issue 10 (full file: 2,500,405.24)
    assert sum(1 for r in rows if (Decimal(r["amount"]) * 100) % int(r["quantity"])) == 117


def test_cdnow_slice_keeps_every_order_total_to_the_cent_in_every_rollup():
    rows = read_slice()
    exact = sum(Decimal(r["amount"]) for r in rows)
    per_customer: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        per_customer[r["customer_id"]] += Decimal(r["amount"])

    assert "read 392, stored 392, duplicates 0, rejected 0" in import_slice()

    # Stored: each line's amount as sent; the unit price is the rounded share, for display.
    events = list(Event.objects.select_related("customer"))  # PostgreSQL stores a batch in event_id order
    assert sorted((e.customer.external_id, e.timestamp.date(), e.quantity, e.amount) for e in events) == sorted(
        (r["customer_id"], dt.date(int(r["date"][:4]), int(r["date"][4:6]), int(r["date"][6:])), int(r["quantity"]),
         Decimal(r["amount"]))
        for r in rows)
    assert all(e.price == (e.amount / e.quantity).quantize(CENT, ROUND_HALF_UP) for e in events)
    assert sum(e.line_total for e in events) == exact
    assert total(Event.objects, "amount") == exact

    # Live event rollups (written in the ingest transaction).
    assert total(EventHourly.objects) == exact
    assert total(EventDaily.objects) == exact
    analytics_process_pending()
    # Session-grained rollups, per customer and per product, after derivation.
    assert total(SessionDaily.objects.filter(category="")) == exact
    assert total(CustomerDaily.objects) == exact
    assert total(ProductDaily.objects) == exact
    assert total(CustomerTotals.objects) == exact
    external = dict(Customer.objects.values_list("pk", "external_id"))
    by_customer = {external[pk]: Decimal(str(rev)).quantize(CENT)
                   for pk, rev in CustomerTotals.objects.values_list("customer_id", "revenue")}
    assert by_customer == per_customer
    whole = MetricFilter(start=dt.date(1997, 1, 1), end=dt.date(1998, 12, 31))
    assert kpis_stats(whole)["revenue"] == float(exact)

    incremental = snapshot()
    analytics_rebuild()
    assert snapshot() == incremental
    assert total(CustomerTotals.objects) == exact and total(EventDaily.objects) == exact

    # The model's order history reads the same totals.
    frame = ml_selectors.events_frame()
    orders = _orders(sessionize(frame, as_of=LATEST).events)
    assert round(orders["revenue"].sum(), 2) == float(exact)

    # Derived event ids did not change with the amount: a file imported before still dedupes.
    first = Event.objects.get(customer__external_id="00001")
    assert first.event_id == "csv-b10d49b483b1e32b736152aacd8a0290"
    assert "stored 0, duplicates 392" in import_slice()


def test_a_unit_price_column_beside_the_total_is_kept_for_display(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("Customer ID,Date,Quantity,Unit Price,Total,Invoice\n"
                    "c1,19970101,3,3.33,10.00,i1\nc1,19970101,1,5.00,4.50,i2\n")
    assert "stored 2" in import_slice(path)
    lines = {e.order_id: e for e in Event.objects.all()}
    assert (lines["i1"].price, lines["i1"].amount, lines["i1"].line_total) == (Decimal("3.33"), Decimal("10.00"),
                                                                                 Decimal("10.00"))
    assert lines["i2"].line_total == Decimal("4.50")  # the total wins over price × quantity (a line discount)
    assert total(EventDaily.objects) == Decimal("14.50")


def test_amount_on_non_purchase_rows_only_sets_the_unit_price(tmp_path):
    path = tmp_path / "carts.csv"
    path.write_text("customer_id,timestamp,quantity,amount,product_id\nc1,2024-01-01T10:00:00Z,3,10.00,p1\n")
    out = StringIO()
    call_command("import_events", str(path), "--action", "add_to_cart", stdout=out)
    assert "stored 1" in out.getvalue()
    event = Event.objects.get()
    assert (event.price, event.amount) == (Decimal("3.33"), None)


# --- the wire field --------------------------------------------------------------------------


def purchase(**overrides):
    return {"event_id": "m1", "customer_id": "c", "action": "purchase", "product_id": "p", "quantity": 3,
            "timestamp": "2024-01-01T00:00:00Z", **overrides}


def test_wire_amount_is_parsed_like_a_price_and_gives_the_unit_price_when_none_is_sent():
    event = wire.parse_event(purchase(amount="10.00"), LATEST)
    assert (event.amount, event.price) == (Decimal("10.00"), Decimal("3.33"))
    event = wire.parse_event(purchase(amount=10, product_price=4), LATEST)
    assert (event.amount, event.price) == (Decimal("10.00"), Decimal("4.00"))
    event = wire.parse_event(purchase(action="purchase_cart", amount=0.1 + 0.2), LATEST)
    assert event.amount == Decimal("0.30")
    assert wire.parse_event(purchase(), LATEST).amount is None


@pytest.mark.parametrize("value,reason", [
    (-1, "must be >= 0"), ("abc", "must be a number"), ("NaN", "must be a finite number"), (True, "must be a number"),
    (1e12, "must be <= 999999999.99"), ([1], "must be a number"),
])
def test_wire_amount_refusals(value, reason):
    assert wire.parse_event(purchase(amount=value), LATEST) == {"amount": reason}


def test_wire_amount_only_on_purchase_lines_and_refunds():
    assert wire.parse_event(purchase(action="add_to_cart", amount=5), LATEST) == {
        "amount": "only on purchase lines and refunds"}


def test_ingested_amount_is_stored_and_counted_on_both_insert_paths():
    result = events_ingest(raw_events=[
        purchase(event_id="a", amount="77.00", quantity=6, order_id="o1"),
        purchase(event_id="b", product_price="2.50", quantity=2, order_id="o1"),
        purchase(event_id="c", action="view", quantity=1),
    ], broadcast=False)
    assert result.accepted == 3 and not result.rejected
    stored = {e.event_id: e for e in Event.objects.all()}
    assert (stored["a"].amount, stored["a"].price) == (Decimal("77.00"), Decimal("12.83"))
    assert stored["b"].amount is None and stored["b"].line_total == Decimal("5.00")
    assert total(EventHourly.objects) == Decimal("82.00")
    analytics_process_pending()
    assert total(CustomerTotals.objects) == Decimal("82.00")
    frame = ml_selectors.events_frame().sort_values("pk")
    assert frame["amount"].isna().tolist() == [False, True, True]


def test_line_total_is_the_one_rule():
    assert line_total(Decimal("12.83"), 6, Decimal("77.00")) == Decimal("77.00")
    assert line_total(Decimal("12.83"), 6, None) == Decimal("76.98")
    lines = pd.DataFrame({"price": [12.83, 2.5], "quantity": [6, 2], "amount": [77.0, float("nan")]})
    from ml.features import _line_totals

    assert _line_totals(lines).tolist() == [77.0, 5.0]
