"""Benchmark: training every model family on 1M events, each family in its own process (target: ≤ 120 s and
≤ 2 GB; docs/benchmarks.md#training).

    .venv/bin/python bench/train.py [--events 1000000] [--customers 20000] [--days 180] [--reuse] [--keep]

Steps, each in a fresh child process so its peak RSS (``ru_maxrss``) is its own:

1. **load** (once): the simulator's nonlinear behaviour (``SIMULATOR_BEHAVIOUR=nonlinear``) backfills
   ``--events`` events into their own PostgreSQL database (``ml_bench_1m``; BENCH_DATABASE_URL overrides)
   with COPY and derives the sessions (``rebuild_rollups``: the channel mix reads them); ``--reuse`` keeps a
   database that already holds them.
2. **features**: what a retraining reads and builds before any fit: the events through
   ``ml.selectors.events_frame`` (COPY), the cart rows (``ml.features.build_features``) and the customer
   training frame (``ml.customer_features.training_frame``: weekly cut-offs, set-based), timed apart; the
   frames are pickled for the next step.
3. **one process per family**: each loads the frames and trains that family for all three models (the cart
   model, purchase in 7 days, churn in 7 days) exactly as the product does: the same time splits, the same
   row caps (``ML_TRAIN_MAX_ROWS`` fitting rows, ``ML_EVAL_MAX_ROWS`` validation and holdout rows, the
   sampling rule of ``ml.bounds``) and parameters: fit + calibrate + score the holdout + permutation
   importances;
4. **compare**: the paired bootstrap of the four families' holdout scores and the written rule, per model.

The total is the features step plus every later process (interpreter start and data load included); CPU
seconds (user + system of each child) are reported too, as the machine is shared.
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
    call_command("rebuild_rollups", verbosity=0)  # the derived sessions carry the channels of the channel mix
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
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


def _model_parts() -> dict:
    """Per model (the cart model, purchase and churn in 7 days): its fit / validation / holdout rows within the
    row caps, its target and its family spec, split exactly as the product's training splits them."""
    import pandas as pd
    from django.conf import settings

    from ml import customer_training as ct
    from ml.bounds import TrainingBounds, bounded_parts
    from ml.features import TARGET
    from ml.training import TrainParams, family_spec, split_parts

    bounds = TrainingBounds.from_settings()
    tparams = TrainParams(bounds=bounds)
    parts, _bounded, _all = split_parts(pd.read_pickle(WORK / "carts.pkl"), tparams)
    models = {"cart": (parts, TARGET, family_spec(tparams), "")}
    frame = pd.read_pickle(WORK / "customers.pkl")
    pparams = ct.PredictionParams(min_positives=settings.ML_PREDICTION_MIN_POSITIVES,
                                  min_negatives=settings.ML_PREDICTION_MIN_NEGATIVES, bounds=bounds)
    for target in ("purchase_7d", "churn_7d"):
        eligible, reason, _counts = ct.eligibility(frame, target, pparams)
        capped, _bounded = bounded_parts(ct.split(frame), bounds)
        models[target] = (capped, target, ct.family_spec(pparams), "" if eligible else reason)
    return models


def step_family(family: str) -> dict:
    """One family trained for the three models as the product trains it: fit, calibrate, score the holdout,
    permutation importances. The holdout probabilities are saved for the comparison step."""
    _setup()
    from threadpoolctl import threadpool_limits

    out: dict = {"family": family, "models": {}}
    with threadpool_limits(1):  # as the product: one thread for BLAS and OpenMP while predicting too
        for name, (parts, target, spec, skipped) in _model_parts().items():
            out["models"][name] = {"skipped": skipped} if skipped else _train_one(family, name, parts, target, spec)
    return out


def _train_one(family: str, name: str, parts: tuple, target: str, spec) -> dict:
    import numpy as np

    from ml.evaluation import EvalParams, importances
    from ml.families import fit_family, metric_values

    fit_df, valid_df, test_df = parts
    features = [*spec.numeric, *spec.categorical]
    started = time.perf_counter()
    fitted = fit_family(family, spec, fit_df[features], fit_df[target].to_numpy(), valid_df[features],
                        valid_df[target].to_numpy())
    y = test_df[target].to_numpy()
    p = fitted.model.predict_proba(test_df[features])[:, 1]
    importances(fitted.model, test_df[features], y, features, EvalParams())
    np.save(WORK / f"holdout-{name}-{family}.npy", p)
    np.save(WORK / f"holdout-{name}-y.npy", y)
    scores = metric_values(y, p)
    return {"rows": {"fit": len(fit_df), "validation": len(valid_df), "test": len(test_df)},
            "fit_s": fitted.seconds, "with_importances_s": round(time.perf_counter() - started, 2),
            "rss_mb": fitted.peak_mb, "log_loss": round(scores["log_loss"], 4),
            "roc_auc": round(scores["roc_auc"] or 0, 4)}


