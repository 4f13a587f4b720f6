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
