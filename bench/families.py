"""Benchmark: every model family on a simulated history, each fitted in its own process (target: all families
on 1M events ≤ 120 s in total and each ≤ 2 GB peak; docs/benchmarks.md).

    .venv/bin/python bench/families.py [--events 1000000] [--days 180] [--customers 2000] [--behaviour nonlinear]

No database: the simulator's backfill (pure) makes the events in memory, ``ml.features`` builds the cart
rows once (timed), and the frame is handed to one fresh child process per family, which splits it as
training does, fits and calibrates that family, scores the holdout and reports its time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FRAME = ROOT / ".local" / "bench-families" / "frame.pkl"


def _frame(args: argparse.Namespace) -> tuple[int, int, float]:
    """Generate the history and the cart rows; returns (events, carts, seconds)."""
    import numpy as np
    import pandas as pd

    from events.simulator import ACTIONS, SimParams, StoreModel, backfill, synthetic_customers
    from ml.features import build_features
    from tests.ml.sim import catalogue

    started = time.perf_counter()
    end = datetime(2025, 6, 1, tzinfo=UTC)
    model = StoreModel(synthetic_customers(args.customers, seed=1), catalogue(), SimParams(behaviour=args.behaviour),
                       seed=1)
    bf = backfill(model, start=end - timedelta(days=args.days), end=end, seed=1, target_events=args.events)
    prices, cats = np.array([*model.prices, 0.0]), np.array([*model.categories_of, ""], dtype=object)
    pk_of = np.array([int(p.customer_id) for p in model.profiles])
    events = pd.DataFrame({
        "pk": np.arange(1, len(bf) + 1), "customer": pk_of[bf.customer], "product": bf.product,
        "session_id": bf.session.astype(str).astype(object), "action": np.array(ACTIONS, dtype=object)[bf.action],
        "quantity": bf.quantity, "price": prices[bf.product],
        "order_id": np.where(bf.order >= 0, bf.order.astype(str), None).astype(object),
        "ts": pd.to_datetime(bf.ts, unit="ms", utc=True), "category": cats[bf.product]})
    customers = pd.DataFrame({"age_group": [p.age_group for p in model.profiles], "signed_up_at": pd.NaT},
                             index=pk_of)
    customers["signed_up_at"] = pd.to_datetime(customers["signed_up_at"], utc=True)
    frame = build_features(events, customers, as_of=end)
    FRAME.parent.mkdir(parents=True, exist_ok=True)
    frame.to_pickle(FRAME)
    return len(events), len(frame), time.perf_counter() - started


def _child(family: str) -> None:
    import pandas as pd

    from ml.families import FamilySpec, fit_family, metric_values
    from ml.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET
    from ml.training import TrainParams, time_split

    frame = pd.read_pickle(FRAME)
    params = TrainParams()
    older, holdout = time_split(frame, params.test_fraction)
    fit, valid = time_split(older, params.validation_fraction)
    spec = FamilySpec(NUMERIC_FEATURES, CATEGORICAL_FEATURES, n_estimators=params.n_estimators)
    fitted = fit_family(family, spec, fit[list(FEATURES)], fit[TARGET].to_numpy(), valid[list(FEATURES)],
                        valid[TARGET].to_numpy())
    p = fitted.model.predict_proba(holdout[list(FEATURES)])[:, 1]
    scores = metric_values(holdout[TARGET].to_numpy(), p)
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print("RESULT " + json.dumps({"family": family, "seconds": fitted.seconds, "peak_rss_mb": peak,
                                  "log_loss": round(scores["log_loss"], 4),
                                  "roc_auc": round(scores["roc_auc"] or 0, 4)}),
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=180)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--behaviour", default="nonlinear", choices=["linear", "nonlinear"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child)
    from ml.families import FAMILIES

    events, carts, seconds = _frame(args)
    print(f"{events:,} events → {carts:,} carts in {seconds:.1f} s (simulation and features, not training)")
    total, worst = 0.0, 0.0
    for family in FAMILIES:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", family], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout
        result = next(json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT "))
        wall = time.perf_counter() - started
        total, worst = total + wall, max(worst, result["peak_rss_mb"])
        print(f"{family:<20} fit+calibrate {result['seconds']:7.1f} s  process {wall:7.1f} s  "
              f"peak RSS {result['peak_rss_mb']:7.0f} MB  holdout log loss {result['log_loss']}  "
              f"ROC AUC {result['roc_auc']}")
    print(f"all families: {total:.1f} s (target ≤ 120 s: {'met' if total <= 120 else 'MISSED'}); "
          f"largest peak {worst:.0f} MB (≤ 2 GB: {'met' if worst <= 2048 else 'MISSED'})")


if __name__ == "__main__":
    main()
