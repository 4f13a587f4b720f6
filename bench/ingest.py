"""Ingest benchmark (docs/benchmarks.md): WebSocket ingest against a real daphne on PostgreSQL.

Creates its own database, migrates it, starts daphne on a free port with its own LOCAL_DIR, then:
  (a) 200,000 events in messages of 100, up to 50 messages in flight;
  (b) 20,000 events one per message, up to 200 in flight (group commit);
  (c) the ingest service in-process, 5,000-event batches (what the simulator's backfill uses);
  baseline: one INSERT + commit per event with psycopg2 on the same table.
Every ack is awaited and row counts are checked. Prints events/s and ratios to the baseline.

    .venv/bin/python bench/ingest.py [--pg postgres://postgres@127.0.0.1:5432] [--quick] [--service-only]

Targets: (a) >= 50,000 events/s, (b) >= 4,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
from tqdm import tqdm
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_events(n: int, prefix: str) -> list[dict]:
    rng = random.Random(prefix)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    actions = ["view"] * 6 + ["add_to_cart"] * 2 + ["checkout", "purchase"]
    return [{"event_id": f"{prefix}-{uuid.uuid4()}", "customer_id": str(rng.randint(1, 5000)),
             "session_id": f"s-{i // 8}", "action": rng.choice(actions), "product_id": str(rng.randint(1, 48)),
             "quantity": 1, "product_price": rng.choice([9.99, 19.5, 109.95, 7.95]),
             "timestamp": (start + timedelta(seconds=i)).isoformat()} for i in range(n)]


async def ws_stream(url: str, secret: str, payloads: list[str], window: int, events_per_message: int,
                    desc: str) -> float:
    """Send every payload with at most ``window`` unacknowledged; wait for every ack."""
    accepted = 0
    window_sem = asyncio.Semaphore(window)
    async with connect(url, max_size=None, compression=None,
                       additional_headers={"Authorization": f"Bearer {secret}"}) as ws:
        bar = tqdm(total=len(payloads) * events_per_message, desc=desc, unit="ev", unit_scale=True,
                   disable=None, leave=False)
        started = time.perf_counter()

        async def sender():
            for payload in payloads:
                await window_sem.acquire()
                await ws.send(payload)

        async def receiver():
            nonlocal accepted
            for _ in payloads:
                reply = json.loads(await ws.recv())
                if reply.get("type") != "ack":
                    raise RuntimeError(f"not an ack: {reply}")
                accepted += reply["accepted"]
                bar.update(reply["accepted"])
                window_sem.release()

        await asyncio.gather(sender(), receiver())
        elapsed = time.perf_counter() - started
        bar.close()
    expected = len(payloads) * events_per_message
    if accepted != expected:
        raise RuntimeError(f"{desc}: {accepted} accepted, expected {expected}")
    return elapsed


def count_rows(dsn: str, prefix: str) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM events_event WHERE event_id LIKE %s", [prefix + "-%"])
        return cur.fetchone()[0]


def baseline(dsn: str, n: int) -> float:
    """One INSERT + commit per event, psycopg2, same table and indexes."""
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute("SELECT min(id) FROM customers_customer")
    customer = cur.fetchone()[0]
    cur.execute("SELECT min(id) FROM products_product")
    product = cur.fetchone()[0]
    conn.commit()
    rows = make_events(n, "base")
    started = time.perf_counter()
    for e in tqdm(rows, desc="baseline", unit="ev", disable=None, leave=False):
        cur.execute(
            "INSERT INTO events_event (event_id, customer_id, product_id, session_id, action, quantity, price,"
            " order_id, timestamp, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, %s, now())",
            [e["event_id"], customer, product, e["session_id"], e["action"], 1, e["product_price"], e["timestamp"]])
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    if count_rows(dsn, "base") != n:
        raise RuntimeError("baseline row count mismatch")
    return n / elapsed


class Server:
    def __init__(self, env: dict[str, str], port: int):
        self.port = port
        self.log = open(Path(env["LOCAL_DIR"]) / "daphne.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                      "analytics_site.asgi:application"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("daphne did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def service_throughput(env: dict[str, str], n: int, batch: int) -> float:
    """The ingest service in a child process (its own Django setup on the bench database)."""
    code = f"""
import time, django, json, sys
sys.path.insert(0, {str(ROOT)!r})
django.setup()
sys.path.insert(0, {str(ROOT / 'bench')!r})
from ingest import make_events
from events.services import events_ingest
events = make_events({n}, "svc")
t = time.perf_counter()
stored = 0
for i in range(0, len(events), {batch}):
    stored += events_ingest(raw_events=events[i:i + {batch}], broadcast=False).accepted
