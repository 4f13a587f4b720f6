"""Reading a CSV import in batches with a rejects file: the loop ``import_events`` and
``import_customers`` share (each brings its own mapping and batch store)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from itertools import islice
from typing import Any

Rejected = tuple[int, dict[str, Any], dict[str, str]]  # (row number, row, {field: reason})
BatchStore = Callable[[list[dict[str, Any]], int], list[Rejected]]  # (rows, rows done before) → rejected


def csv_batches_import(*, lines: Iterable[str], batch_size: int, rejects_path: str | None,
                       start: Callable[[list[str]], BatchStore],
                       after_batch: Callable[[], None] | None = None) -> None:
    """``start(header)`` builds the batch store (raising when the header cannot be used); each batch of
    ``batch_size`` rows goes to it, rejected rows (row number, the row, its reasons as JSON) go to
    ``rejects_path`` in row order, and ``after_batch`` runs after each batch (progress)."""
    reader = csv.DictReader(lines)
    header = list(reader.fieldnames or [])
    store = start(header)
    with open(rejects_path, "w", newline="", encoding="utf-8") if rejects_path else nullcontext() as handle:
        writer = csv.writer(handle) if handle is not None else None
        if writer is not None:
            writer.writerow(["row", *header, "errors"])
        done = 0
        while rows := list(islice(reader, batch_size)):
            rejected = store(rows, done)
            done += len(rows)
            if writer is not None:
                writer.writerows([number, *(row.get(f, "") for f in header), json.dumps(errors)]
                                 for number, row, errors in sorted(rejected, key=lambda r: r[0]))
            if after_batch is not None:
                after_batch()
