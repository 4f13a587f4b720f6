"""CSV lines through the ingest service (events.services.events_import_csv), without the command."""

from __future__ import annotations

import csv

import pytest

from events.csv_import import MappingError
from events.models import Event
from events.services import CsvImportTotals, events_import_csv


@pytest.mark.django_db
def test_rows_are_stored_in_batches_and_rejected_rows_keep_their_numbers(tmp_path):
    lines = ["who,when,what\n", "u1,2024-01-01T10:00:00Z,Lamp\n", "u2,yesterday,Mug\n", ",2024-01-01T10:00:00Z,Vase\n",
             "u4,2024-01-01T11:00:00Z,Mug\n"]
    rejects = tmp_path / "rejects.csv"
    seen: list[int] = []
    totals = events_import_csv(lines=lines, map_spec="customer_id=who,timestamp=when,product_title=what",
                               action="view", rejects_path=str(rejects), batch_size=2, broadcast=False,
                               progress=lambda t: seen.append(t.read))
    assert totals == CsvImportTotals(read=4, stored=2, duplicates=0, rejected=2)
    assert seen == [2, 4]
    assert sorted(Event.objects.values_list("customer__external_id", flat=True)) == ["u1", "u4"]
    rows = list(csv.reader(rejects.open()))
    assert rows[0] == ["row", "who", "when", "what", "errors"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("2", "u2"), ("3", "")]
    assert "timestamp" in rows[1][4] and "customer_id" in rows[2][4]


def test_a_mapping_that_cannot_work_is_refused_before_anything_is_written(tmp_path):
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(MappingError):
        events_import_csv(lines=["a,b\n", "1,2\n"], rejects_path=str(rejects))
    assert not rejects.exists()


@pytest.mark.django_db
def test_money_columns_currency_order_object_and_refund_amounts(tmp_path):
    from decimal import ROUND_HALF_UP, Decimal
    from io import StringIO

    from django.core.management import call_command

    call_command("import_rates", "--sample", stdout=StringIO())
    lines = ["customer_id,timestamp,action,order_id,product_id,amount,currency,discount,coupon\n",
             "u1,2026-05-04T10:00:00Z,purchase,1001,p1,50.00,EUR,5.00,SPRING10\n",
             "u1,2026-05-09T10:00:00Z,refund,1001,p1,20.00,EUR,,\n",
             "u1,2026-05-04T10:05:00Z,view,,p1,,,,\n"]
    totals = events_import_csv(lines=lines, rejects_path=str(tmp_path / "rejects.csv"), broadcast=False)
    assert totals == CsvImportTotals(read=3, stored=3, duplicates=0, rejected=0)
    line = Event.objects.get(action="purchase")
    assert (line.currency, line.coupon) == ("EUR", "SPRING10") and line.fx_rate is not None
    assert line.amount == (Decimal("50.00") * line.fx_rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    refund = Event.objects.get(action="refund")
    assert refund.amount == (Decimal("20.00") * refund.fx_rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert Event.objects.get(action="view").discount is None
