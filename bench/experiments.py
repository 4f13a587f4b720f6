"""A/B readout: statistical checks on many seeds, and the readout's read speed (docs/experiments.md).

    .venv/bin/python bench/experiments.py --stats 1000       # coverage and A/A false winners, 1000 seeds each
    .venv/bin/python bench/experiments.py --readout --pg postgres://postgres@127.0.0.1:5432
    createdb -h 127.0.0.1 -U postgres -T metrics_bench_5000000 experiments_5m
    .venv/bin/python bench/experiments.py --readout --db experiments_5m --existing-customers

``--stats`` (pure, no database): simulated experiments with a known +10% conversion and +5% order-value
lift (4,000 visitors a variant): how often the 95% intervals cover the truth; A/A tests: how often a
winner is named. ``--readout`` fills a PostgreSQL database (``experiments_bench``, or ``--db``) with
10 experiments exposing 30,000 customers each (with ``--existing-customers``: the database's own, whose
real orders give the outcomes), and times ``experiment_readout`` (median of 20 per experiment),
``experiment_list`` (all ten) and, for comparison, a recount of one experiment's sums from its
exposure rows. The readout reads only the per-variant sums, so neither events nor visitors enter it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def simulate(rng: np.random.Generator, n: int, rate: float, value: float):
    from experiments.stats import Moments

    loyal = rng.random(n) < 0.3
    converted = rng.random(n) < np.where(loyal, rate * 1.5, rate * (1 - 0.45) / 0.7)
    spend = np.where(converted, rng.lognormal(np.log(value) - 0.5, 1.0, n), 0.0)
    pre = np.where(loyal, rng.lognormal(np.log(value) - 0.5, 1.0, n), 0.0) + 0.5 * spend
    return Moments(n, int(converted.sum()), float(spend.sum()), float((spend ** 2).sum()), float(pre.sum()),
                   float((pre ** 2).sum()), float((spend * pre).sum()))


def run_stats(seeds: int) -> None:
    from experiments.readout import Design, readout_build

    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    design = Design(name="e", started_at=start, now=start + dt.timedelta(days=30))
    lift, value_lift, rate, value = 0.10, 0.05, 0.10, 50.0
    true_diff, true_rpv = rate * lift, rate * (1 + lift) * value * (1 + value_lift) - rate * value
    hits = rpv_hits = named = cuped = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        b = readout_build(design, {"A": simulate(rng, 4000, rate, value),
                                   "B": simulate(rng, 4000, rate * (1 + lift), value * (1 + value_lift))}).variants[1]
        hits += b.difference_interval[0] <= true_diff <= b.difference_interval[1]
        rpv_hits += b.revenue.interval[0] <= true_rpv <= b.revenue.interval[1]
        cuped += b.revenue.cuped
        rng = np.random.default_rng(10_000 + seed)
        named += readout_build(design, {"A": simulate(rng, 4000, rate, value),
                                        "B": simulate(rng, 4000, rate, value)}).winner is not None
    print(f"{seeds} experiments, true lift +10% conversion, +5% order value, 4,000 visitors a variant:")
    print(f"  conversion difference interval covers the truth: {hits / seeds:.1%}")
    print(f"  revenue-per-visitor interval covers the truth:   {rpv_hits / seeds:.1%} "
          f"(CUPED used in {cuped / seeds:.0%})")
    print(f"{seeds} A/A tests: a winner named in {named / seeds:.1%}")


def _fill(customers: int, experiments: int, existing: bool) -> None:
    """``experiments`` experiments, each exposing every customer (the store's own with ``existing``, else
    ``customers`` new ones) to A or B at a random time of the last year: exposures as sent, their rows
    and sums, then every outcome from the customers' real orders (the incremental upkeep's path)."""
    from customers.models import Customer
    from experiments.models import Experiment, ExposureRecord
    from experiments.rebuild import _first_rows
    from experiments.services import _outcomes_refresh
    from experiments.tally import Tally

    if Experiment.objects.filter(name__startswith="bench-").count() >= experiments:
        return
    now = dt.datetime.now(dt.UTC)
    if not existing:
        Customer.objects.bulk_create([Customer(external_id=f"bench-{i}") for i in range(customers)], batch_size=5000,
                                     ignore_conflicts=True)
    people = Customer.objects.filter(merged_into__isnull=True)
    pks = list((people if existing else people.filter(external_id__startswith="bench-")).values_list("pk", flat=True))
    rng = np.random.default_rng(1)
    t = time.perf_counter()
    for e in range(experiments):
        exp = Experiment.objects.create(name=f"bench-{e}", started_at=now - dt.timedelta(days=365))
        seconds = rng.integers(0, 365 * 86400, len(pks))
        ExposureRecord.objects.bulk_create(
            [ExposureRecord(experiment=exp, customer_id=pk, variant="AB"[(pk * 7 + e) % 2],
                            timestamp=now - dt.timedelta(seconds=int(s))) for pk, s in zip(pks, seconds, strict=True)],
            batch_size=5000)
        rows = _first_rows(exp.pk)
        from experiments.models import Exposure

        Exposure.objects.bulk_create(rows, batch_size=5000)
        tally = Tally()
        for row in rows:
            tally.add(row)
        tally.apply()
    print(f"filled {experiments} experiments x {len(pks):,} visitors in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    _outcomes_refresh(pks)
    print(f"outcomes of {len(pks):,} visitors from their orders (incremental path): {time.perf_counter() - t:.0f} s")


def _median_ms(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def _check_and_filters(experiments) -> None:
    """The kept sums equal a recount at this scale; the pages' experiment filter timed against none."""
    from experiments.models import VariantStats
    from experiments.selectors import experiment_sums_recount
    from insights.filters import MetricFilter
    from insights.selectors import acquisition_stats, carts_stats, funnel_stats

    for e in experiments:
        kept = {(s.variant, s.is_bot, s.conflicting): (s.visitors, s.conversions, s.sum_y, s.sum_yy, s.sum_x, s.sum_xx,
                                                      s.sum_xy) for s in VariantStats.objects.filter(experiment=e)}
        assert kept == experiment_sums_recount(experiment=e), e.name
    print(f"kept sums equal the recount from exposure rows for all {len(experiments)} experiments")
    base = MetricFilter.default()
    scoped = MetricFilter.from_query({"start": str(base.start), "end": str(base.end), "experiment": "bench-0",
                                      "variant": "A"})
    for name, fn in (("funnel", funnel_stats), ("carts", carts_stats), ("acquisition", acquisition_stats)):
        plain, cut = _median_ms(lambda fn=fn: fn(base), 3), _median_ms(lambda fn=fn: fn(scoped), 3)
        print(f"{name} (last 30 days): {plain[0]:.0f} ms; bench-0 variant A: {cut[0]:.0f} ms")


