"""Benchmark: every dashboard page's full response time at 1M and 5M events on PostgreSQL, and
event committed → pushed to an open /ws/dashboard/ socket (docs/benchmarks.md: page ≤ 300 ms median at 5M,
flat as events grow; push ≤ 1 s).

    .venv/bin/python bench/pages.py [--sizes 1000000,5000000] [--requests 15] [--keep] [--days 180]

Uses its own database (``bench_pages`` on the local PostgreSQL, dropped and created unless --keep;
override with BENCH_DATABASE_URL), Redis db 4 (override with BENCH_REDIS_URL) and its own
LOCAL_DIR. Events come from the simulator's backfill (the same path as ``manage.py simulate
--backfill``), grown to each size in turn. Pages are fetched over HTTP from a real daphne process
as a signed-in analyst (full response: selectors + charts + template). The baseline measured in the
same run is /healthz on the same server (the floor of a round trip); each page is printed with its
median, p95, the ratio to that floor and the 5M/1M ratio.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["/", "/funnel/", "/funnel/?breakdown=age_group", "/seasonality/", "/customers/", "/products/",
         "/carts/", "/insights/", "/explorer/"]
PASSWORD = "bench-Secret-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _grow_to(target: int, *, days: float, customers: int, step_seed: int) -> None:
    from tqdm import tqdm

    from events.models import Event
    from events.simulation import simulator_backfill
    from insights.services import analytics_process_pending, sessions_close_idle

    have = Event.objects.count()
    if have >= target:
        print(f"events: {have:,} already (target {target:,})")
        return
    missing = target - have
    t0 = time.perf_counter()
    with tqdm(total=missing, unit="ev", unit_scale=True, desc=f"backfill to {target:,}", disable=None) as bar:
        result = simulator_backfill(days=days, customers=customers, events=missing, seed=step_seed,
                                    progress=bar.update)
    analytics_process_pending(max_rows=1_000_000)
    sessions_close_idle()
    # What autovacuum does soon after a bulk load: statistics, and the visibility map that lets the
    # KPI's distinct-customer counts be index-only scans. Without it the first minutes after
    # loading millions of events measure heap fetches, not the steady state.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"backfill: +{result.events:,} events in {time.perf_counter() - t0:.1f} s "
          f"(now {Event.objects.count():,})")


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(env["LOCAL_DIR"]) / "daphne.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             "analytics_site.asgi:application"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("daphne did not start; see " + self.log.name) from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _session(base: str) -> tuple[urllib.request.OpenerDirector, str]:
    """Sign in through the login form; returns an opener with the session cookie and the cookie header."""
    import re

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    data = urllib.parse.urlencode({"username": "bench-analyst", "password": PASSWORD,
                                   "csrfmiddlewaretoken": token, "next": "/healthz"}).encode()
    opener.open(urllib.request.Request(base + "/accounts/login/", data=data, headers={"Referer": base + "/"}))
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    assert "sessionid=" in cookies, "login failed"
    return opener, cookies


def _time(opener, url: str, n: int) -> list[float]:
    for _ in range(2):  # warm-up
        opener.open(url).read()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        with opener.open(url) as r:
            r.read()
            assert r.status == 200
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


async def _push_latency(base: str, cookies: str, secret: str, rounds: int) -> list[float]:
    import websockets
    from django.utils import timezone

    ws_url = base.replace("http://", "ws://") + "/ws/dashboard/"
    out = []
    async with websockets.connect(ws_url, additional_headers={"Cookie": cookies, "Origin": base}) as ws:
        await ws.recv()  # hello
        for i in range(rounds):
            await asyncio.sleep(0.6)  # past the coalescing window, so each round is one fresh push
            while True:  # drain
                try:
                    await asyncio.wait_for(ws.recv(), 0.05)
                except TimeoutError:
                    break
            body = json.dumps({"events": [{
                "event_id": f"bench-push-{time.time_ns()}-{i}", "customer_id": "1", "session_id": f"bench-{i}",
                "action": "view", "product_id": "1", "product_price": 10.0, "quantity": 1,
                "timestamp": timezone.now().isoformat()}]}).encode()
            request = urllib.request.Request(base + "/api/v1/events", data=body, method="POST", headers={
                "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(None, lambda r=request: urllib.request.urlopen(r, timeout=10).read())
            committed = time.perf_counter()  # the ack is sent after the commit
            assert json.loads(response)["accepted"] == 1
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if message.get("type") == "update":
                    out.append((time.perf_counter() - committed) * 1000)
                    break
    return out


def main() -> None:
    from bench.support import bench_database, sizes_parser

    parser = sizes_parser(__doc__)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--days", type=float, default=180)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--push-rounds", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="reuse the bench database (grow it, don't drop it)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_pages")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
    local_dir = ROOT / ".local" / "bench-pages"
    local_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(DATABASE_URL=url, REDIS_URL=redis_url, TESTING="1", LOCAL_DIR=str(local_dir),
                      DJANGO_SETTINGS_MODULE="analytics_site.settings", LOG_LEVEL="WARNING")
    bench_database(url, recreate=not args.keep)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import user_create
    from events.models import IngestKey
    from events.services import ingest_key_create, ingest_key_rotate

    if not User.objects.filter(username="bench-analyst").exists():
        user_create(username="bench-analyst", password=PASSWORD, role=Role.ANALYST)
    existing = IngestKey.objects.filter(name="bench pages").first()  # --keep: a database used before
    _key, secret = ingest_key_rotate(key=existing) if existing else ingest_key_create(name="bench pages")

    results: dict[int, dict[str, list[float]]] = {}
    push: dict[int, list[float]] = {}
    for i, size in enumerate(sizes):
        _grow_to(size, days=args.days, customers=args.customers, step_seed=1000 + i)
        from django.db import connections

        connections.close_all()
        server = Server(dict(os.environ))
        try:
            opener, cookies = _session(server.base)
            timings = {"/healthz (baseline)": _time(opener, server.base + "/healthz", args.requests)}
            for path in PAGES:
                timings[path] = _time(opener, server.base + path, args.requests)
                print(f"  {size:>10,}  {path:32} median {statistics.median(timings[path]):7.1f} ms", flush=True)
            results[size] = timings
            push[size] = asyncio.run(_push_latency(server.base, cookies, secret, args.push_rounds))
        finally:
            server.stop()

    base_size = sizes[0]
    print()
    print(f"{'page':34}" + "".join(f"{f'{s:,} median':>16}{'p95':>8}" for s in sizes)
          + (f"{'ratio':>8}" if len(sizes) > 1 else "") + f"{'× floor':>9}")
    for path in results[base_size]:
        row = f"{path:34}"
        for s in sizes:
            row += f"{statistics.median(results[s][path]):13.1f} ms{_p95(results[s][path]):6.0f}  "
        if len(sizes) > 1:
            row += f"{statistics.median(results[sizes[-1]][path]) / statistics.median(results[base_size][path]):7.2f}×"
        floor = statistics.median(results[sizes[-1]]["/healthz (baseline)"])
        row += f"{statistics.median(results[sizes[-1]][path]) / floor:8.1f}×"
        print(row)
    for s in sizes:
        print(f"event committed → pushed to /ws/dashboard/ at {s:,} events: median "
              f"{statistics.median(push[s]):.0f} ms, max {max(push[s]):.0f} ms over {len(push[s])} events")
    worst = max(statistics.median(results[sizes[-1]][p]) for p in PAGES)
    print(f"slowest page median at {sizes[-1]:,}: {worst:.0f} ms (target ≤ 300 ms)")


if __name__ == "__main__":
    main()
