"""End-to-end soak (docs/benchmarks.md#soak): the product run as docker-compose.yml runs it, natively,
fed over HTTP batches, printing every 10 s how far the derived figures lag behind what was acknowledged.

    .venv/bin/python bench/soak.py [--rate 10000] [--seconds 300] [--batch 500] [--connections 8] [--web 1]
    .venv/bin/python bench/soak.py --bulk 1000000 [--rate 50]     # live trickle during a bulk import

Makes its own PostgreSQL database (``--database soak_bench``, dropped and created) and uses Redis
(``--redis``, flushed: the channel layer and the Celery broker), migrates, makes a secret ingest key,
then starts ``--web`` daphne servers, one Celery worker (``--concurrency 2``) and one beat (the
database scheduler), each in a process group of its own (stopped on exit, Ctrl-C and errors too).

Events come from the simulator's model (``events.simulator.backfill``): rounds of 10 s of traffic, each
drawn as the shoppers' history over the 30 minutes before it (sessions, carts, checkouts, orders,
abandons, traffic sources), sent as ``POST /api/v1/events`` batches by ``--connections`` threads,
paced at ``--rate`` events/s (a connection sends as soon as it can when the server is behind).

Lag (the product's own freshness measure, ``insights.selectors.freshness.derivation_status``): the
age of the oldest queued ``PendingWindow``, sampled every second. Every event acknowledged before
``now - lag`` is in the derived figures (sessions, carts, orders, funnel, session rollups); event
counts and revenue are live at the ack. Caught up: the first sample at which no window queued before
the last acknowledgement (``--bulk``: before the import stored its last event) is left.

``--bulk N``: ``manage.py import_events`` of a CSV of N simulated events over a year (other customers
than the live ones), while the live trickle (``--rate``, default 50 events/s then) runs; reports the
live events' lag (the oldest queued window holding a live customer) during the import, and how long
after the import stored its last event everything was derived.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
REPORT_SECONDS = 10
ROUND_SECONDS = 10  # traffic drawn a round at a time
ROUND_HISTORY = timedelta(minutes=30)  # each round is the shoppers' history over the 30 minutes before it


# --- the arithmetic (pure: tests/test_bench_soak.py) ---------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


@dataclass(frozen=True)
class Sample:
    """One look at the derivation queue (wall-clock epoch seconds)."""

    at: float
    queued_events: int
    oldest: float | None  # when the oldest queued window was written; None: nothing queued
    live_oldest: float | None = None  # the same over the windows holding a live customer (--bulk)

    @property
    def lag(self) -> float:
        return 0.0 if self.oldest is None else max(0.0, self.at - self.oldest)

    @property
    def live_lag(self) -> float:
        return 0.0 if self.live_oldest is None else max(0.0, self.at - self.live_oldest)


def caught_up_after(samples: Sequence[Sample], since: float) -> float | None:
    """Seconds from ``since`` to the first sample at which nothing queued at or before ``since`` is
    left (empty queue, or its oldest window written later); None when that never happened."""
    for s in samples:
        if s.at >= since and (s.oldest is None or s.oldest > since):
            return s.at - since
    return None


def between(samples: Sequence[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.at < end]


@dataclass
class Requests:
    """Every answered request: (done at, seconds, events acknowledged, ok)."""

    done: list[tuple[float, float, int, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, at: float, seconds: float, acked: int, ok: bool) -> None:
        with self.lock:
            self.done.append((at, seconds, acked, ok))

    def window(self, start: float, end: float) -> tuple[int, int, list[float]]:
        """Events acknowledged, failed requests and latencies of the requests answered in [start, end)."""
        with self.lock:
            rows = [r for r in self.done if start <= r[0] < end]
        return sum(r[2] for r in rows), sum(1 for r in rows if not r[3]), [r[1] for r in rows]


def latency_text(latencies: Sequence[float]) -> str:
    ms = [x * 1000 for x in latencies]
    return (f"p50 {percentile(ms, 50):.0f} / p95 {percentile(ms, 95):.0f} / p99 {percentile(ms, 99):.0f} / "
            f"max {max(ms, default=0):.0f} ms")


def lag_text(lags: Sequence[float]) -> str:
    return f"p50 {percentile(lags, 50):.1f} / p95 {percentile(lags, 95):.1f} / max {max(lags, default=0):.1f} s"


# --- the product's processes -----------------------------------------------------------------------


def doing_text(monitor) -> str:
    """Where the database time went: per role, the samples its backends were busy, by what they did."""
    roles = sorted({role for role, _ in monitor.doing})
    parts = []
    for role in roles:
        kinds = sorted(((n, what) for (r, what), n in monitor.doing.items() if r == role), reverse=True)
        parts.append(f"{role}: " + ", ".join(f"{what} {n}" for n, what in kinds))
    waits = sorted(((n, what) for what, n in monitor.blocked.items()), reverse=True)[:12]
    return (f"database backends over {monitor.looks} one-second samples (busy samples by what they did; Lock = "
            f"waiting for another transaction): " + ("; ".join(parts) or "none busy")
            + "".join(f"\n    {n:>5} x {what}" for n, what in waits))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system) of every live process of the process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp … utime(12) stime(13)
            total += int(fields[11]) + int(fields[12])
    return total / tick


class Product:
    """daphne ×``web``, a Celery worker and beat, as docker-compose.yml starts them; stopped by ``stop``."""

    def __init__(self, env: dict[str, str], logs: Path, web: int):
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports = [free_port() for _ in range(web)]
        for i, port in enumerate(self.ports):
            self._start(f"web-{i}", [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                     "analytics_site.asgi:application"])
        self._start("worker", [PYTHON, "-m", "celery", "-A", "analytics_site", "worker", "--loglevel", "INFO",
                               "--concurrency", "2"])
        self._start("beat", [PYTHON, "-m", "celery", "-A", "analytics_site", "beat", "--loglevel", "INFO",
                             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"])
        for port in self.ports:
            self._wait_for(port)

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        env = {**self.env, "PGAPPNAME": f"soak-{name.split('-')[0]}", "LOG_FILE": str(self.logs / f"{name}.app.log")}
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def _wait_for(self, port: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited; see {self.logs / name}.log")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"daphne on {port} did not answer within 120 s")

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far by role (web, worker, beat)."""
        out: dict[str, float] = {}
        for name, proc in self.procs.items():
            role = name.split("-")[0]
            out[role] = out.get(role, 0.0) + group_cpu_seconds(proc.pid)
        return out

    def stop(self) -> None:
        """SIGTERM to every group, 15 s to stop, then SIGKILL to what is left (the worker's children too)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


# --- watching the derivation queue and the database --------------------------------------------

_QUEUE_SQL = """
SELECT extract(epoch FROM clock_timestamp()),
       coalesce(sum(events) FILTER (WHERE attempts = 0), 0),
       extract(epoch FROM min(created_at) FILTER (WHERE attempts = 0)),
       extract(epoch FROM min(created_at) FILTER (WHERE attempts = 0 AND windows ?| %s::text[]))
