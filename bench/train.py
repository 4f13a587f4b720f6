"""Benchmark: training every model family on 1M events, each family in its own process (target: ≤ 120 s and
≤ 2 GB; docs/benchmarks.md#training).

    .venv/bin/python bench/train.py [--events 1000000] [--customers 20000] [--days 180] [--reuse] [--keep]

Steps, each in a fresh child process so its peak RSS (``ru_maxrss``) is its own:

1. **load** (once): the simulator's nonlinear behaviour (``SIMULATOR_BEHAVIOUR=nonlinear``) backfills
   ``--events`` events into their own PostgreSQL database (``ml_bench_1m``; BENCH_DATABASE_URL overrides)
   with COPY; ``--reuse`` keeps a database that already holds them.
2. **features**: what a retraining reads and builds before any fit: the events through
   ``ml.selectors.events_frame`` (COPY), the cart rows (``ml.features.build_features``) and the customer
   training frame (``ml.customer_features.training_frame``: weekly cut-offs, set-based), timed apart; the
   frames are pickled for the next step.
3. **one process per family**: each loads the frames and trains that family for all three models (the cart
   model, purchase in 7 days, churn in 7 days) exactly as the product does: the same time splits, the same
   row caps (``ML_TRAIN_MAX_ROWS`` fitting rows, ``ML_EVAL_MAX_ROWS`` validation and holdout rows, the
   sampling rule of ``ml.bounds``) and parameters, fit + calibrate + score the holdout.

The total is the features step plus every family's process (interpreter start and data load included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / ".local" / "bench-train"
TARGET_SECONDS, TARGET_MB = 120.0, 2048.0


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _setup() -> None:
    import django

    django.setup()


def step_load(args: argparse.Namespace) -> dict:
    """The simulated history written with COPY (no derivation: training derives sessions itself)."""
    _setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.metrics import _copy_events
    from customers.models import Customer
    from events.simulation import simulator_model, simulator_population_ensure
    from events.simulator import backfill
    from products.models import Product

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    simulator_population_ensure(customers=args.customers, seed=7)
    model = simulator_model(customers=args.customers, seed=7)
    end = timezone.now()
    history = backfill(model, start=end - dt.timedelta(days=args.days), end=end, seed=7, target_events=args.events)
    cust = dict(Customer.objects.values_list("external_id", "pk"))
    prod = dict(Product.objects.values_list("external_id", "pk"))
    for lo in range(0, len(history), 50_000):
        with transaction.atomic():
            _copy_events(history.events(lo, min(len(history), lo + 50_000)), cust, prod, end.isoformat())
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE events_event")
    return {"events": len(history), "seconds": round(time.perf_counter() - started, 1)}


def step_features(args: argparse.Namespace) -> dict:
    """Read the events, build the cart rows and the customer training frame; pickle both."""
    _setup()
    from django.conf import settings

    from ml import selectors
    from ml.customer_features import HORIZON, training_frame
    from ml.features import build_features

    out: dict = {}
    t = time.perf_counter()
    events, customers, sessions = selectors.events_frame(), selectors.customers_frame(), selectors.sessions_frame()
    out["read_s"] = round(time.perf_counter() - t, 2)
    as_of = events["ts"].max() + dt.timedelta(seconds=1)
    t = time.perf_counter()
    carts = build_features(events, customers, as_of=as_of, time_zone=settings.STORE_TIME_ZONE)
    out["cart_features_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    frame = training_frame(events, customers, last_cutoff=as_of - HORIZON, weeks=settings.ML_PREDICTION_WEEKS,
                           sessions=sessions)
    out["customer_features_s"] = round(time.perf_counter() - t, 2)
    out.update(events=len(events), carts=len(carts), customer_weeks=len(frame))
    WORK.mkdir(parents=True, exist_ok=True)
    carts.to_pickle(WORK / "carts.pkl")
    frame.to_pickle(WORK / "customers.pkl")
    return out


def step_family(family: str) -> dict:
    """One family trained for the cart model and both customer targets, as the product trains them."""
    _setup()
    import pandas as pd
    from django.conf import settings

    from ml.bounds import TrainingBounds
    from ml.customer_training import PredictionParams, train_target
    from ml.evaluation import EvalParams
    from ml.training import TrainParams, train

    bounds = TrainingBounds.from_settings()
    out: dict = {"family": family, "models": {}}
    carts = pd.read_pickle(WORK / "carts.pkl")
    result = train(carts, TrainParams(families=(family,), resamples=settings.ML_BOOTSTRAP_RESAMPLES, bounds=bounds))
    out["models"]["cart"] = _summary(result.metrics, family)
    frame = pd.read_pickle(WORK / "customers.pkl")
    params = PredictionParams(min_positives=settings.ML_PREDICTION_MIN_POSITIVES,
                              min_negatives=settings.ML_PREDICTION_MIN_NEGATIVES,
                              evaluation=EvalParams(families=(family,), resamples=settings.ML_BOOTSTRAP_RESAMPLES),
                              bounds=bounds)
    for target in ("purchase_7d", "churn_7d"):
        res = train_target(frame, target, params)
        out["models"][target] = _summary(res.metrics, family) if res.eligible else {"skipped": res.reason}
    return out


def _summary(metrics: dict, family: str) -> dict:
    m = metrics["families"][family]["metrics"]
    return {"rows": metrics["rows"], "fit_s": metrics["resources"][family]["seconds"],
            "log_loss": m["log_loss"]["value"], "roc_auc": m["roc_auc"]["value"]}


def _child(step: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    if step == "load":
        out = step_load(args)
    elif step == "features":
        out = step_features(args)
    else:
        out = step_family(step.split(":", 1)[1])
    out["seconds_in_process"] = round(time.perf_counter() - started, 2)
    out["peak_mb"] = _peak_mb()
    print("RESULT " + json.dumps(out), flush=True)


def _measure(env: dict[str, str], step: str, argv: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", step, *argv], cwd=ROOT,
                          env=env, text=True, stdout=subprocess.PIPE, check=True)
    result = next(json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    result["wall_s"] = round(time.perf_counter() - started, 2)  # interpreter, Django and data load included
    return result


def _events_in(url: str) -> int:
    import psycopg2

    try:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM events_event")
            return int(cur.fetchone()[0])
    except psycopg2.Error:
        return 0


def _report(features: dict, families: list[dict]) -> None:
    print(f"\nload average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"features: {features['events']:,} events read in {features['read_s']} s; {features['carts']:,} carts "
          f"in {features['cart_features_s']} s; {features['customer_weeks']:,} customer-weeks in "
          f"{features['customer_features_s']} s; process {features['wall_s']} s, peak {features['peak_mb']:.0f} MB")
    for r in families:
        fits = ", ".join(f"{name} {m['fit_s']:.1f} s" if "fit_s" in m else f"{name} skipped"
                         for name, m in r["models"].items())
        losses = ", ".join(f"{name} {m['log_loss']}" for name, m in r["models"].items() if "log_loss" in m)
        print(f"{r['family']:<18} process {r['wall_s']:6.1f} s  peak RSS {r['peak_mb']:6.0f} MB  fit+calibrate: "
              f"{fits}; holdout log loss: {losses}")
    cart_rows = families[0]["models"]["cart"]["rows"]
    print(f"cart rows fit/validation/holdout: {cart_rows['train']:,}/{cart_rows['validation']:,}/{cart_rows['test']:,}")
    for target in ("purchase_7d", "churn_7d"):
        m = families[0]["models"][target]
        print(f"{target}: " + (m["skipped"] if "skipped" in m else
                               "rows fit/validation/holdout {fit:,}/{validation:,}/{test:,}".format(**m["rows"])))
    total = features["wall_s"] + sum(r["wall_s"] for r in families)
    fam_total = sum(r["wall_s"] for r in families)
    worst = max([features["peak_mb"], *(r["peak_mb"] for r in families)])
    print(f"all families {fam_total:.1f} s; with the feature build {total:.1f} s (target ≤ {TARGET_SECONDS:.0f} s: "
          f"{'met' if total <= TARGET_SECONDS else 'MISSED'}); largest peak {worst:.0f} MB "
          f"(≤ 2 GB: {'met' if worst <= TARGET_MB else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=180)
    parser.add_argument("--reuse", action="store_true", help="keep the bench database if it holds the events")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child, args)
    from bench.support import bench_database
    from ml.families import FAMILIES

    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ml_bench_1m")
    env = dict(os.environ, DATABASE_URL=url, TESTING="1", LOCAL_DIR=str(WORK), SIMULATOR_BEHAVIOUR="nonlinear",
               DJANGO_SETTINGS_MODULE="analytics_site.settings", PYTHONPATH=str(ROOT))
    env.pop("REDIS_URL", None)
    argv = ["--events", str(args.events), "--customers", str(args.customers), "--days", str(args.days)]
    bench_database(url, recreate=not args.reuse)
    if _events_in(url) < args.events * 0.95:
        bench_database(url, recreate=True)
        print(f"loading ~{args.events:,} simulated events ({args.customers:,} customers, {args.days:g} days)...",
              flush=True)
        load = _measure(env, "load", argv)
        print(f"loaded {load['events']:,} events in {load['wall_s']} s (not training)", flush=True)
    features = _measure(env, "features", argv)
    print(f"features built in {features['wall_s']} s", flush=True)
    families = []
    for family in FAMILIES:
        families.append(_measure(env, f"family:{family}", argv))
        print(f"{family}: {families[-1]['wall_s']} s, {families[-1]['peak_mb']:.0f} MB", flush=True)
    _report(features, families)
    if not args.keep:
        bench_database(url, recreate=True)
        import psycopg2
        from psycopg2 import sql

        admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(url.rsplit("/", 1)[1])))
        admin.close()


if __name__ == "__main__":
    main()
