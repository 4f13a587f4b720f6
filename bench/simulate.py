"""Benchmark: backfill of 1M simulated events into PostgreSQL, end to end (target ≤ 60 s, docs/benchmarks.md).

    .venv/bin/python bench/simulate.py [--events 1000000] [--days 180] [--customers 2000] [--keep]

Uses its own database (``bench_simulate`` on the local PostgreSQL, dropped and created; override
with BENCH_DATABASE_URL) and its own LOCAL_DIR. Prints the time of generation (behaviour model +
event dicts) and ingest (validation, dedupe, COPY/INSERT, rollup upkeep), events/s, and the ratio
to a baseline measured in the same run: one INSERT + commit per event, on a sample, extrapolated.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import bench_database  # noqa: E402


def _baseline(events: list[dict]) -> float:
    """One INSERT + commit per event (the naive path), events/s, on ``events``."""
    from django.db import connection, transaction

    from customers.models import Customer
    from events.models import Event
    from products.models import Product

    customers = dict(Customer.objects.values_list("external_id", "pk"))
    products = dict(Product.objects.values_list("external_id", "pk"))
    sql = ("INSERT INTO events_event (event_id, customer_id, product_id, session_id, action, quantity, price, "
           "order_id, timestamp, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())")
    started = time.perf_counter()
    for e in events:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, ["baseline-" + e["event_id"], customers[e["customer_id"]],
                              products.get(e["product_id"]), e["session_id"], e["action"], e["quantity"],
                              e["product_price"], e["order_id"], e["timestamp"]])
    seconds = time.perf_counter() - started
    Event.objects.filter(event_id__startswith="baseline-")._raw_delete(Event.objects.db)
    return len(events) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=180)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--baseline-sample", type=int, default=3000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_simulate")
    bench_database(url, recreate=True)
    os.environ.update(DATABASE_URL=url, TESTING="1", LOCAL_DIR=str(ROOT / ".local" / "bench-simulate"),
                      DJANGO_SETTINGS_MODULE="analytics_site.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from tqdm import tqdm

    from events.models import Event
    from events.simulation import simulator_model, simulator_population_ensure
    from events.simulator import backfill

    call_command("migrate", verbosity=0)
    simulator_population_ensure(customers=args.customers, seed=args.seed)

    # Baseline on a sample of the same kind of events (a different window, so no id overlap).
    from datetime import timedelta

    from django.utils import timezone

    model = simulator_model(customers=args.customers, seed=args.seed)
    end = timezone.now()
    sample = backfill(model, start=end - timedelta(days=400), end=end - timedelta(days=399), seed=args.seed + 1,
                      target_events=args.baseline_sample).events()
    baseline = _baseline(sample)
    print(f"baseline: one INSERT + commit per event: {baseline:,.0f} events/s ({len(sample)} events sampled)")

    from events.simulation import simulator_backfill

    started = time.perf_counter()
    with tqdm(total=args.events, unit="ev", unit_scale=True, desc="backfill", disable=None) as bar:
        result = simulator_backfill(days=args.days, customers=args.customers, events=args.events, seed=args.seed,
                                    end=end, chunk_size=args.chunk_size, progress=bar.update)
    total = time.perf_counter() - started
    stored = Event.objects.count()
    rate = result.events / total
    print(f"backfill: {result.events:,} events ({result.sessions:,} sessions, {args.days:g} days, "
          f"{args.customers} customers) in {total:.1f} s end to end = {rate:,.0f} events/s")
    print(f"  generation {result.generate_seconds:.1f} s ({result.events / result.generate_seconds:,.0f} events/s), "
          f"ingest {result.ingest_seconds:.1f} s ({result.events / max(result.ingest_seconds, 1e-9):,.0f} events/s)")
    print(f"  stored {stored:,}, rejected {result.rejected}, duplicates {result.duplicates}")
    print(f"  ratio to the per-event INSERT + commit baseline: {rate / baseline:.1f}x "
          f"(baseline would take {result.events / baseline:,.0f} s)")
    print(f"  target <= 60 s: {'met' if total <= 60 else 'NOT met'}")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        import psycopg2

        admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
