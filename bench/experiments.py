"""A/B readout: statistical checks on many seeds, and the readout's read speed (docs/experiments.md).

    .venv/bin/python bench/experiments.py --stats 1000       # coverage and A/A false winners, 1000 seeds each
    .venv/bin/python bench/experiments.py --readout --pg postgres://postgres@127.0.0.1:5432

``--stats`` (pure, no database): simulated experiments with a known +10% conversion and +5% order-value
lift (4,000 visitors a variant): how often the 95% intervals cover the truth; A/A tests: how often a
winner is named. ``--readout`` fills a PostgreSQL database ``experiments_bench`` with 30,000 customers
exposed to each of 10 experiments (300,000 exposure rows) and times ``experiment_readout`` (median of
20 per experiment) and ``experiment_list`` (all ten). The readout reads only the exposure table, so the
number of events does not enter it.
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


def _fill(customers: int, experiments: int) -> None:
    from customers.models import Customer
    from experiments.models import Experiment, Exposure

    if Exposure.objects.count() >= customers * experiments:
        return
    now = dt.datetime.now(dt.UTC)
    Customer.objects.bulk_create([Customer(external_id=f"bench-{i}") for i in range(customers)], batch_size=5000,
                                 ignore_conflicts=True)
    pks = list(Customer.objects.filter(external_id__startswith="bench-").values_list("pk", flat=True))
    rng = np.random.default_rng(1)
    for e in range(experiments):
        exp, _ = Experiment.objects.get_or_create(name=f"bench-{e}",
                                                  defaults={"started_at": now - dt.timedelta(days=20)})
        converted = rng.random(len(pks)) < 0.1
        rows = [Exposure(experiment=exp, customer_id=pk, variant="AB"[i % 2], exposed_at=now - dt.timedelta(days=10),
                         converted=bool(c), orders=int(c), revenue=round(float(rng.lognormal(3, 1)), 2) if c else 0,
                         pre_revenue=round(float(rng.lognormal(3, 1)), 2) if i % 3 == 0 else 0)
                for i, (pk, c) in enumerate(zip(pks, converted, strict=True))]
        Exposure.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)


def run_readout(pg: str) -> None:
    url = f"{pg.rstrip('/')}/experiments_bench"
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1",
               LOCAL_DIR=str(ROOT / ".local" / "bench-experiments"), PYTHONPATH=str(ROOT))
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "experiments_bench"], capture_output=True)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from experiments.selectors import experiment_list, experiment_readout

    _fill(30_000, 10)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE experiments_exposure")
    times = []
    for e in range(10):
        for _ in range(20):
            t = time.perf_counter()
            experiment_readout(name=f"bench-{e}")
            times.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    experiment_list()
    whole = (time.perf_counter() - t) * 1000
    print(f"experiment_readout over 30,000 visitors: median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms; experiment_list (10 experiments, 300,000 rows): {whole:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stats", type=int, default=0, help="seeds for the coverage and A/A checks")
    parser.add_argument("--readout", action="store_true")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    if args.stats:
        run_stats(args.stats)
    if args.readout:
        run_readout(args.pg)


if __name__ == "__main__":
    main()