FROM insights_pendingwindow"""
_ACTIVITY_SQL = r"""
SELECT a.pid, a.application_name, a.state, a.wait_event_type,
       CASE WHEN a.wait_event_type = 'Lock' THEN
         (SELECT string_agg(DISTINCT b.application_name, '+') FROM pg_stat_activity b
          WHERE b.pid = ANY(pg_blocking_pids(a.pid))) || ': ' || left(regexp_replace(a.query, '\s+', ' ', 'g'), 70)
       END
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"""


class Monitor(threading.Thread):
    """Every second: the queue (``Sample``), whether a web backend waits on a lock, and the CPU seconds
    of this database's backends (``/proc``)."""

    def __init__(self, dsn: str, live_prefix: str | None = None):
        super().__init__(daemon=True)
        import psycopg2

        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.live_prefix = live_prefix
        self.samples: list[Sample] = []
        self.looks = 0
        self.backend_cpu: dict[int, float] = {}
        self.doing: dict[tuple[str, str], int] = {}  # (role, wait event type or CPU): samples
        self.blocked: dict[str, int] = {}  # "role waited for roles: statement": samples
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                self._look()
            except Exception as exc:  # noqa: BLE001 (a look may fail while the database is busy: say so, go on)
                print(f"  monitor: {exc}", flush=True)

    def _live_customers(self, cur) -> list[str]:
        if not self.live_prefix:
            return []
        cur.execute("SELECT id::text FROM customers_customer WHERE external_id LIKE %s", [self.live_prefix + "%"])
        return [row[0] for row in cur.fetchall()]

    def _look(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        with self.conn.cursor() as cur:
            cur.execute(_QUEUE_SQL, [self._live_customers(cur)])
            at, events, oldest, live_oldest = cur.fetchone()
            self.samples.append(Sample(float(at), int(events), None if oldest is None else float(oldest),
                                       None if live_oldest is None else float(live_oldest)))
            cur.execute(_ACTIVITY_SQL)
            activity = cur.fetchall()
        self.looks += 1
        for _, app, state, wait, blocked in activity:  # what each role's backends were doing
            if app.startswith("soak-") and state != "idle":
                what = (wait or "CPU") if state == "active" else (state or "no state")
                self.doing[app[5:], what] = self.doing.get((app[5:], what), 0) + 1
            if app.startswith("soak-") and blocked:
                key = f"{app[5:]} waited for {blocked}"
                self.blocked[key] = self.blocked.get(key, 0) + 1
        for pid, *_ in activity:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.backend_cpu[pid] = (int(fields[11]) + int(fields[12])) / tick

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
        self.conn.close()


# --- the traffic ---------------------------------------------------------------------------------


def traffic(*, rate: float, customers: int, seed: int, batch: int, prefix: str = "") -> Iterator[tuple[int, bytes]]:
    """Endless ``(events, JSON body)`` batches: rounds of ``ROUND_SECONDS`` of traffic at ``rate``, each
    drawn by the simulator as the history of the ``ROUND_HISTORY`` before it (customer ids ``prefix`` + n)."""
    from events.simulator import StoreModel, backfill, catalogue_from_items, synthetic_customers
    from products.services import CATALOGUE_PATH

    catalogue = catalogue_from_items(json.loads(CATALOGUE_PATH.read_text()))
    people = [{**c, "customer_id": prefix + c["customer_id"]} for c in synthetic_customers(customers, seed=seed)]
    model = StoreModel(people, catalogue, seed=seed)
    round_no = 0
    while True:
        end = datetime.now(UTC)
        history = backfill(model, start=end - ROUND_HISTORY, end=end, seed=seed * 1_000_003 + round_no,
                           target_events=max(100, int(rate * ROUND_SECONDS)))
        round_no += 1
        for chunk in history.chunks(batch):
            yield len(chunk), json.dumps({"events": chunk}).encode()


class Load:
    """``connections`` threads sending the batches of a producer thread, paced at ``rate`` events/s."""

    def __init__(self, *, ports: Sequence[int], secret: str, rate: float, connections: int, source: Iterator,
                 requests: Requests):
        self.ports, self.secret, self.rate, self.requests = ports, secret, rate, requests
        self.batches: queue.Queue = queue.Queue(maxsize=max(4, connections * 4))
        self.batches.put(next(source))  # the clock starts once the simulator's model is built
        self.source = source
        self.scheduled = 0  # events handed to a sender so far
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.started = time.time()
        self.generator_waits = 0.0  # seconds senders waited for the generator
        self.threads = [threading.Thread(target=self._produce, daemon=True)]
        self.threads += [threading.Thread(target=self._send, args=(i,), daemon=True) for i in range(connections)]
        for thread in self.threads:
            thread.start()

    def _produce(self) -> None:
        for item in self.source:
            while not self.stopped.is_set():
                try:
                    self.batches.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if self.stopped.is_set():
                return

    def _next(self) -> tuple[int, bytes, float] | None:
        waited = time.perf_counter()
        while not self.stopped.is_set():
            try:
                n, body = self.batches.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        else:
            return None
        with self.lock:
            due = self.started + self.scheduled / self.rate
            if due < time.time() - (time.perf_counter() - waited):  # already due when it began to wait
                self.generator_waits += time.perf_counter() - waited
            self.scheduled += n
        return n, body, due

    def _send(self, i: int) -> None:
        port = self.ports[i % len(self.ports)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {self.secret}", "Content-Type": "application/json"}
        while (item := self._next()) is not None:
            n, body, due = item
            if (wait := due - time.time()) > 0 and self.stopped.wait(wait):
                return
            began = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/events", body=body, headers=headers)
                response = conn.getresponse()
                reply = response.read()
                ok = response.status == 200
                acked = (json.loads(reply)["accepted"] + len(json.loads(reply)["duplicates"])) if ok else 0
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                ok, acked = False, 0
            self.requests.add(time.time(), time.perf_counter() - began, acked, ok)

    def behind(self) -> float:
        """Events the senders are behind the pace now."""
        return max(0.0, (time.time() - self.started) * self.rate - self.scheduled)

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(130)


# --- the runs ------------------------------------------------------------------------------------


class Reporter:
    """The line every ``REPORT_SECONDS``: acknowledged events and rate, ingest latency, lag, CPU by role."""

    def __init__(self, product: Product, monitor: Monitor, requests: Requests, load: Load, *, live: bool = False):
        self.product, self.monitor, self.requests, self.load, self.live = product, monitor, requests, load, live
        self.started = self.last = load.started
        self.cpu_last = self._cpu()

    def _cpu(self) -> dict[str, float]:
        own = os.times()
        return {**self.product.cpu(), "postgres": sum(self.monitor.backend_cpu.values()),
                "bench": own.user + own.system}

    def line(self) -> str:
        now = time.time()
        acked, failed, latencies = self.requests.window(self.last, now)
        total, _, _ = self.requests.window(0, now)
        looks = between(self.monitor.samples, self.last, now)
        lags = [s.live_lag if self.live else s.lag for s in looks]
        cpu = self._cpu()
        share = "  ".join(f"{k} {100 * (cpu[k] - self.cpu_last.get(k, 0)) / (now - self.last):.0f}%" for k in cpu)
        queued = looks[-1].queued_events if looks else 0
        text = (f"{now - self.started:6.0f} s  acked {total:>10,} ({acked / (now - self.last):>7,.0f}/s, "
                f"{total / (now - self.started):>7,.0f}/s overall{f', {failed} failed requests' if failed else ''})"
                f"  behind {self.load.behind():>8,.0f}\n"
                f"         ingest {latency_text(latencies)}  |  {'live ' if self.live else ''}lag now "
                f"{lags[-1] if lags else 0:.1f} s, max {max(lags, default=0):.1f} s  queued {queued:,} events\n"
                f"         cpu {share}  load {os.getloadavg()[0]:.1f}")
        self.last, self.cpu_last = now, cpu
        return text


def _every_report(until, reporter: Reporter, done=lambda: False) -> None:
    while time.time() < until and not done():
        time.sleep(max(0.0, min(reporter.last + REPORT_SECONDS, until) - time.time()))
        if time.time() - reporter.last >= REPORT_SECONDS - 0.05:
            print(reporter.line(), flush=True)


def run_soak(args: argparse.Namespace, product: Product, monitor: Monitor, secret: str) -> None:
    requests = Requests()
    customers = args.customers or max(20_000, int(args.rate * 20))
    print(f"traffic: {customers:,} simulated shoppers, batches of {args.batch}, {args.connections} connections, "
          f"{len(product.ports)} web server(s); {args.rate:,.0f} events/s for {args.seconds} s", flush=True)
    source = traffic(rate=args.rate, customers=customers, seed=args.seed, batch=args.batch)
    load = Load(ports=product.ports, secret=secret, rate=args.rate, connections=args.connections, source=source,
                requests=requests)
    reporter = Reporter(product, monitor, requests, load)
    try:
        _every_report(load.started + args.seconds, reporter)
    finally:
        load.stop()
    sending = between(monitor.samples, load.started, time.time())
    acked = [r for r in requests.done if r[2]]
    last_ack = max((r[0] for r in acked), default=time.time())
    print(f"sending stopped; waiting up to {args.drain_timeout} s for the derivation to catch up…", flush=True)
    _every_report(last_ack + args.drain_timeout, reporter,
                  done=lambda: caught_up_after(monitor.samples, last_ack) is not None)
    total = sum(r[2] for r in requests.done)
    took = last_ack - load.started
    caught = caught_up_after(monitor.samples, last_ack)
    print(f"\nSUMMARY (load average {os.getloadavg()})\n"
          f"  sustained: {total:,} events acknowledged in {took:.1f} s = {total / max(took, 1e-9):,.0f} events/s "
          f"(asked {args.rate:,.0f}/s); {sum(1 for r in requests.done if not r[3])} failed requests; "
          f"senders waited {load.generator_waits:.1f} s for the generator\n"
          f"  ingest latency (all {len(requests.done):,} requests): "
          f"{latency_text([r[1] for r in requests.done])}\n"
          f"  lag while sending (age of the oldest queued window, {len(sending)} samples): "
          f"{lag_text([s.lag for s in sending])}\n"
          f"  {doing_text(monitor)}\n"
          f"  caught up: " + (f"yes, {caught:.1f} s after the last acknowledgement" if caught is not None
                              else f"NO within {args.drain_timeout} s of the last acknowledgement"), flush=True)


def write_bulk_csv(path: Path, *, events: int, customers: int, seed: int) -> int:
    """A year of simulated history (customer ids ``bulk-<n>``) as a CSV of native columns; returns rows."""
    from events.simulator import StoreModel, backfill, catalogue_from_items, synthetic_customers
    from products.services import CATALOGUE_PATH

    catalogue = catalogue_from_items(json.loads(CATALOGUE_PATH.read_text()))
    people = [{**c, "customer_id": "bulk-" + c["customer_id"]} for c in synthetic_customers(customers, seed=seed)]
    end = datetime.now(UTC) - timedelta(minutes=31)  # before the live traffic's
    history = backfill(StoreModel(people, catalogue, seed=seed), start=end - timedelta(days=365), end=end,
                       seed=seed, target_events=events)
    columns = ["event_id", "customer_id", "session_id", "action", "product_id", "quantity", "product_price",
               "order_id", "timestamp", "product_title", "category"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for chunk in history.chunks(50_000):
            writer.writerows([["" if e.get(c) is None else e[c] for c in columns] for e in chunk])
    return len(history)


def _read_lines(stream, lines: list[tuple[float, str]]) -> None:
    for raw in stream:
        text = raw.decode(errors="replace").rstrip()
        lines.append((time.time(), text))
        print(f"  import_events: {text}", flush=True)


def run_bulk(args: argparse.Namespace, product: Product, monitor: Monitor, secret: str, env: dict[str, str]) -> None:
    path = Path(env["LOCAL_DIR"]) / "bulk.csv"
    print(f"writing {args.bulk:,} simulated events to {path}…", flush=True)
    rows = write_bulk_csv(path, events=args.bulk, customers=args.bulk_customers, seed=args.seed + 1)
    requests = Requests()
    source = traffic(rate=args.rate, customers=args.customers or 2000, seed=args.seed, batch=args.batch, prefix="live-")
    load = Load(ports=product.ports, secret=secret, rate=args.rate, connections=args.connections, source=source,
                requests=requests)
    reporter = Reporter(product, monitor, requests, load, live=True)
    lines: list[tuple[float, str]] = []
    try:
        _every_report(load.started + 20, reporter)  # the live trickle alone first
        began = time.time()
        print(f"import_events of {rows:,} events starts", flush=True)
        proc = subprocess.Popen([PYTHON, "manage.py", "import_events", str(path)], cwd=ROOT,
                                env={**env, "PGAPPNAME": "soak-import"},
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
        reader.start()
        try:
            _every_report(time.time() + 24 * 3600, reporter, done=lambda: proc.poll() is not None)
        finally:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
            proc.wait()
            reader.join(5)
        ended = time.time()
        stored = next((at for at, text in lines if text.startswith("read ")), ended)
        _every_report(stored + args.drain_timeout, reporter,
                      done=lambda: caught_up_after(monitor.samples, stored) is not None)
        caught = caught_up_after(monitor.samples, stored)
        during = between(monitor.samples, began, stored + (caught or 0))
        _, failed, latencies = requests.window(began, stored + (caught or 0))
    finally:
        load.stop()
    print(f"\nSUMMARY (load average {os.getloadavg()})\n"
          f"  import_events: {rows:,} events stored {stored - began:.1f} s after it started "
          f"({rows / max(stored - began, 1e-9):,.0f} events/s); the command returned {ended - began:.1f} s after it "
          f"started (exit {proc.returncode})\n"
          f"  everything derived: " + (f"{caught:.1f} s after the import stored its last event" if caught is not None
                                       else f"NOT within {args.drain_timeout} s") + "\n"
          f"  live trickle ({args.rate:,.0f} events/s) during the import until derived: "
          f"lag {lag_text([s.live_lag for s in during])}"
          f"; ingest {latency_text(latencies)}, {failed} failed requests\n"
          f"  {doing_text(monitor)}", flush=True)


# --- set-up --------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> tuple[dict[str, str], str, str]:
    """A fresh database, migrated, a flushed Redis database, a secret key; the environment of the product."""
    import redis

    from bench.support import bench_database

    dsn = f"{args.pg.rstrip('/')}/{args.database}"
    bench_database(dsn, recreate=True)
    redis.Redis.from_url(args.redis).flushdb()
    local = ROOT / ".local" / "bench-soak"
    local.mkdir(parents=True, exist_ok=True)
    for old in local.glob("*.log"):
        old.unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SQLITE_PATH", "TESTING", "LOG_FILE")}
    env.update(DATABASE_URL=dsn, REDIS_URL=args.redis, LOCAL_DIR=str(local), DEBUG="0",
               DJANGO_SETTINGS_MODULE="analytics_site.settings", SECRET_KEY="soak-" + uuid.uuid4().hex * 2,
               ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="INFO", LOG_CONSOLE_LEVEL="WARNING")
    print(f"database {args.database}: migrating…", flush=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    secret = subprocess.run([PYTHON, "manage.py", "create_ingest_key", "soak", "--quiet"], cwd=ROOT, env=env,
                            check=True, capture_output=True, text=True).stdout.strip()
    os.environ.update(env)  # the simulator's model here reads the shipped catalogue (Django set up)
    import django

    django.setup()
    return env, dsn, secret


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=None, help="events/s asked (default 10000; 50 with --bulk)")
    parser.add_argument("--seconds", type=int, default=300, help="how long to send (default 300)")
    parser.add_argument("--batch", type=int, default=None, help="events a request (default 500; 10 with --bulk)")
    parser.add_argument("--connections", type=int, default=8, help="requests in flight at most (default 8)")
    parser.add_argument("--web", type=int, default=1, help="daphne servers (docker compose --scale web=N)")
    parser.add_argument("--customers", type=int, default=None,
                        help="simulated shoppers (default max(20000, 20 x rate); 2000 live ones with --bulk)")
    parser.add_argument("--bulk", type=int, default=0, help="events of a bulk import_events during a live trickle")
    parser.add_argument("--bulk-customers", type=int, default=30_000)
    parser.add_argument("--drain-timeout", type=int, default=600, help="seconds to wait for the derivation at the end")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default="soak_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3", help="Redis database (flushed)")
    args = parser.parse_args(argv)
    if args.rate is None:
        args.rate = 50.0 if args.bulk else 10_000.0
    if args.batch is None:
        args.batch = 10 if args.bulk else 500
    return args


def main() -> None:
    args = arguments()
    print(f"soak {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()}", flush=True)
    env, dsn, secret = prepare(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop as on Ctrl-C: the finally below cleans up
    product = None
    monitor = None
    try:
        product = Product(env, Path(env["LOCAL_DIR"]), args.web)
        print(f"started: daphne on {product.ports}, worker, beat (logs in {env['LOCAL_DIR']})", flush=True)
        monitor = Monitor(dsn, live_prefix="live-" if args.bulk else None)
        monitor.start()
        if args.bulk:
            run_bulk(args, product, monitor, secret, env)
        else:
            run_soak(args, product, monitor, secret)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    finally:
        if monitor is not None:
            monitor.stop()
        if product is not None:
            print("stopping the product's processes…", flush=True)
            product.stop()


if __name__ == "__main__":
    main()
