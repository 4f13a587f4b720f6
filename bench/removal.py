"""Removing a source and moving a product's category, timed at volume on PostgreSQL.

A synthetic history through the ingest path: ``--events`` (default 200,000) over 60 days, 5,000
customers and 1,000 anonymous visitors, 200 products in 10 categories (a few popular). Each visit
mixes two sources, as a store's traffic does: a public key sends the browsing (page, views, cart,
checkout) and a secret key the store's server events (purchases, some refunds and cancels), so
removing the public key re-derives sessions that keep the server's events. Derived, then:

1. ``product_category_change`` of the most popular product: seconds (the derivation lock is held
   that long), events and sessions moved; the rollups compared with a rebuild (must be equal);
2. ``source_remove`` of the public key's source (most of the events): seconds, steps, events/s, and
   the longest step (the derivation lock is held during a step, ingest only in steps with orders);
3. the rollups compared with a rebuild from the events left (must be equal).

    .venv/bin/python bench/removal.py [--pg postgres://postgres@127.0.0.1:5432/removal_bench] [--events 200000]

Results also go to ``.local/bench-removal.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _setup(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.support import bench_database

    bench_database(args.pg, recreate=True)
    os.environ.update(DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1", DATABASE_URL=args.pg,
                      LOCAL_DIR=str(ROOT / ".local" / "bench-removal"))
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _visit(rng: random.Random, n: int, who: dict, at: dt.datetime) -> tuple[list[dict], list[dict]]:
    """One visit: the browser's events and the server's (a purchase, sometimes refunded or cancelled)."""
    weights = [1 / (1 + i) for i in range(200)]
    products = rng.choices(range(200), weights=weights, k=rng.randint(1, 4))
    browser, server = [], []
    t = at

    def add(out: list[dict], action: str, **more) -> None:
        nonlocal t
        t += dt.timedelta(seconds=rng.randint(5, 240))
        out.append({"event_id": f"{action[:2]}-{n}-{len(browser) + len(server)}", "action": action,
                    "timestamp": t.isoformat(), **who, **more})

    add(browser, "page", context={"page_url": "https://shop.example/?utm_source=news&utm_medium=email"})
    for p in products:
        add(browser, "view", product_id=f"bp{p}", product_price="25.00")
    if rng.random() < 0.5:
        add(browser, "add_to_cart", product_id=f"bp{products[0]}", product_price="25.00")
        if "customer_id" in who and rng.random() < 0.6:
            add(browser, "checkout")
            order = f"o-{n}"
            add(server, "purchase", product_id=f"bp{products[0]}", product_price="25.00", order_id=order,
                order={"discount": "2.50"} if rng.random() < 0.3 else None)
            if rng.random() < 0.05:
                add(server, "refund", product_id=f"bp{products[0]}", order_id=order, amount="10.00")
            elif rng.random() < 0.03:
                add(server, "cancel", order_id=order)
    for e in server:
        if e.get("order") is None:
            e.pop("order", None)
    return browser, server


def _history(total: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(7)
    browser: list[dict] = []
    server: list[dict] = []
    n = 0
    while len(browser) + len(server) < total:
        who = ({"customer_id": f"c{rng.randint(1, 5000)}"} if rng.random() < 0.8
               else {"anonymous_id": f"v{rng.randint(1, 1000)}"})
        at = START + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        b, s = _visit(rng, n, who, at)
        browser += b
        server += s
        n += 1
    return browser, server


def _ingest(events: list[dict], source) -> float:
    from events.services import events_ingest

    started = time.perf_counter()
    events.sort(key=lambda e: e["timestamp"])
    for i in range(0, len(events), 5000):
        events_ingest(raw_events=events[i:i + 5000], source=source, broadcast=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/removal_bench")
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    _setup(args)
    from events.models import Event, Source
    from events.services import ingest_key_create
    from events.services.sources import source_of_key
    from insights.rebuild import analytics_rebuild
    from insights.recategorise import product_category_change
    from insights.services import analytics_process_pending
    from insights.source_removal import RemovalStep, source_remove
    from products.models import Product
    from tests.insights.test_services import snapshot

    Product.objects.bulk_create([Product(external_id=f"bp{i}", title=f"Product {i}", category=f"cat{i % 10}")
                                 for i in range(200)])
    public = source_of_key(ingest_key_create(name="storefront", public=True, origins=["https://shop.example"])[0])
    server = source_of_key(ingest_key_create(name="backend")[0])
    browser_events, server_events = _history(args.events)
    out: dict = {"events": len(browser_events) + len(server_events), "public_key_events": len(browser_events)}
    out["ingest_s"] = round(_ingest(server_events, server) + _ingest(browser_events, public), 1)
    started = time.perf_counter()
    analytics_process_pending(max_rows=200)
    out["derive_s"] = round(time.perf_counter() - started, 1)
    popular = Product.objects.get(external_id="bp0")
    started = time.perf_counter()
    move = product_category_change(product_pk=popular.pk, category="moved")
    out["recategorise"] = {"events": move.events, "sessions": move.sessions,
                           "seconds": round(time.perf_counter() - started, 1)}
    incremental = snapshot()
    started = time.perf_counter()
    analytics_rebuild()
    out["rebuild_s"] = round(time.perf_counter() - started, 1)  # for scale: everything from scratch
    out["recategorise"]["equals_rebuild"] = snapshot() == incremental
    steps: list[float] = []
    last = [time.perf_counter()]

    def step_done(step: RemovalStep) -> None:
        now = time.perf_counter()
        steps.append(now - last[0])
        last[0] = now

    started = time.perf_counter()
    result = source_remove(source_pk=public.pk, progress=step_done)
    seconds = time.perf_counter() - started
    out["remove"] = {"events": result.events, "seconds": round(seconds, 1), "steps": result.steps,
                     "events_per_s": round(result.events / seconds), "longest_step_s": round(max(steps), 2),
                     "customers_deleted": result.customers_deleted}
    assert not Event.objects.filter(source_id=public.pk).exists() and Source.objects.get(pk=public.pk).removed_at
    analytics_process_pending(max_rows=200)
    incremental = snapshot()
    analytics_rebuild()
    out["remove"]["equals_rebuild"] = snapshot() == incremental
    print(json.dumps(out, indent=2))
    (ROOT / ".local" / "bench-removal.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
