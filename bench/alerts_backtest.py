"""Alert backtest (docs/alerts-and-reports.md#backtest): false alerts per rule per week on normal simulated
weeks, and how reliably and how soon a known jump is caught. Pure (no database): the same judging code
as the live evaluation, over ``alerts.simulation`` series.

For each seed: 16 simulated weeks (8 of history, then 8 judged); each metric with a default rule
(either side, medium sensitivity, K = 2, minimum volume 20). Then a jump of cart abandonment from 70%
to 90% for 4 hours (``--jump-length``) at a known hour (weekday 13:00, or ``--jump-hour``), judged
by an "up" rule with K = 2: in how many seeds an incident opens inside the jump, how many open it at the K-th hour (the
evaluation after that hour is final: "within two evaluations"), and whether it ends when the rate
returns.

    .venv/bin/python bench/alerts_backtest.py [--seeds 40] [--sessions 80] [--jump-hour 13] [--jump-length 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, WEEK, HOUR = dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.timedelta(weeks=1), dt.timedelta(hours=1)


def false_alerts(seeds: int, sessions: float) -> None:
    from alerts.backtest import backtest
    from alerts.evaluation import RuleSpec
    from alerts.metrics import METRICS
    from alerts.simulation import simulate_hours

    print(f"false alerts per rule per week ({seeds} seeds × 8 judged weeks, {sessions:g} sessions/hour)")
    rows_by_seed = [simulate_hours(START, 16 * 168, seed=s, sessions_per_hour=sessions) for s in range(seeds)]
    for metric in METRICS:
        spec = RuleSpec(metric, "both", "medium", 20, 2, None, 8)
        counts = [len(backtest(spec, rows, START + 8 * WEEK)) for rows in rows_by_seed]
        print(f"  {metric:20s} mean {sum(counts) / len(counts) / 8:.3f}/week   worst seed {max(counts) / 8:.3f}/week")


def jump_catch(seeds: int, sessions: float, jump_hour: int, length: int) -> None:
    from alerts.backtest import backtest
    from alerts.evaluation import RuleSpec
    from alerts.simulation import simulate_hours

    jump = START + 10 * WEEK + dt.timedelta(days=2, hours=jump_hour)
    spec = RuleSpec("cart_abandonment", "up", "medium", 20, 2, None, 8)
    outcomes: Counter[str] = Counter()
    first_hours: Counter[int] = Counter()
    end_hours: Counter[int | None] = Counter()
    carts = 0.0
    for seed in range(seeds):
        rows = simulate_hours(START, 11 * 168, seed=seed, sessions_per_hour=sessions,
                              changes=[(jump, jump + length * HOUR, 0.9)])
        jump_rows = [r for r in rows if jump <= r["hour"] < jump + length * HOUR]
        carts += sum(r["carts_converted"] + r["carts_abandoned"] + r["carts_emptied"] for r in jump_rows) / length
        every = backtest(spec, rows, jump - dt.timedelta(days=1))
        # a run may start an hour early, when the hour before the jump breached by chance
        found = [(a, b) for a, b in every if jump - (spec.k - 1) * HOUR <= a < jump + length * HOUR]
        outcomes["false"] += len(every) - len(found)
        if not found:
            outcomes["missed"] += 1
            continue
        start, end = found[0]
        first_hours[int((start - jump) / HOUR)] += 1
        outcomes["caught"] += 1
        outcomes["at K"] += start <= jump  # breaching from the jump on: fired when its K-th hour was judged
        end_hours[None if end is None else int((end - jump) / HOUR) - length] += 1
        outcomes["ended at return"] += end == jump + length * HOUR
        outcomes["ended inside the jump"] += end is not None and end < jump + length * HOUR
    print(f"abandonment 70% → 90% for {length} h at {jump_hour}:00 on a weekday, {carts / seeds:.0f} finished carts an "
          f"hour at the mean, {seeds} seeds: caught {outcomes['caught']}/{seeds}; fired when the K-th hour was "
          f"judged {outcomes['at K']}/{seeds}; run started at hour +n: {dict(sorted(first_hours.items()))}; "
          f"ended as of the hour the rate returned {outcomes['ended at return']}/{outcomes['caught']} "
          f"(inside the jump {outcomes['ended inside the jump']}; ended as of hour +n after the return: "
          f"{dict(sorted(end_hours.items(), key=lambda kv: 99 if kv[0] is None else kv[0]))}); "
          f"other incidents in the judged day and a half: {outcomes['false']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--sessions", type=float, default=80.0, help="mean sessions an hour")
    parser.add_argument("--jump-hour", type=int, default=13, help="UTC hour of the jump (the simulator's store time)")
    parser.add_argument("--jump-length", type=int, default=4, help="hours the jump lasts")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    os.environ.setdefault("TESTING", "1")
    t0 = time.perf_counter()
    false_alerts(args.seeds, args.sessions)
    jump_catch(args.seeds, args.sessions, args.jump_hour, args.jump_length)
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
