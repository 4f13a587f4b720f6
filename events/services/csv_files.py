"""CSV files (``manage.py import_events``) through the ingest service, in batches, streamed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from analytics_site.csv_batches import BatchStore, Rejected, csv_batches_import
from events.csv_import import CsvMapping
from events.services.ingest import events_ingest
from events.services.sources import source_of_import
from events.types import SourceRef


@dataclass
class CsvImportTotals:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0


def events_import_csv(*, lines: Iterable[str], map_spec: str | None = None, defaults: str | None = None,
                      action: str | None = None, preset: str | None = None, date_format: str | None = None,
                      rejects_path: str | None = None, batch_size: int = 5000, broadcast: bool = True,
                      progress: Callable[[CsvImportTotals], None] | None = None,
                      name: str = "CSV import") -> CsvImportTotals:
    """Import the events of CSV ``lines`` (a header row first), ``batch_size`` rows a transaction.

    Rows map to native events as ``CsvMapping`` says (raises ``MappingError`` when it cannot work
    with this header); rows without an event_id get one derived from row number and content, so
    importing a file again stores nothing twice. Rejected rows go to ``rejects_path`` (a CSV of
    the row number, the row and its reasons as JSON). The run is one source (``name``), so what it
    stored can be found and removed as a unit.
    """
    totals = CsvImportTotals()

    def start(header: list[str]) -> BatchStore:
        mapping = CsvMapping.build(header, map_spec=map_spec, defaults=defaults, action=action, preset=preset,
                                   date_format=date_format)
        source = source_of_import(name)  # once the mapping works with the header
        return lambda rows, done: _import_batch(mapping, rows, done, broadcast, totals, source)

    csv_batches_import(lines=lines, batch_size=batch_size, rejects_path=rejects_path, start=start,
                       after_batch=(lambda: progress(totals)) if progress is not None else None)
    return totals


def _import_batch(mapping: CsvMapping, rows: list[dict[str, Any]], done: int, broadcast: bool,
                  totals: CsvImportTotals, source: SourceRef) -> list[Rejected]:
    """Store one batch of rows (numbered from ``done + 1``); returns the rejected ones."""
    events: list[dict[str, Any]] = []
    positions: list[tuple[int, dict[str, Any]]] = []
    rejected: list[Rejected] = []
    for number, row in enumerate(rows, start=done + 1):
        event = mapping.to_event(row, number)
        if "errors" in event:
            rejected.append((number, row, event["errors"]))
        else:
            events.append(event)
            positions.append((number, row))
    result = events_ingest(raw_events=events, source=source, broadcast=broadcast)
    rejected += [(*positions[entry["index"]], entry["errors"]) for entry in result.rejected]
    totals.read += len(rows)
    totals.stored += result.accepted
    totals.duplicates += len(result.duplicates)
    totals.rejected += len(rejected)
    return rejected

