"""The live drain of an existing database's last events (docs/benchmarks.md#soak): re-queue them as ingest
queued them and drain them under a per-statement timer.

    .venv/bin/python bench/requeue.py --database soak_copy [--events 40000] [--batch 500] [--helpers 0] [--unnamed]

Meant for a copy of the soak's database (``CREATE DATABASE soak_copy TEMPLATE soak_bench`` after a
``bench/soak.py`` run): its last ``--events`` events (by id) are queued again, one window row a batch of
``--batch`` (each event's customer, time and client session, as ``analytics_apply_events`` queues them;
``--unnamed``: without the client session, so each window reaches every client session it overlaps), every other queued
window removed, then drained (``analytics_process_pending``, ``DERIVATION_WORKERS`` = ``--helpers``).
Prints events/s and where the SQL time went, with the rows each kind of statement wrote or read. The
first drain after a copy also closes the sessions that went idle since the soak (and replaces them); the
runs after it re-derive the same sessions and replace none, so compare those.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # the worker's modules (Celery adds the working directory to the import path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="soak_copy")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--helpers", type=int, default=0)
    parser.add_argument("--unnamed", action="store_true",
                        help="queue windows without their client sessions' keys (each reaches every client session"
                             " it overlaps, as before ingest named them)")
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=f"{args.pg}/{args.database}", TESTING="1",
                      DJANGO_SETTINGS_MODULE="analytics_site.settings", LOCAL_DIR=str(ROOT / ".local" / "bench-derive"))
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, transaction

    from bench.derive import _SqlTimes
    from insights.services import analytics_process_pending, pending_windows_queue
    from insights.session_store import event_names

    settings.DERIVATION_WORKERS = args.helpers
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM insights_pendingwindow")
        cur.execute("SELECT customer_id, timestamp, session_id FROM events_event ORDER BY id DESC LIMIT %s",
                    [args.events])
        rows = cur.fetchall()[::-1]
        for i in range(0, len(rows), args.batch):
            batch = rows[i:i + args.batch]
            pending_windows_queue(spans=[(c, t, t) if args.unnamed else (c, t, t, event_names(sid or ""))
                                         for c, t, sid in batch], events=len(batch))
    times = _SqlTimes()
    started = time.perf_counter()
    with connection.execute_wrapper(times):
        analytics_process_pending(max_rows=10_000)
    took = time.perf_counter() - started
    print(f"drained {len(rows):,} events in {took:.2f} s = {len(rows) / took:,.0f} events/s")
    print(times.report(30))


if __name__ == "__main__":
    main()