def step_compare() -> dict:
    """The paired bootstrap of the four families' holdout probabilities and the written rule, per model."""
    _setup()
    import numpy as np
    from django.conf import settings

    from ml.families import FAMILIES, bootstrap, choose

    out: dict = {"chosen": {}}
    for name in ("cart", "purchase_7d", "churn_7d"):
        if not (WORK / f"holdout-{name}-y.npy").exists():
            continue
        y = np.load(WORK / f"holdout-{name}-y.npy")
        probabilities = {f: np.load(WORK / f"holdout-{name}-{f}.npy") for f in FAMILIES}
        chosen, _reason = choose(bootstrap(y, probabilities, resamples=settings.ML_BOOTSTRAP_RESAMPLES, seed=42))
        out["chosen"][name] = chosen
    return out


def _child(step: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    if step == "load":
        out = step_load(args)
    elif step == "features":
        out = step_features(args)
    elif step == "compare":
        out = step_compare()
    else:
        out = step_family(step.split(":", 1)[1])
    out["seconds_in_process"] = round(time.perf_counter() - started, 2)
    out["peak_mb"] = _peak_mb()
    print("RESULT " + json.dumps(out), flush=True)


def _measure(env: dict[str, str], step: str, argv: list[str]) -> dict:
    started = time.perf_counter()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", step, *argv], cwd=ROOT,
                          env=env, text=True, stdout=subprocess.PIPE, check=True)
    result = next(json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    result["wall_s"] = round(time.perf_counter() - started, 2)  # interpreter, Django and data load included
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # CPU time: what the machine's load does not inflate
    result["cpu_s"] = round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, 2)
    return result


def _events_in(url: str) -> int:
    import psycopg2

    try:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM events_event")
            return int(cur.fetchone()[0])
    except psycopg2.Error:
        return 0


def _report(features: dict, families: list[dict], compare: dict) -> None:
    print(f"\nload average {' '.join(open('/proc/loadavg').read().split()[:3])} (2 cores)")
    print(f"features: {features['events']:,} events read in {features['read_s']} s; {features['carts']:,} carts "
          f"in {features['cart_features_s']} s; {features['customer_weeks']:,} customer-weeks in "
          f"{features['customer_features_s']} s; process {features['wall_s']} s (CPU {features['cpu_s']} s), "
          f"peak {features['peak_mb']:.0f} MB")
    for r in families:
        fits = ", ".join(f"{name} {m['fit_s']:.1f} s" if "fit_s" in m else f"{name} skipped"
                         for name, m in r["models"].items())
        losses = ", ".join(f"{name} {m['log_loss']}" for name, m in r["models"].items() if "log_loss" in m)
        print(f"{r['family']:<18} process {r['wall_s']:6.1f} s (CPU {r['cpu_s']:6.1f} s)  peak RSS "
              f"{r['peak_mb']:5.0f} MB  fit+calibrate: {fits}; holdout log loss: {losses}")
    print(f"comparison (bootstrap, rule): process {compare['wall_s']} s, chosen {compare['chosen']}")
    for name, m in families[0]["models"].items():
        print(f"{name}: " + (m["skipped"] if "skipped" in m else
                             "rows fit/validation/holdout {fit:,}/{validation:,}/{test:,}".format(**m["rows"])))
    fam_total = sum(r["wall_s"] for r in families) + compare["wall_s"]
    total = features["wall_s"] + fam_total
    cpu = features["cpu_s"] + sum(r["cpu_s"] for r in families) + compare["cpu_s"]
    worst = max([features["peak_mb"], compare["peak_mb"], *(r["peak_mb"] for r in families)])
    print(f"families and comparison {fam_total:.1f} s; with the feature build {total:.1f} s, CPU {cpu:.1f} s "
          f"(target ≤ {TARGET_SECONDS:.0f} s: {'met' if total <= TARGET_SECONDS else 'MISSED'}); largest peak "
          f"{worst:.0f} MB (≤ 2 GB: {'met' if worst <= TARGET_MB else 'MISSED'})")


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
    for stale in WORK.glob("holdout-*.npy"):
        stale.unlink()
    families = []
    for family in FAMILIES:
        families.append(_measure(env, f"family:{family}", argv))
        print(f"{family}: {families[-1]['wall_s']} s, {families[-1]['peak_mb']:.0f} MB", flush=True)
    _report(features, families, _measure(env, "compare", argv))
    if not args.keep:
        _drop(url)


def _drop(url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.rsplit("/", 1)[1])))
    admin.close()


if __name__ == "__main__":
    main()
