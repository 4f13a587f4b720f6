"""Alert evaluation time (docs/alerts-and-reports.md#evaluation-time): every rule judged from the rollups.

A fresh database holds 16 weeks of simulated hourly rollups (``alerts.simulation``) at the grain the
live tables have: hour × 6 actions × 7 age groups (events), hour × 7 age groups × 9 channels (sessions),
hour × 9 channels (carts). Rules: each of the 5 metrics for all channels and for each of the 9 (50
rules). Timed: the first run (each rule judges its last 24 hours), then a steady run that finds one
new hour, then a run with nothing new (the 5-minute beat between hours). Target: ≤ 1 s for all rules.

    .venv/bin/python bench/alerts_evaluate.py [--pg postgres://postgres@127.0.0.1:5432/alerts_bench] [--sqlite]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGES = ("18-25", "26-35", "36-45", "46-55", "56-65", "66+", "unknown")
ACTIONS = ("view", "add_to_cart", "remove_from_cart", "checkout", "purchase", "abandon")


def _setup(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1",
                      LOCAL_DIR=tempfile.mkdtemp(prefix="bench-alerts-", dir=ROOT / ".local"))
    os.environ.pop("REDIS_URL", None)
    if args.sqlite:
        os.environ.pop("DATABASE_URL", None)
    else:
        from bench.support import bench_database

        bench_database(args.pg, recreate=True)
        os.environ["DATABASE_URL"] = args.pg
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _seed(start: dt.datetime, hours: int) -> None:
    from alerts.simulation import simulate_hours
    from insights.channels import CHANNELS
    from insights.models import CartHourly, EventHourly, SessionHourly

    ev, ss, ca = [], [], []
    for c, channel in enumerate(CHANNELS):
        for r in simulate_hours(start, hours, seed=c, sessions_per_hour=40):
            ca.append(CartHourly(hour=r["hour"], channel=channel, carts_converted=r["carts_converted"],
                                 carts_abandoned=r["carts_abandoned"], carts_emptied=r["carts_emptied"]))
            for age in AGES:
                ss.append(SessionHourly(hour=r["hour"], age_group=age, channel=channel, sessions=r["sessions"] // 7,
                                        purchasing_sessions=r["orders"] // 7, orders=r["orders"] // 7,
                                        events=r["events"] // 7, revenue=round(r["revenue"] / 7, 2)))
    for r in simulate_hours(start, hours, seed=99, sessions_per_hour=360):
        ev += [EventHourly(hour=r["hour"], action=a, age_group=g, events=r["events"] // 42 + 1,
                           revenue=round(r["revenue"] / 7, 2) if a == "purchase" else 0) for a in ACTIONS for g in AGES]
    for model, rows in ((EventHourly, ev), (SessionHourly, ss), (CartHourly, ca)):
        model.objects.bulk_create(rows, batch_size=5000)
    print(f"rollups: {len(ev):,} event-hour rows, {len(ss):,} session-hour rows, {len(ca):,} cart-hour rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/alerts_bench")
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    _setup(args)
    from alerts.metrics import METRICS
    from alerts.models import AlertRule
    from alerts.services import alerts_evaluate
    from insights.channels import CHANNELS

    start, hours = dt.datetime(2026, 1, 5, tzinfo=dt.UTC), 16 * 168
    _seed(start, hours + 3)
    for metric in METRICS:
        for channel in ("", *CHANNELS):
            AlertRule.objects.create(name=f"{metric} {channel or 'all'}", metric=metric, channel=channel)
    end = start + dt.timedelta(hours=hours)
    for label, now in (("first run (24 h each)", end + dt.timedelta(minutes=10)),
                       ("one new hour", end + dt.timedelta(hours=1, minutes=10)),
                       ("nothing new", end + dt.timedelta(hours=1, minutes=15))):
        t = time.perf_counter()
        result = alerts_evaluate(now)
        print(f"{label:24s} {(time.perf_counter() - t) * 1000:8.1f} ms  {result}")


if __name__ == "__main__":
    main()
