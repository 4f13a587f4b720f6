"""Alert backtest (docs/alerts-and-reports.md#backtest): false alerts per rule per week on normal simulated
weeks, and how soon a known jump is caught. Pure (no database): the same judging code as the live
evaluation, over ``alerts.simulation`` series.

For each seed: 16 simulated weeks (8 of history, then 8 judged); each metric with a default rule
(either side, medium sensitivity, K = 2, minimum volume 20). Then a jump of cart abandonment from 70%
to 90% for 4 hours at a known hour: the hour the alert opens and the hour it ends.

    .venv/bin/python bench/alerts_backtest.py [--seeds 10] [--sessions 80]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--sessions", type=float, default=80.0, help="mean sessions an hour")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    os.environ.setdefault("TESTING", "1")
    from alerts.backtest import backtest
    from alerts.evaluation import RuleSpec
    from alerts.metrics import METRICS
    from alerts.simulation import simulate_hours

    start, week = dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.timedelta(weeks=1)
    t0 = time.perf_counter()
    print(f"false alerts per rule per week ({args.seeds} seeds × 8 judged weeks, {args.sessions:g} sessions/hour)")
    for metric in METRICS:
        counts = []
        for seed in range(args.seeds):
            rows = simulate_hours(start, 16 * 168, seed=seed, sessions_per_hour=args.sessions)
            counts.append(len(backtest(RuleSpec(metric, "both", "medium", 20, 2, None, 8), rows, start + 8 * week)))
        print(f"  {metric:20s} mean {sum(counts) / len(counts) / 8:.3f}/week   worst seed {max(counts) / 8:.3f}/week")
    caught = []
    for seed in range(args.seeds):
        jump = start + 10 * week + dt.timedelta(days=2, hours=13)
        rows = simulate_hours(start, 11 * 168, seed=seed, sessions_per_hour=args.sessions,
                              changes=[(jump, jump + dt.timedelta(hours=4), 0.9)])
        spec = RuleSpec("cart_abandonment", "up", "medium", 20, 2, None, 8)
        found = backtest(spec, rows, jump - dt.timedelta(days=1))
        hours = dt.timedelta(hours=1)
        caught.append([(int((a - jump) / hours), None if b is None else int((b - jump) / hours)) for a, b in found])
    print("abandonment 70% → 90% for 4 h: incidents (start, end) in hours from the jump, per seed:")
    for seed, found in enumerate(caught):
        print(f"  seed {seed}: {found}")
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
