"""Deriving, in the caller's process, what was queued for derivation up to now: what ``simulate`` and
``import_events`` do before they return (``events.signals.derivation_wanted``), so their figures are
derived when the command ends instead of when the worker has drained the queue (docs/derivation.md).

Bounded: only the windows queued when it starts (up to the newest id then), oldest first, in the
beat task's chunks (``CATCH_UP_ROWS`` windows, and past the first at most
``EVENTS_PER_DRAIN_TRANSACTION`` events, a transaction, the derivation lock held). Live traffic
queued meanwhile is left to the worker, which takes it between these transactions, so a command
never chases it; a window the worker derives first is simply not found here. A window that fails is
set aside as the beat task sets it aside."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from insights.models import PendingWindow
from insights.month_copies import month_copies_refresh
from insights.rfm_store import rfm_refresh
from insights.rollup_store import derivation_lock, read_statistics_refresh
from insights.services import EVENTS_PER_DRAIN_TRANSACTION, spans_rederive
from insights.session_store import Windows, windows_from_json
from insights.set_aside import derive_isolating, units_of, windows_set_aside

CATCH_UP_ROWS = 20  # queued windows a transaction, as the beat task's drain (analytics_process_pending)


def derivation_catch_up(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Derive every window queued now (not set aside), in chunks, one transaction each; then refresh
    the kept RFM scores. ``progress(done, total)`` in events after each chunk. Returns the events queued."""
    queued = PendingWindow.objects.filter(attempts=0)
    row = queued.aggregate(last=Max("id"), events=Sum("events"))
    if row["last"] is None:
        return 0
    last, total = row["last"], row["events"] or 0
    read_statistics_refresh()  # a bulk load's events are new to the planner
    mine = queued.filter(id__lte=last)
    while _derive_chunk(last):
        if progress is not None:
            left = mine.aggregate(events=Sum("events"))["events"] or 0
            progress(total - left, total)
    rfm_refresh()
    month_copies_refresh()
    return total


@transaction.atomic
def _derive_chunk(last: int) -> bool:
    """Derive the oldest ``CATCH_UP_ROWS`` queued windows with ids up to ``last``; False when none is left."""
    derivation_lock()
    queued = list(PendingWindow.objects.filter(attempts=0, id__lte=last).order_by("id")
                  .values_list("id", "windows", "events")[:CATCH_UP_ROWS])
    if not queued:
        return False
    rows, events = [], 0
    for pk, batch, n in queued:  # as the drain: a live window waits at most one transaction's worth
        if rows and events + n > EVENTS_PER_DRAIN_TRANSACTION:
            break
        rows.append((pk, batch))
        events += n
    now = timezone.now()

    def derive(windows: Windows) -> None:
        spans_rederive(spans=[(c, w.lo, w.hi, w.keys) for c, w in windows.items()], as_of=now)

    windows = windows_from_json(batch for _, batch in rows)
    failures = derive_isolating(units_of(windows), derive)
    PendingWindow.objects.filter(id__in=[pk for pk, _ in rows]).delete()
    windows_set_aside(failures, now=now)
    return True
