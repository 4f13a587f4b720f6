"""Derivation bench: the queued windows' drain and the full rebuild, events/s (docs/derivation.md).

    .venv/bin/python bench/derive.py [--events 300000] [--days 60] [--customers 5000] [--profile]
        [--pg postgres://postgres@127.0.0.1:5432/rebuild_bench] [--engines python,sql] [--reuse]
        [--no-drain] [--no-rebuild] [--live 40000 [--live-days 1]]

Simulates ``--events`` events into its own PostgreSQL database (dropped and created; ``--reuse`` keeps
the last run's database and events) through the ingest service, which queues the customers' windows.
Then, for each engine (``DERIVATION_ENGINE``, same data, same reference time): the drain of those
queued windows (``analytics_process_pending``, from the same queue each time), then a full
``analytics_rebuild`` each, in a forked process whose peak RSS (``resource.getrusage``) is printed.
An engine ``sql:N`` is the SQL engine with N helper connections (``DERIVATION_WORKERS``). With ``--live N``
the history is derived first and the drains derive N events of live traffic that follow it (``_live``).
Prints events/s and the ratio of each engine to the first (``python``), and checks that every engine
left the same sessions, carts and rollups. ``--profile`` runs the first drain and every rebuild under
cProfile and times every SQL statement by its kind (the statement's first words), and prints both.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import bench_database  # noqa: E402


def _setup(url: str, *, recreate: bool) -> bool:
    """The bench database migrated and Django set up; True when it was created now (empty)."""
    created = bench_database(url, recreate=recreate)
    os.environ.update(DATABASE_URL=url, TESTING="1", LOCAL_DIR=str(ROOT / ".local" / "bench-derive"),
                      DJANGO_SETTINGS_MODULE="analytics_site.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return created


class _SqlTimes:
    """A Django execute wrapper: time per statement kind."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.rows: dict[str, int] = defaultdict(int)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = self._kind(sql)
            self.seconds[kind] += time.perf_counter() - started
            self.calls[kind] += 1
            rowcount = getattr(context.get("cursor"), "rowcount", -1)
            self.rows[kind] += max(rowcount, 0)

    @staticmethod
    def _kind(sql: str) -> str:
        if "CREATE TEMP TABLE" in sql:  # the SQL engine's steps (insights.derive_sql*): by the table made
            return "CREATE TEMP TABLE " + sql.split("CREATE TEMP TABLE", 1)[1].split()[0]
        words = sql.split()
        head = " ".join(words[:3])[:60]
        for table in ("insights_", "events_event"):
            at = sql.find(table)
            if at >= 0:
                return f"{head} … {sql[at:].split()[0][:40]}"
        return head

    def report(self, top: int = 60) -> str:
        total = sum(self.seconds.values())
        lines = [f"  SQL total {total:.1f} s in {sum(self.calls.values()):,} statements"]
        for kind, s in sorted(self.seconds.items(), key=lambda kv: -kv[1])[:top]:
            lines.append(f"    {s:7.2f} s {self.calls[kind]:7,}x {self.rows[kind]:10,} rows  {kind}")
        return "\n".join(lines)


def _simulate(args: argparse.Namespace, end: Any) -> Any:
    from tqdm import tqdm

    from events.simulation import simulator_backfill

    started = time.perf_counter()
    with tqdm(total=args.events, unit="ev", unit_scale=True, desc="simulate+ingest", disable=None) as bar:
        result = simulator_backfill(days=args.days, customers=args.customers, events=args.events, seed=args.seed,
                                    end=end, progress=bar.update)
    print(f"simulated {result.events:,} events ({args.days:g} days, {args.customers:,} customers) "
          f"in {time.perf_counter() - started:.1f} s")
    return end


def _tables() -> list[str]:
    from insights.rollup_store import DERIVED_MODELS

    return [m._meta.db_table for m in DERIVED_MODELS]


def _snapshot() -> None:
    """Copy every derived table (and the queue) as ingest left them: each engine starts from there."""
    from django.db import connection

    with connection.cursor() as cur:
        for t in _tables():
            cur.execute(f"DROP TABLE IF EXISTS bench_{t}; CREATE TABLE bench_{t} AS SELECT * FROM {t}")


