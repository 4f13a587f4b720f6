"""Alert evaluation time (docs/alerts-and-reports.md#evaluation-time): every rule judged from the rollups.

A fresh database holds 16 weeks of simulated hourly rollups (``alerts.simulation``) at the grain the
live tables have: hour × 6 actions × 7 age groups (events), hour × 7 age groups × 9 channels (sessions),
hour × 9 channels (carts). Rules: each of the 5 metrics for all channels and for each of the 9 (50
rules). Timed: the first run (each rule judges its last 24 hours), then a steady run that finds one
new hour, then a run with nothing new (the 5-minute beat between hours). Target: ≤ 1 s for all rules.

    .venv/bin/python bench/alerts_evaluate.py [--pg postgres://postgres@127.0.0.1:5432/alerts_bench] [--sqlite]

``--existing URL`` measures a copy of a real data set instead (for example a clone of the 5M-event
``bench/metrics.py`` database: ``createdb -T metrics_bench_5000000 alerts_5m``; it is migrated and
written to): the default rules (``create_alert_rules``; ``--channels`` adds each metric per channel),
every rule's state reset, the clock put just after its last stored hour; then the same three runs, and
the Alerts selector (``alerts.selectors.alerts_overview``, the last 7 days) and
``GET /api/v1/metrics/alerts`` as a viewer, median of ``--reps``.

    .venv/bin/python bench/alerts_evaluate.py --existing postgres://postgres@127.0.0.1:5432/alerts_5m [--channels]
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


def _runs(end: dt.datetime, *, stored: bool = False) -> None:
    """The three evaluations, ``end`` being the first hour not stored (``stored``: no hour comes after it,
    so "one new hour" judges the last one again, each rule put back an hour)."""
    from django.db.models import F

    from alerts.models import AlertRule
    from alerts.services import alerts_evaluate

    new_hour = end + dt.timedelta(minutes=10) if stored else end + dt.timedelta(hours=1, minutes=10)
    for label, now in (("first run (24 h each)", end + dt.timedelta(minutes=10)), ("one new hour", new_hour),
                       ("nothing new", new_hour + dt.timedelta(minutes=5))):
        if stored and label == "one new hour":
            AlertRule.objects.update(evaluated_through=F("evaluated_through") - dt.timedelta(hours=1))
        t = time.perf_counter()
        result = alerts_evaluate(now)
        print(f"{label:24s} {(time.perf_counter() - t) * 1000:8.1f} ms  {result}")


def _median_ms(fn, reps: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[len(times) // 2]


def _existing(args: argparse.Namespace) -> None:
    os.environ.update(DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1", DATABASE_URL=args.existing,
                      LOCAL_DIR=tempfile.mkdtemp(prefix="bench-alerts-", dir=ROOT / ".local"))
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Max, Sum
    from django.test import Client
    from django.utils import timezone

    from accounts.roles import Role
    from accounts.services import user_create
    from alerts import selectors, services
    from alerts.metrics import METRICS
    from alerts.models import AlertRule, Evaluation, Incident
    from alerts.services import alert_rules_create_defaults
    from insights.channels import CHANNELS
    from insights.models import EventHourly

    call_command("migrate", verbosity=0)
    alert_rules_create_defaults()
    if args.channels:
        for metric in METRICS:
            for channel in CHANNELS:
                AlertRule.objects.get_or_create(name=f"{metric} {channel}",
                                                defaults={"metric": metric, "channel": channel})
    Incident.objects.all().delete()
    Evaluation.objects.all().delete()
    AlertRule.objects.update(evaluated_through=None, streak=0, streak_start=None)
    stored = EventHourly.objects.aggregate(h=Max("hour"), n=Sum("events"))
    last = stored["h"]
    print(f"{stored['n']:,} events in the rollups, {EventHourly.objects.count():,} event-hour rows, last hour {last}, "
          f"{AlertRule.objects.count()} rules")
    _runs(last + dt.timedelta(hours=1), stored=True)
    # the Alerts page's 7 days judged (as after a week of beats), then read as the page and the API read them
    Incident.objects.all().delete()
    Evaluation.objects.all().delete()
    AlertRule.objects.update(evaluated_through=last - dt.timedelta(days=7), streak=0, streak_start=None)
    services.MAX_CATCH_UP_HOURS = 7 * 24
    services.alerts_evaluate(last + dt.timedelta(hours=1, minutes=10))
    print(f"{Evaluation.objects.count():,} judged hours, {Incident.objects.count()} incidents")
    timezone.now = lambda: last + dt.timedelta(hours=1, minutes=15)  # type: ignore[assignment]
    since = last - dt.timedelta(days=7)
    print(f"alerts selector (alerts_overview, 7 days) median of {args.reps}: "
          f"{_median_ms(lambda: selectors.alerts_overview(since), args.reps):.1f} ms")
    viewer = Client()
    viewer.force_login(user_create(username=f"bench-viewer-{time.time_ns()}", password="pw-Secret-123",
                                   role=Role.VIEWER))
    assert viewer.get("/api/v1/metrics/alerts").status_code == 200
    print(f"GET /api/v1/metrics/alerts median of {args.reps}: "
          f"{_median_ms(lambda: viewer.get('/api/v1/metrics/alerts'), args.reps):.1f} ms")
    healthz = _median_ms(lambda: viewer.get("/healthz"), args.reps)
    print(f"reference, GET /healthz median of {args.reps}: {healthz:.1f} ms"
          f"; GET /alerts/ (selector, {AlertRule.objects.count()} charts, template): "
          f"{_median_ms(lambda: viewer.get('/alerts/'), 3):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/alerts_bench")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--existing", help="a database URL to measure as it is (migrated and written to)")
    parser.add_argument("--channels", action="store_true", help="with --existing: a rule per metric and channel too")
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    if args.existing:
        _existing(args)
        return
    _setup(args)
    from alerts.metrics import METRICS
    from alerts.models import AlertRule
    from insights.channels import CHANNELS

    start, hours = dt.datetime(2026, 1, 5, tzinfo=dt.UTC), 16 * 168
    _seed(start, hours + 3)
    for metric in METRICS:
        for channel in ("", *CHANNELS):
            AlertRule.objects.create(name=f"{metric} {channel or 'all'}", metric=metric, channel=channel)
    _runs(start + dt.timedelta(hours=hours))


if __name__ == "__main__":
    main()
