"""Product affinity at 1M order lines (docs/metrics.md), on PostgreSQL.

In its own database (``<prefix>_<lines>``): synthetic purchase lines (orders of 1–6 products drawn
with a skewed popularity from ``--products`` products over ``--days`` days) are written to the event
table with COPY, and their baskets to the pair rollup with the same contribution code the derivation
uses (``insights.contributions.add_basket_contributions``). Then, for the last 30, 90 and 365 days:
  - ``affinity_stats`` (both kinds, top pairs by lift, the pair rollup),
  - ``affinity_stats(product)`` (one product's pairs),
  - the alternative: a SQL self-join of order lines (pairs of lines of one order) grouped by pair.

    .venv/bin/python bench/affinity.py                           # 1M order lines
    .venv/bin/python bench/affinity.py --sizes 200000 --reuse    # a quick look, keep the database
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _load(args: argparse.Namespace) -> dict:
    import datetime as dt
    from io import StringIO

    from django.db import connection, transaction

    from customers.models import Customer
    from events.models import Event
    from insights.contributions import add_basket_contributions, new_contributions
    from insights.filters import store_today
    from insights.models import ProductPairDaily
    from insights.rollup_store import rollups_add
    from products.models import Product

    if Event.objects.filter(action="purchase").count() >= args.size * 0.9:
        return {"loaded": False}
    rng = random.Random(14)
    products = Product.objects.bulk_create([Product(external_id=f"bp{i}", title=f"Product {i}", category=f"c{i % 12}",
                                                    price=10 + i % 90) for i in range(args.products)])
    customers = Customer.objects.bulk_create([Customer(external_id=f"bc{i}") for i in range(args.customers)])
    pks = [p.pk for p in products]
    weights = [1 / (i + 1) ** 0.8 for i in range(len(pks))]  # a few products sell most
    today = store_today()
    contributions = new_contributions()
    lines = orders = 0
    t = time.perf_counter()
    while lines < args.size:
        buf = StringIO()
        for _ in range(10_000):
            day = today - dt.timedelta(days=rng.randrange(args.days))
            basket = set(rng.choices(pks, weights, k=rng.choice((1, 1, 2, 2, 3, 4, 6))))
            orders += 1
            customer = customers[rng.randrange(len(customers))].pk
            at = f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00+00"
            for i, p in enumerate(basket):
                buf.write(f"bo{orders}-{i}\t{customer}\t{p}\ts{orders}\tpurchase\t1\t10.00\tbo{orders}\t{at}\t{at}\n")
                lines += 1
            add_basket_contributions(contributions, "o", day, basket, 1)
        buf.seek(0)
        with transaction.atomic(), connection.cursor() as cur:
            cur.copy_expert("COPY events_event (event_id, customer_id, product_id, session_id, action, quantity, "
                            "price, order_id, timestamp, received_at) FROM STDIN", buf)
    with transaction.atomic():
        rollups_add(contributions)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {"loaded": True, "load_s": time.perf_counter() - t, "orders": orders,
            "pair_rows": ProductPairDaily.objects.count()}


SELF_JOIN = """
SELECT a.product_id, b.product_id, COUNT(*) FROM events_event a
JOIN events_event b ON b.order_id = a.order_id AND b.customer_id = a.customer_id AND b.product_id > a.product_id
                   AND b.action = 'purchase'
WHERE a.action = 'purchase' AND a.timestamp >= %s AND a.timestamp < %s
GROUP BY 1, 2 HAVING COUNT(*) >= %s
"""


def step_run(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection

    from bench.support import median_ms
    from events.models import Event
    from insights.filters import MetricFilter, store_today
    from insights.models import ProductPairDaily
    from insights.selectors import affinity_stats

    call_command("migrate", verbosity=0)
    out = _load(args)
    out["order_lines"] = Event.objects.filter(action="purchase").count()
    out["pair_rows"] = ProductPairDaily.objects.count()
    popular = (ProductPairDaily.objects.filter(kind="o").exclude(product_a=0).order_by("-baskets")
               .values_list("product_a", flat=True).first())
    today = store_today()
    timings: dict = {}
    for days in (30, 90, 365):
        f = MetricFilter(start=today - dt.timedelta(days=days - 1), end=today)
        lo, hi = f.utc_bounds()

        def join(lo: dt.datetime | None = lo, hi: dt.datetime | None = hi) -> None:
            with connection.cursor() as cur:
                cur.execute(SELF_JOIN, [lo, hi, 5])
                cur.fetchall()

        timings[f"{days} days"] = {
            "affinity_stats": median_ms(lambda f=f: affinity_stats(f), args.reps),
            "affinity_stats(product)": median_ms(lambda f=f: affinity_stats(f, product_pk=popular), args.reps),
            "sql self-join (orders only)": median_ms(join, max(3, args.reps // 3)),
        }
    out["ms"] = timings
    return out


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.support import bench_database, sizes_parser

    parser = sizes_parser(__doc__, default_sizes="1000000")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db-prefix", default="affinity_bench", help="databases are <prefix>_<size>")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step_run(args)))
        return
    for size in [int(s) for s in args.sizes.split(",")]:
        url = f"{args.pg}/{args.db_prefix}_{size}"
        bench_database(url, recreate=not args.reuse)
        env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1",
                   PYTHONPATH=str(ROOT), LOCAL_DIR=str(ROOT / ".local" / "bench-affinity"))
        env.pop("REDIS_URL", None)
        cmd = [PY, __file__, "--step", "run", "--size", str(size), "--days", str(args.days), "--products",
               str(args.products), "--customers", str(args.customers), "--reps", str(args.reps)]
        r = json.loads(subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
                       .stdout.strip().splitlines()[-1])
        print(f"\n=== {r['order_lines']:,} order lines, {args.products} products, {args.days} days; "
              f"pair rollup rows {r['pair_rows']:,} ===")
        if r.get("loaded"):
            print(f"load (COPY + pair contributions): {r['load_s']:.1f} s, {r['orders']:,} orders")
        for label, rows in r["ms"].items():
            print(f"-- last {label} (median ms; target ≤ 200)")
            for name, ms in rows.items():
                print(f"   {name:30s} {ms:8.1f}{'  > 200 ms' if ms > 200 else ''}")


if __name__ == "__main__":
    main()
