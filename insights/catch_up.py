"""Deriving, in the caller's process, everything queued for derivation: what ``simulate`` and
``import_events`` do before they return (``events.signals.derivation_wanted``), so their figures are
derived when the command ends instead of when the worker has drained the queue (docs/derivation.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection

from insights.selectors.freshness import derivation_status
from insights.services import analytics_process_pending

PROGRESS_SECONDS = 1.0


def derivation_catch_up(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Derive every queued window now (``analytics_process_pending``: chunks of windows, one transaction
    each, so ingest and the worker go on meanwhile). With ``progress``, on PostgreSQL, a thread of its
    own reads the queue every second and calls ``progress(done, total)`` in events. Returns the events
    that were queued when it began."""
    total = derivation_status()["pending_events"]
    if progress is None or connection.vendor != "postgresql":
        analytics_process_pending()
        return total
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(total, progress, stop), daemon=True)
    watcher.start()
    try:
        analytics_process_pending()
    finally:
        stop.set()
        watcher.join()
    progress(total, total)
    return total


def _watch(total: int, progress: Callable[[int, int], None], stop: threading.Event) -> None:
    """Report how much of ``total`` is derived until ``stop`` (its own database connection, closed after)."""
    try:
        while not stop.wait(PROGRESS_SECONDS):
            left = derivation_status()["pending_events"]
            progress(max(0, total - left), max(total, left))
    finally:
        connection.close()
