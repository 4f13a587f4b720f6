"""Dashboard read speed at volume (docs/benchmarks.md), on PostgreSQL.

For each size (default 1M and 5M events) in its own database ``metrics_bench_<size>``:
  1. simulated history through the real ingest path (the simulator's backfill, ``events.simulation``),
     then the queued session/cart derivation (``analytics_process_pending``), both timed;
  2. the median time of every insights selector and of every ``/api/v1/metrics/*`` response
     (default 30-day window; also all of the history and a filtered view);
  3. the baseline the original system paid on every refresh: loading all events into pandas
     (time and peak memory, in a separate process);
  4. "web process" memory: a fresh process that serves every API panel once, peak RSS.
Then 5M against 1M: every figure should stay within 2×, every selector ≤ 50 ms.

    .venv/bin/python bench/metrics.py                     # 1M and 5M (long: run it once)
    .venv/bin/python bench/metrics.py --sizes 200000      # a quick look
    .venv/bin/python bench/metrics.py --sizes 1000000 --reuse   # keep an existing database

Needs PostgreSQL (``--pg postgres://postgres@127.0.0.1:5432``). Results also go to
``.local/bench-metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="analytics_site.settings", PYTHONPATH=str(ROOT),
               TESTING="1", LOCAL_DIR=str(ROOT / ".local" / "bench-metrics"))
    env.pop("REDIS_URL", None)
    return env


PANELS = ("kpis", "funnel", "seasonality", "customers", "products", "carts", "insights", "timeseries", "cohorts",
          "affinity", "acquisition")


def _setup() -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    django.setup()


# --- worker steps (run in a subprocess with DATABASE_URL set) --------------------------------


def _copy_events(rows: list[dict], cust: dict[str, int], prod: dict[str, int], received: str) -> None:
    from io import StringIO

    from django.db import connection

    null = "\\N"
    buf = StringIO()

    def context(e: dict) -> str:  # the simulator's traffic context: short, tab-free JSON
        return json.dumps(e["context"]).replace("\\", "\\\\") if e.get("context") else null

    for e in rows:  # the simulator's ids and session ids hold no tabs or backslashes
        p = prod.get(e["product_id"]) if e["product_id"] is not None else None
        order = e["order_id"] if e["order_id"] is not None else null
        buf.write(f"{e['event_id']}\t{cust[e['customer_id']]}\t{p if p is not None else null}\t"
                  f"{e['session_id']}\t{e['action']}\t{e['quantity']}\t{e['product_price']:.2f}\t"
                  f"{order}\t{e['timestamp']}\t{received}\t{context(e)}\n")
    buf.seek(0)
    with connection.cursor() as cur:
        cur.copy_expert("COPY events_event (event_id, customer_id, product_id, session_id, action, quantity, price,"
                        " order_id, timestamp, received_at, context) FROM STDIN", buf)


def step_load(args: argparse.Namespace) -> dict:
    """Simulated history (the simulator's own generator) written with COPY, derived with rebuild_rollups;
    then the last ~50k events go through the real ingest path and the queued derivation."""
    _setup()
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from tqdm import tqdm

    from customers.models import Customer
    from events.models import Event
    from events.services import events_ingest
    from events.simulation import simulator_model, simulator_population_ensure
    from events.simulator import backfill
    from insights.models import PendingWindow
    from insights.rebuild import analytics_rebuild
    from insights.services import analytics_process_pending
    from products.models import Product

    call_command("migrate", verbosity=0)
    out: dict = {}
    if Event.objects.count() < args.size * 0.9 and not (args.reuse and Event.objects.exists()):
        with connection.cursor() as cur:
            cur.execute("TRUNCATE events_event")
        simulator_population_ensure(customers=args.customers, seed=7)
        model = simulator_model(customers=args.customers, seed=7)
        end = timezone.now()
        t = time.perf_counter()
        history = backfill(model, start=end - dt.timedelta(days=args.days), end=end, seed=7,
                           target_events=args.size)
        n = len(history)
        tail = min(50_000, n // 20)
        cust = dict(Customer.objects.values_list("external_id", "pk"))
        prod = dict(Product.objects.values_list("external_id", "pk"))
        received = end.isoformat()
        with tqdm(total=n - tail, unit="ev", desc="COPY simulated events") as bar:
            for lo in range(0, n - tail, 50_000):
                rows = history.events(lo, min(n - tail, lo + 50_000))
                with transaction.atomic():
                    _copy_events(rows, cust, prod, received)
                bar.update(len(rows))
        out["generate_copy_s"] = time.perf_counter() - t
        with tqdm(total=n - tail, unit="ev", desc="rebuild_rollups") as bar:
            t = time.perf_counter()
            analytics_rebuild(progress=bar.update)
            out["rebuild_s"] = time.perf_counter() - t
            out["rebuild_events"] = n - tail
        t = time.perf_counter()
        for lo in range(n - tail, n, 5000):
            events_ingest(raw_events=history.events(lo, min(n, lo + 5000)), broadcast=False)
        out["ingest_tail_s"] = time.perf_counter() - t
        out["ingest_tail_events"] = tail
        pending = PendingWindow.objects.count()
        times = None
        if args.profile_tail:  # where the live tail's derivation spends its time, per statement kind
            from bench.derive import _SqlTimes

            times = _SqlTimes()
        t = time.perf_counter()
        if times is not None:
            with connection.execute_wrapper(times):
                analytics_process_pending()
            print(times.report(top=25), file=sys.stderr, flush=True)
        else:
            analytics_process_pending()
        out["derive_tail_s"] = time.perf_counter() - t
        out["derive_tail_batches"] = pending
    out["events"] = Event.objects.count()
    with connection.cursor() as cur:  # steady state: what autovacuum does after a bulk load (visibility map)
        cur.execute("VACUUM ANALYZE")
    return out


def step_measure(args: argparse.Namespace) -> dict:
    _setup()
    import datetime as dt

    from django.db import connection
    from django.db.models import Sum
    from django.test import Client

    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import user_create
    from bench.support import median_ms
    from insights import selectors, sentences
    from insights.filters import MetricFilter, store_today
    from insights.models import (
        BuyerOrders,
        CohortMonthly,
        CustomerDaily,
        EventDaily,
        EventHourly,
        OrderGap,
        ProductDaily,
        ProductPairDaily,
        Session,
        SessionDaily,
        SessionHourly,
        TrafficDaily,
    )
    from products.models import Product

    connection.ensure_connection()
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    today = store_today()
    category = Product.objects.exclude(category="").values_list("category", flat=True).first() or ""
    top_channel = (TrafficDaily.objects.values("channel").annotate(n=Sum("sessions")).order_by("-n")
                   .values_list("channel", flat=True).first() or "Direct")
    filters = {
        "30 days": MetricFilter.default(),
        "all history": MetricFilter(start=today - dt.timedelta(days=args.days + 1), end=today),
        "30 days, filtered": MetricFilter(start=today - dt.timedelta(days=29), end=today, age_group="26-35",
                                          category=category),
        # the channel filter on every page, for the channel with the most sessions (the costliest)
        f"30 days, channel {top_channel}": MetricFilter(start=today - dt.timedelta(days=29), end=today,
                                                        channel=top_channel),
        f"all history, channel {top_channel}": MetricFilter(start=today - dt.timedelta(days=args.days + 1),
                                                            end=today, channel=top_channel),
        # an RFM segment on every page (the customers of the kept scores' largest segment is costliest)
        "30 days, segment Champions": MetricFilter(start=today - dt.timedelta(days=29), end=today,
                                                   segment="Champions"),
        "all history, segment Champions": MetricFilter(start=today - dt.timedelta(days=args.days + 1), end=today,
                                                       segment="Champions"),
    }
    some_customer = Session.objects.values_list("customer_id", flat=True).first()
    results: dict = {"rows": {m.__name__: m.objects.count() for m in (
        EventHourly, EventDaily, SessionHourly, SessionDaily, ProductDaily, CustomerDaily, Session,
        CohortMonthly, BuyerOrders, OrderGap, ProductPairDaily, TrafficDaily)}}
    from insights.selectors.cohorts import cohort_filter

    popular = (ProductPairDaily.objects.filter(kind="o").exclude(product_a=0).order_by("-baskets")
               .values_list("product_a", flat=True).first())
    results["kept_ms"] = _kept_refresh_ms(args.reps)
    sel: dict = {}
    for label, f in filters.items():
        calls = {
            "kpis_stats": lambda f=f: selectors.kpis_stats(f),
            "events_timeseries": lambda f=f: selectors.events_timeseries(f),
            "funnel_stats": lambda f=f: selectors.funnel_stats(f),
            "funnel_stats(age_group)": lambda f=f: selectors.funnel_stats(f, breakdown="age_group"),
            "seasonality_stats": lambda f=f: selectors.seasonality_stats(f),
            "customers_stats": lambda f=f: selectors.customers_stats(f),
            "products_stats": lambda f=f: selectors.products_stats(f),
            "carts_stats": lambda f=f: selectors.carts_stats(f),
            "insights_list": lambda f=f: sentences.insights_list(f),
            # the cohorts page (its default: the last 12 months when no dates are given) and affinity
            "cohorts_stats": lambda f=f, label=label: selectors.cohorts_stats(
                f if label != "30 days" else cohort_filter(f, {})),
            "affinity_stats": lambda f=f: selectors.affinity_stats(f),
            "affinity_stats(product)": lambda f=f: selectors.affinity_stats(f, product_pk=popular),
            "acquisition_stats": lambda f=f: selectors.acquisition_stats(f),
        }
        if label == "30 days":
            calls["customer_detail"] = lambda: selectors.customer_detail(some_customer)
            calls["events_latest"] = lambda: selectors.events_latest(20)
            calls["filter_choices"] = selectors.filter_choices
            champions = MetricFilter(start=f.start, end=f.end, segment="Champions")
            calls["kpis_stats(segment)"] = lambda champions=champions: selectors.kpis_stats(champions)
            calls["cohorts_stats(segment)"] = lambda champions=champions: selectors.cohorts_stats(champions)
            email = MetricFilter(start=f.start, end=f.end, channel="Email")
            calls["acquisition_stats(channel)"] = lambda email=email: selectors.acquisition_stats(email)
        sel[label] = {name: median_ms(fn, args.reps) for name, fn in calls.items()}
    results["selectors_ms"] = sel
    user = User.objects.filter(username="bench-analyst").first() or user_create(
        username="bench-analyst", password="bench-Secret-123", role=Role.ANALYST)
    client = Client()
    client.force_login(user)
    api: dict = {}
    for panel in PANELS:
        url = f"/api/v1/metrics/{panel}"

        def get(url: str = url) -> None:
            response = client.get(url)
            assert response.status_code == 200, response.content[:200]

        api[panel] = median_ms(get, args.reps)
    results["api_ms"] = api
    return results


def _kept_refresh_ms(reps: int) -> dict:
    """The refresh of the kept RFM scores over every buyer (``insights.rfm_store``), where the code has one."""
    try:
        from insights.rfm_store import rfm_refresh
    except ImportError:
        return {}
    from bench.support import median_ms

    return {"rfm_refresh": median_ms(rfm_refresh, max(3, reps // 3))}


def step_web_rss(args: argparse.Namespace) -> dict:
    """A fresh process that answers every panel once: its peak RSS is what a web process needs."""
    import resource

    _setup()
    from django.test import Client

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username="bench-analyst"))
    for panel in PANELS:
        for _ in range(3):
            assert client.get(f"/api/v1/metrics/{panel}").status_code == 200
    return {"web_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def step_pandas(args: argparse.Namespace) -> dict:
    """The original system's refresh: every event into a DataFrame, then the KPIs in pandas."""
    import resource

    import pandas as pd
    import psycopg2

    t = time.perf_counter()
    with psycopg2.connect(os.environ["DATABASE_URL"]) as conn:
        df = pd.read_sql("SELECT * FROM events_event", conn)
    load = time.perf_counter() - t
    purchases = df[df["action"] == "purchase"]
    _ = (purchases["price"].astype(float) * purchases["quantity"]).sum(), df["customer_id"].nunique()
    total = time.perf_counter() - t
    return {"pandas_load_s": load, "pandas_total_s": total,
            "pandas_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "pandas_rows": len(df)}


STEPS = {"load": step_load, "measure": step_measure, "web_rss": step_web_rss, "pandas": step_pandas}


# --- driver ------------------------------------------------------------------------------------


def run_step(step: str, size: int, args: argparse.Namespace) -> dict:
    db_url = f"{args.pg}/{args.db_prefix}_{size}"
    cmd = [PY, __file__, "--step", step, "--size", str(size), "--days", str(args.days),
           "--customers", str(args.customers), "--reps", str(args.reps)] + (["--reuse"] if args.reuse else []) + (
               ["--profile-tail"] if args.profile_tail else [])
    proc = subprocess.run(cmd, env=_env(db_url), stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.support import bench_database, sizes_parser

    parser = sizes_parser(__doc__)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--reuse", action="store_true",
                        help="keep an existing metrics_bench_<size> database and the events in it")
    parser.add_argument("--db-prefix", default="metrics_bench", help="databases are <prefix>_<size>")
    parser.add_argument("--steps", default="load,measure,web_rss,pandas",
                        help="the steps to run, comma-separated (measure alone: an existing, derived database)")
    parser.add_argument("--profile-tail", action="store_true",
                        help="load: print the live tail's derivation time per SQL statement kind")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](args)))
        return
    report: dict = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        bench_database(f"{args.pg}/{args.db_prefix}_{size}", recreate=not args.reuse)
        r: dict = {}
        for step in args.steps.split(","):
            print(f"[{size:,}] {step} …", file=sys.stderr, flush=True)
            r.update(run_step(step, size, args))
        report[size] = r
        print_size(size, r)
    sizes = sorted(report)
    if len(sizes) > 1:
        print_ratio(report[sizes[0]], report[sizes[-1]], sizes[0], sizes[-1])
    out = ROOT / ".local" / "bench-metrics.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({str(k): v for k, v in report.items()}, indent=2))
    print(f"\nwritten to {out}")
    print("databases are kept as metrics_bench_<size> (reuse them with --reuse, or drop them)", file=sys.stderr)