def run_readout(pg: str, db: str, existing: bool) -> None:
    url = f"{pg.rstrip('/')}/{db}"
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1",
               LOCAL_DIR=str(ROOT / ".local" / "bench-experiments"), PYTHONPATH=str(ROOT))
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db], capture_output=True)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from events.models import Event
    from experiments.models import Experiment
    from experiments.selectors import experiment_list, experiment_readout, experiment_sums_recount

    _fill(30_000, 10, existing)
    with connection.cursor() as cur:
        for table in ("experiments_exposure", "experiments_variantstats", "experiments_exposurerecord"):
            cur.execute(f"VACUUM ANALYZE {table}")
    events = Event.objects.count()
    experiments = list(Experiment.objects.filter(name__startswith="bench-"))
    one = [_median_ms(lambda e=e: experiment_readout(name=e.name), 20) for e in experiments]
    whole = _median_ms(experiment_list, 5)
    recount = [_median_ms(lambda e=e: experiment_sums_recount(experiment=e), 3) for e in experiments]
    print(f"{events:,} events, {len(experiments)} experiments: experiment_readout median "
          f"{statistics.median(m for m, _ in one):.1f} ms (max {max(x for _, x in one):.1f}); experiment_list "
          f"(all) median {whole[0]:.1f} ms (max {whole[1]:.1f}); a recount of one experiment's sums from its "
          f"exposure rows (what the readout did before) {statistics.median(m for m, _ in recount):.1f} ms; "
          f"load average {open('/proc/loadavg').read().split()[0]}")
    _check_and_filters(experiments)
    print(f"load average {open('/proc/loadavg').read().split()[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stats", type=int, default=0, help="seeds for the coverage and A/A checks")
    parser.add_argument("--readout", action="store_true")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="experiments_bench",
                        help="--readout: the database (created if missing; a clone of a metrics bench data set "
                             "with --existing-customers)")
    parser.add_argument("--existing-customers", action="store_true",
                        help="--readout: expose the database's own customers (their real orders give the outcomes)")
    args = parser.parse_args()
    if args.stats:
        run_stats(args.stats)
    if args.readout:
        run_readout(args.pg, args.db, args.existing_customers)


if __name__ == "__main__":
    main()