def _restore() -> None:
    """The snapshot back, as it was: without the rollups' note triggers (the copy of every row would note
    every month as written since its copy, and the drain would copy them all again), and analysed (the
    drain would analyse the tables it reads by customer first, everything having changed)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")  # no triggers
        cur.execute(f"TRUNCATE {', '.join(_tables())}")
        for t in _tables():
            cur.execute(f"INSERT INTO {t} SELECT * FROM bench_{t}")
    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {', '.join(_tables())}")


def _state() -> dict[str, Any]:
    """Every derived row, comparable across engines (ids left out; a cart by its session's key)."""
    from django.db import connection

    from insights.rollup_store import DERIVED_MODELS

    state: dict[str, Any] = {}
    with connection.cursor() as cur:
        for model in DERIVED_MODELS:
            t = model._meta.db_table
            if t.endswith("pendingwindow"):
                continue
            if t.endswith("dailypeople"):  # as sets of customers: trailing zero bytes do not count
                from insights.people import as_int, members

                cur.execute(f"SELECT day, kind, bits FROM {t}")
                state[t] = sorted(repr((d, k, members(as_int(b)))) for d, k, b in cur.fetchall() if as_int(b))
                continue
            cols = [f.column for f in model._meta.concrete_fields if f.column not in ("id", "session_id")
                    or (t.endswith("_session") and f.column == "session_id")]
            select = ", ".join(f"x.{c}" for c in cols)
            if t.endswith("_cart"):
                select += ", s.key"
                cur.execute(f"SELECT {select} FROM {t} x JOIN insights_session s ON s.id = x.session_id")
            else:
                cur.execute(f"SELECT {select} FROM {t} x")
            state[t] = sorted(map(repr, cur.fetchall()))
    return state


def _timed(fn: Any, profile: bool) -> tuple[float, _SqlTimes | None, str]:
    from django.db import connection

    times = _SqlTimes() if profile else None
    prof = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if times is not None and prof is not None:
        with connection.execute_wrapper(times):
            prof.enable()
            fn()
            prof.disable()
    else:
        fn()
    seconds = time.perf_counter() - started
    text = ""
    if prof is not None:
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(22)
        stats.sort_stats("cumulative").print_stats(30)
        text = out.getvalue()
    return seconds, times, text


def _meta(key: str, value: str | None = None) -> str | None:
    """A value kept in the bench database between runs (``--reuse``): the simulation's reference time."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_meta (k text PRIMARY KEY, v text NOT NULL)")
        if value is not None:
            cur.execute("INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                        [key, value])
        cur.execute("SELECT v FROM bench_meta WHERE k = %s", [key])
        row = cur.fetchone()
    return None if row is None else str(row[0])


def _engine_apply(settings: Any, spec: str) -> None:
    """``python``, ``sql``, or ``sql:N``: the SQL engine with N helper connections in a rebuild
    (``DERIVATION_WORKERS``; without ``:N``, the setting's value)."""
    engine, _, workers = spec.partition(":")
    settings.DERIVATION_ENGINE = engine
    if workers:
        settings.DERIVATION_WORKERS = int(workers)


def _rebuild_in_child(engine: str, end: Any, profile: bool) -> tuple[float, float, str, dict[str, str]]:
    """``analytics_rebuild`` with ``engine`` in a forked process (its own connection): seconds, the
    process's peak RSS in MB during the rebuild (``resource.getrusage``: the parent holds nothing big
    when it forks), the profile text, and a digest of every derived table afterwards (``_state``)."""
    import hashlib
    import json
    import resource

    from django.conf import settings
    from django.db import connection

    connection.close()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one rebuild, its figures back through the pipe
        os.close(read)
        _engine_apply(settings, engine)
        from insights.rebuild import analytics_rebuild

        seconds, sql_times, text = _timed(lambda: analytics_rebuild(as_of=end), profile)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = f"--- profile: rebuild ({engine})\n{sql_times.report()}\n{text}" if sql_times else ""
        digests = {t: hashlib.sha256("\n".join(rows).encode()).hexdigest() for t, rows in _state().items()}
        os.write(write, json.dumps([seconds, peak, report, digests]).encode())
        os.close(write)
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    seconds, peak, report, digests = json.loads(b"".join(chunks))
    return seconds, peak, report, digests


def _rebuilds(engines: list[str], n: int, end: Any, profile: bool) -> dict[str, tuple[float, float]]:
    """Each engine's full rebuild from the same events; prints its time, rate and peak RSS, and whether
    every engine left the same sessions, carts and rollups as the first."""
    figures: dict[str, tuple[float, float]] = {}
    states: dict[str, dict[str, str]] = {}
    for engine in engines:
        print(f"[{engine}] rebuild …", flush=True)
        seconds, peak, report, states[engine] = _rebuild_in_child(engine, end, profile)
        print(f"[{engine}] rebuild {seconds:.1f} s = {n / seconds:,.0f} events/s, peak RSS {peak:,.0f} MB", flush=True)
        if report:
            print(report)
        figures[engine] = (seconds, peak)
        if engine != engines[0]:
            diff = [k for k in states[engines[0]] if states[engines[0]][k] != states[engine].get(k)]
            print(f"    same sessions, carts and rollups as {engines[0]}'s rebuild: "
                  f"{'yes' if not diff else 'NO: ' + ', '.join(diff)}")
    return figures


def _prepare(args: argparse.Namespace) -> Any:
    """The bench database with its events (simulated now, or kept with ``--reuse``); the reference time."""
    import datetime as dt

    if not _setup(args.pg, recreate=not args.reuse) and _meta("end") is not None:
        end = dt.datetime.fromisoformat(str(_meta("end")))
        print(f"reusing {args.pg}: events simulated up to {end:%Y-%m-%d %H:%M} UTC")
        return end
    from django.db import connection
    from django.utils import timezone

    end = timezone.now().replace(microsecond=0)
    live_days = args.live_days if args.live else 0
    _simulate(args, end - dt.timedelta(days=live_days))
    if args.live:
        _live(args, end - dt.timedelta(days=live_days), end)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    _snapshot()
    _meta("end", end.isoformat())
    return end


def _live(args: argparse.Namespace, start: Any, end: Any) -> None:
    """``--live N``: the simulated history derived (SQL engine, untimed), then N more events over the
    ``--live-days`` after it (the same customers), through ingest in batches of 500 (as a store's server
    sends them): what the drains then derive is live traffic, windows that extend stored sessions."""
    from django.conf import settings

    from events.simulation import simulator_backfill
    from insights.services import analytics_process_pending

    _engine_apply(settings, "sql")
    started = time.perf_counter()
    analytics_process_pending(max_rows=20, as_of=start)
    print(f"history derived in {time.perf_counter() - started:.1f} s")
    days = (end - start).total_seconds() / 86400
    result = simulator_backfill(days=days, customers=args.customers, events=args.live, seed=args.seed + 1,
                                end=end, chunk_size=500)
    print(f"live traffic: {result.events:,} events over the next {days:.2f} days, in batches of 500")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engines", default="python,sql", help="engines of the drains and of the rebuilds")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-rebuild", action="store_true", help="time only the drains")
    parser.add_argument("--no-drain", action="store_true", help="time only the rebuilds")
    parser.add_argument("--reuse", action="store_true", help="keep the database and its events from the last run")
    parser.add_argument("--live", type=int, default=0,
                        help="drain N events of live traffic on the derived history instead of the history itself")
    parser.add_argument("--live-days", type=float, default=1, help="the days the live traffic spans")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/rebuild_bench")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",")]
    end = _prepare(args)
    from django.db import connection

    from events.models import Event
    from insights.models import PendingWindow

    n = Event.objects.count()
    with connection.cursor() as cur:  # the queue as the snapshot holds it (a reused database's was drained)
        cur.execute(f"SELECT COALESCE(sum(events), 0), count(*) FROM bench_{PendingWindow._meta.db_table}")
        queued, rows = (int(v) for v in cur.fetchone())
    print(f"{n:,} events stored, {queued:,} of them queued in {rows:,} window rows")
    drains = {} if args.no_drain else _drains(engines, queued, end, args.profile)
    rebuilds = {} if args.no_rebuild else _rebuilds(engines, n, end, args.profile)
    print(f"\n{n:,} events, {args.days:g} days, {args.customers:,} customers")
    base = engines[0]
    for engine in engines:
        if engine in drains:
            print(f"  {engine:7s} drain   {queued / drains[engine]:9,.0f} ev/s ({drains[base] / drains[engine]:.2f}x)")
        if engine in rebuilds:
            seconds, peak = rebuilds[engine]
            print(f"  {engine:7s} rebuild {n / seconds:9,.0f} ev/s ({rebuilds[base][0] / seconds:.2f}x),"
                  f" {seconds:.1f} s, peak RSS {peak:,.0f} MB")


def _drains(engines: list[str], n: int, end: Any, profile: bool) -> dict[str, float]:
    """Each engine's drain of the queued windows, from the same snapshot; seconds per engine."""
    from django.conf import settings

    from insights.services import analytics_process_pending

    seconds: dict[str, float] = {}
    states: dict[str, Any] = {}
    for i, engine in enumerate(engines):
        _engine_apply(settings, engine)
        _restore()
        print(f"[{engine}] drain …", flush=True)
        took, sql_drain, prof_drain = _timed(lambda: analytics_process_pending(max_rows=20, as_of=end),
                                             profile and i == 0)
        print(f"[{engine}] drain {took:.1f} s = {n / took:,.0f} events/s", flush=True)
        if sql_drain:
            print(f"--- profile: drain ({engine})\n{sql_drain.report()}\n{prof_drain}")
        seconds[engine] = took
        states[engine] = _state()
        if i:
            diff = [k for k in states[engines[0]] if states[engines[0]][k] != states[engine].get(k)]
            print(f"    same sessions, carts and rollups as {engines[0]} after the drain: "
                  f"{'yes' if not diff else 'NO: ' + ', '.join(diff)}")
    return seconds


if __name__ == "__main__":
    main()