def print_size(size: int, r: dict) -> None:
    print(f"\n=== {r.get('events', size):,} events ({size:,} requested) ===")
    if "rebuild_s" in r:
        print(f"simulated history + COPY: {r['generate_copy_s']:.1f} s; rebuild_rollups over "
              f"{r['rebuild_events']:,} events: {r['rebuild_s']:.1f} s "
              f"({r['rebuild_events'] / r['rebuild_s']:,.0f} ev/s)")
        print(f"last {r['ingest_tail_events']:,} events through events_ingest (5,000 a batch, with the metrics hook): "
              f"{r['ingest_tail_s']:.1f} s ({r['ingest_tail_events'] / r['ingest_tail_s']:,.0f} ev/s); "
              f"their queued session derivation: {r['derive_tail_s']:.1f} s "
              f"({r['ingest_tail_events'] / max(r['derive_tail_s'], 1e-9):,.0f} ev/s)")
    if "rows" in r:
        print("rollup rows: " + ", ".join(f"{k} {v:,}" for k, v in r["rows"].items()))
    pandas_ms = r["pandas_total_s"] * 1000 if "pandas_total_s" in r else None
    if pandas_ms is not None:
        print(f"baseline, all events into pandas: {pandas_ms:,.0f} ms, {r['pandas_rss_mb']:,.0f} MB RSS")
    for name, ms in r.get("kept_ms", {}).items():
        print(f"kept figures: {name} {ms:.1f} ms")
    for label, rows in r.get("selectors_ms", {}).items():
        print(f"-- selectors, {label} (median ms)")
        for name, ms in rows.items():
            flag = "" if ms <= 50 else "  > 50 ms"
            than = f"   ({pandas_ms / ms:,.0f}× faster than pandas)" if pandas_ms else ""
            print(f"   {name:28s} {ms:8.1f}{than}{flag}")
    if "api_ms" in r:
        print("-- /api/v1/metrics/<panel> (median ms, 30 days)")
        for name, ms in r["api_ms"].items():
            print(f"   {name:28s} {ms:8.1f}")
    if "web_rss_mb" in r:
        print(f"web process peak RSS: {r['web_rss_mb']:.0f} MB")


def print_ratio(a: dict, b: dict, sa: int, sb: int) -> None:
    print(f"\n=== {sb:,} vs {sa:,} events (ratio; target ≤ 2×) ===")
    worst = 0.0
    for label in a["selectors_ms"]:
        for name, ms in a["selectors_ms"][label].items():
            ratio = b["selectors_ms"][label][name] / ms
            worst = max(worst, ratio)
            print(f"   {label:18s} {name:28s} {ms:7.1f} → {b['selectors_ms'][label][name]:7.1f} ms  {ratio:4.2f}×")
    for name, ms in a["api_ms"].items():
        ratio = b["api_ms"][name] / ms
        worst = max(worst, ratio)
        print(f"   api {name:41s} {ms:7.1f} → {b['api_ms'][name]:7.1f} ms  {ratio:4.2f}×")
    print(f"worst ratio {worst:.2f}×; web RSS {a['web_rss_mb']:.0f} → {b['web_rss_mb']:.0f} MB; "
          f"pandas {a['pandas_total_s']:.1f} → {b['pandas_total_s']:.1f} s, "
          f"{a['pandas_rss_mb']:.0f} → {b['pandas_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
