"""Webhook bench (docs/benchmarks.md): a signed Shopify orders/create of 1,000 lines, end to end.

Through Django's test client in this process (the whole request: middleware, HMAC over the raw
body, JSON, translation, customer traits, the ingest service's bulk path with the metrics hook,
the delivery record), on PostgreSQL by default. Each run is a new order (all lines new); then the
same order sent again under a new delivery id (all duplicates) and a redelivery (same delivery id).
Prints the body size and the median / max milliseconds. Target: well under a second (Shopify
waits 5 s).

    .venv/bin/python bench/webhooks.py [--pg postgres://postgres@127.0.0.1:5432/h_hooks] [--sqlite] [--runs 15]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "events" / "fixtures" / "webhooks" / "shopify_orders_create.json"
SECRET = "bench-secret"


def _setup(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    import tempfile

    # A fresh LOCAL_DIR each run (the SQLite database lives there).
    os.environ.update(DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1",
                      LOCAL_DIR=tempfile.mkdtemp(prefix="bench-webhooks-", dir=ROOT / ".local"))
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
    call_command("import_rates", "--sample", stdout=open(os.devnull, "w"))  # the fixture is priced in CAD


def order_of(n_lines: int, order_id: int) -> bytes:
    """The documented order shape with ``n_lines`` lines over 200 products."""
    order = json.loads(FIXTURE.read_text())
    template = order["line_items"][0]
    order["id"] = order_id
    order["line_items"] = []
    for i in range(n_lines):
        line = copy.deepcopy(template)
        line.update(id=order_id * 10_000 + i, product_id=1000 + i % 200, variant_id=5000 + i, quantity=1 + i % 3)
        order["line_items"].append(line)
    return json.dumps(order).encode()


def small_order_of(n_lines: int, order_id: int) -> bytes:
    """An order of ``n_lines`` minimal lines (id, quantity, price): the most lines under the body limit."""
    order = json.loads(FIXTURE.read_text())
    order["id"] = order_id
    order["line_items"] = [{"id": i + 1, "quantity": 1, "price": "1"} for i in range(n_lines)]
    return json.dumps(order, separators=(",", ":")).encode()


def post(client, raw: bytes, delivery: str) -> tuple[float, dict]:
    from events.connections.signing import signature_of

    started = time.perf_counter()
    response = client.post("/webhooks/shopify/bench/", data=raw, content_type="application/json",
                           HTTP_X_SHOPIFY_TOPIC="orders/create", HTTP_X_SHOPIFY_WEBHOOK_ID=delivery,
                           HTTP_X_SHOPIFY_HMAC_SHA256=signature_of(raw, SECRET))
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.content[:300]
    return elapsed, response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/h_hooks")
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite database instead")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--over-cap", type=int, default=150_000, help="lines of an order refused with 413")
    args = parser.parse_args()
    _setup(args)
    from django.test import Client

    from events.connections.services import connection_create

    connection_create(platform="shopify", slug="bench", secret=SECRET)
    client = Client()
    post(client, order_of(args.lines, 1), "warm-up")  # creates the products; first-request costs
    new, again, redelivered = [], [], []
    for run in range(args.runs):
        raw = order_of(args.lines, 100 + run)
        ms, ack = post(client, raw, f"new-{run}")
        assert ack["accepted"] == args.lines, ack
        new.append(ms)
        ms, ack = post(client, raw, f"paid-{run}")
        assert ack["duplicates"] == args.lines, ack
        again.append(ms)
        ms, ack = post(client, raw, f"paid-{run}")
        assert ack["status"] == "duplicate", ack
        redelivered.append(ms)
    over = small_order_of(args.over_cap, 99)
    started = time.perf_counter()
    refused = client.post("/webhooks/shopify/bench/", data=over, content_type="application/json",
                          HTTP_X_SHOPIFY_TOPIC="orders/create", HTTP_X_SHOPIFY_WEBHOOK_ID="over",
                          HTTP_X_SHOPIFY_HMAC_SHA256=_signature(over))
    over_ms = (time.perf_counter() - started) * 1000
    assert refused.status_code == 413 and refused.json()["code"] == "too_many_lines", refused.content[:300]
    db = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"Shopify orders/create, {args.lines} lines, {len(order_of(args.lines, 1)) / 1e6:.2f} MB body, {db}, "
          f"{args.runs} runs")
    for label, values in (("new order (all lines stored)", new), ("same order, new delivery id (duplicates)", again),
                          ("redelivery (same delivery id)", redelivered)):
        print(f"  {label:45s} median {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms")
    print(f"  {args.over_cap} lines ({len(over) / 1e6:.1f} MB), over WEBHOOK_MAX_LINES: 413 in {over_ms:.0f} ms")


def _signature(raw: bytes) -> str:
    from events.connections.signing import signature_of

    return signature_of(raw, SECRET)


if __name__ == "__main__":
    main()