el = time.perf_counter() - t
assert stored == {n}, stored
print(json.dumps({{"rate": {n} / el}}))
"""
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["rate"]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server URL (without database)")
    parser.add_argument("--database", default="bench_ingest", help="database to (re)create (default bench_ingest)")
    parser.add_argument("--redis-url", default=None, help="channel layer for daphne (default: in-memory)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes (for development)")
    parser.add_argument("--baseline-events", type=int, default=3000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--service-only", action="store_true", help="only (c), the ingest service in-process")
    return parser.parse_args()


def _admin(admin_dsn: str, *statements: str) -> None:
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def _environment(dsn: str, redis_url: str | None) -> dict[str, str]:
    """A migrated database with an ingest key "bench"; the environment to run the site on it."""
    local_dir = ROOT / ".local" / "bench-ingest"
    shutil.rmtree(local_dir, ignore_errors=True)
    local_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SQLITE_PATH")}
    env.update(DATABASE_URL=dsn, LOCAL_DIR=str(local_dir), DJANGO_SETTINGS_MODULE="analytics_site.settings",
               SECRET_KEY="bench-" + uuid.uuid4().hex + uuid.uuid4().hex, DEBUG="0", LOG_LEVEL="WARNING")
    if redis_url:
        env["REDIS_URL"] = redis_url
    print(f"database {dsn.rsplit('/', 1)[1]}: migrating…", flush=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return env


def websocket_rates(env: dict[str, str], dsn: str, n_a: int, n_b: int) -> tuple[float, float]:
    """(a) and (b) against a daphne started for them; rows counted afterwards."""
    secret = subprocess.run([PYTHON, "manage.py", "create_ingest_key", "bench", "--quiet"], cwd=ROOT, env=env,
                            check=True, capture_output=True, text=True).stdout.strip()
    events_a = make_events(n_a, "a")
    payloads_a = [json.dumps({"events": events_a[i:i + 100]}) for i in range(0, n_a, 100)]
    payloads_b = [json.dumps(e) for e in make_events(n_b, "b")]
    del events_a
    server = Server(env, free_port())
    try:
        url = f"ws://127.0.0.1:{server.port}/ws/events/"
        # Warm-up: creates the customers, opens the server's database connection.
        asyncio.run(ws_stream(url, secret, [json.dumps({"events": make_events(5000, "warm")[i:i + 100]})
                                            for i in range(0, 5000, 100)], 50, 100, "warm-up"))
        t_a = asyncio.run(ws_stream(url, secret, payloads_a, 50, 100, "(a) batches"))
        t_b = asyncio.run(ws_stream(url, secret, payloads_b, 200, 1, "(b) singles"))
    finally:
        server.stop()
    for prefix, n in (("a", n_a), ("b", n_b)):
        if count_rows(dsn, prefix) != n:
            raise SystemExit(f"row count mismatch for ({prefix})")
    return n_a / t_a, n_b / t_b


def main() -> None:
    args = _arguments()
    scale = 10 if args.quick else 1
    n_a, n_b, n_svc = 200_000 // scale, 20_000 // scale, 100_000 // scale
    admin_dsn = f"{args.pg.rstrip('/')}/postgres"
    dsn = f"{args.pg.rstrip('/')}/{args.database}"
    _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{args.database}"', f'CREATE DATABASE "{args.database}"')
    env = _environment(dsn, args.redis_url)
    rows: list[tuple[str, float]] = []
    if not args.service_only:
        rate_a, rate_b = websocket_rates(env, dsn, n_a, n_b)
        rows += [(f"(a) WebSocket, {n_a:,} events, 100/message, 50 in flight", rate_a),
                 (f"(b) WebSocket, {n_b:,} events, 1/message, 200 in flight", rate_b)]
    rows.append((f"(c) events_ingest in-process, {n_svc:,} events, 5,000/batch", service_throughput(env, n_svc, 5000)))
    rate_base = baseline(dsn, args.baseline_events)

    print()
    print(f"{'measure':<58}{'events/s':>12}{'× baseline':>12}")
    for label, rate in [("baseline: one INSERT + commit per event (psycopg2)", rate_base), *rows]:
        print(f"{label:<58}{rate:>12,.0f}{rate / rate_base:>11.1f}×")
    if not args.service_only:
        print(f"targets: (a) >= 50,000/s {'met' if rate_a >= 50_000 else 'NOT met'}; "
              f"(b) >= 4,000/s {'met' if rate_b >= 4_000 else 'NOT met'}. Rows checked: {n_a + n_b:,}.")
    if not args.keep:
        _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{args.database}"')


if __name__ == "__main__":
    main()
