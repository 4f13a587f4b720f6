"""History moves bench: how long an age change or an identity merge of a large history holds ingest.

One customer with ``--events`` events (default 170,000: the customer of the trust review) over a
year, derived. Then, on PostgreSQL, after timing ingest alone (one event every 20 ms, 3 s):
  1. the whole move in one transaction (what an identify did before the moves were bounded: every
     step at once), timed: ingest waits that long;
  2. the same kind of change as an identify makes it now: the request (it records the link or the
     age and makes one step), then the task's steps one by one, each timed, while another thread
     stores one event every 20 ms and times each of those requests (the ingest latency the move
     causes);
  3. an identity merge of that history into another customer (alias from the server), the same way.
Prints the figures and writes them to ``.local/bench-history-moves.json``.

    .venv/bin/python bench/history_moves.py [--events 170000] [--pg postgres://postgres@127.0.0.1:5432/bench_moves]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _setup(url: str) -> None:
    import tempfile

    sys.path.insert(0, str(ROOT))
    # A fresh LOCAL_DIR (the queued task's message lands in its broker folder; no worker reads it).
    os.environ.update(DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1", DATABASE_URL=url,
                      LOCAL_DIR=tempfile.mkdtemp(prefix="bench-moves-", dir=ROOT / ".local"))
    os.environ.pop("REDIS_URL", None)
    from bench.support import bench_database

    bench_database(url, recreate=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _history(n: int) -> None:
    """``n`` events of customer "big" (age 30): sessions of ten events a few hours apart over a year,
    one order in every third session."""
    from events.services import events_ingest
    from insights.services import analytics_process_pending
    from tests.factories import CustomerFactory, ProductFactory

    for i in range(20):
        ProductFactory(external_id=f"p{i}", price=10 + i, category=f"c{i % 4}")
    CustomerFactory(external_id="big", age=30)
    CustomerFactory(external_id="other", age=50)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    batch: list[dict[str, Any]] = []
    for k in range(n):
        session, step = divmod(k, 10)
        ts = start + dt.timedelta(hours=3 * session, minutes=step)
        action = ("view", "view", "add_to_cart", "view", "add_to_cart", "checkout", "purchase", "purchase",
                  "view", "view")[step] if session % 3 == 0 else ("view" if step % 2 else "add_to_cart")
        event = {"event_id": f"e{k}", "customer_id": "big", "action": action, "product_id": f"p{k % 20}",
                 "timestamp": ts.isoformat(), "session_id": f"s{session}"}
        if action == "checkout":
            event.pop("product_id")
        if action == "purchase":
            event["order_id"] = f"o{session}"
        batch.append(event)
        if len(batch) == 5000:
            events_ingest(raw_events=batch, broadcast=False)
            batch = []
    if batch:
        events_ingest(raw_events=batch, broadcast=False)
    analytics_process_pending(max_rows=1000)


class _Ingesting:
    """Another thread storing one event every 20 ms while a move runs; the time of each call."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.n = 0

    def _run(self) -> None:
        from django.db import connections

        from events.services import events_ingest

        try:
            while not self.stop.is_set():
                self.n += 1
                t = time.perf_counter()
                events_ingest(raw_events=[{"event_id": f"live-{id(self)}-{self.n}", "customer_id": "other",
                                           "action": "view", "product_id": "p1",
                                           "timestamp": dt.datetime.now(dt.UTC).isoformat()}], broadcast=False)
                self.times.append((time.perf_counter() - t) * 1000)
                time.sleep(0.02)
        finally:
            connections.close_all()

    def __enter__(self) -> _Ingesting:
        self.thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _stats(times: list[float]) -> dict[str, float]:
    return {"n": len(times), "median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def _stepped(request: Any) -> dict[str, Any]:
    """``request()`` (an identify: records and makes one step), then the task's steps, timed, with
    ingest running beside them."""
    from insights.moves.services import history_move_step

    with _Ingesting() as live:
        t = time.perf_counter()
        request()
        request_ms = (time.perf_counter() - t) * 1000
        steps: list[float] = []
        while True:
            t = time.perf_counter()
            if history_move_step().move is None:
                break
            steps.append((time.perf_counter() - t) * 1000)
    return {"request_ms": round(request_ms, 1), "steps": _stats(steps), "ingest_during": _stats(live.times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=170_000)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/bench_moves")
    args = parser.parse_args()
    _setup(args.pg)
    from django.conf import settings
    from django.test import override_settings

    from customers.models import Customer
    from events import wire
    from events.services import identities_record
    from insights.upkeep import customer_age_group_change

    t = time.perf_counter()
    _history(args.events)
    out: dict[str, Any] = {"events": args.events, "step_events": settings.HISTORY_MOVE_STEP_EVENTS,
                           "history_s": round(time.perf_counter() - t, 1)}
    big = Customer.objects.get(external_id="big")
    with _Ingesting() as live:  # 0: ingest with no move running (the machine's own latency)
        time.sleep(3)
    out["ingest_alone"] = _stats(live.times)
    with override_settings(HISTORY_MOVE_STEP_EVENTS=10**9), _Ingesting() as live:  # 1: all in one step
        t = time.perf_counter()
        customer_age_group_change(customer=big, age=70)
        out["age_in_one_transaction_ms"] = round((time.perf_counter() - t) * 1000, 1)
    out["ingest_during_one_transaction"] = _stats(live.times)

    def call(kind: str, **fields: Any) -> wire.IdentityCall:
        return wire.IdentityCall(0, kind, f"{kind}-{time.monotonic_ns()}", fields.pop("customer"),
                                 fields.get("anonymous", ""), fields.get("previous", ""), fields.get("traits", {}),
                                 None)

    out["age_in_steps"] = _stepped(lambda: identities_record(calls=[call("identify", customer="big",
                                                                          traits={"age": 30})]))
    out["merge_in_steps"] = _stepped(lambda: identities_record(calls=[call("alias", customer="big-new",
                                                                            previous="big")]))
    print(json.dumps(out, indent=2))
    (ROOT / ".local" / "bench-history-moves.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
