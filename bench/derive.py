"""Derivation bench: the queued windows' drain and the full rebuild, events/s (docs/derivation.md).

    .venv/bin/python bench/derive.py [--events 300000] [--days 60] [--customers 5000] [--profile]
        [--pg postgres://postgres@127.0.0.1:5432/analytics_derive_bench] [--engines python,sql]

Simulates ``--events`` events into its own PostgreSQL database (dropped and created) through the ingest
service, which queues the customers' windows. Then, for each engine (``DERIVATION_ENGINE``, same data,
same reference time): the drain of those queued windows (``analytics_process_pending``, from the
same queue each time) and a full ``analytics_rebuild``. Prints events/s and the ratio of each engine
to the first (``python``), and checks that every engine left the same sessions, carts and rollups.
``--profile`` runs the first engine under cProfile and times every SQL statement by its kind (the
statement's first words), and prints both.
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


def _setup(url: str) -> None:
    bench_database(url, recreate=True)
    os.environ.update(DATABASE_URL=url, TESTING="1", LOCAL_DIR=str(ROOT / ".local" / "bench-derive"),
                      DJANGO_SETTINGS_MODULE="analytics_site.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class _SqlTimes:
    """A Django execute wrapper: time per statement kind."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = self._kind(sql)
            self.seconds[kind] += time.perf_counter() - started
            self.calls[kind] += 1

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

    def report(self, top: int = 15) -> str:
        total = sum(self.seconds.values())
        lines = [f"  SQL total {total:.1f} s in {sum(self.calls.values()):,} statements"]
        for kind, s in sorted(self.seconds.items(), key=lambda kv: -kv[1])[:top]:
            lines.append(f"    {s:7.2f} s {self.calls[kind]:7,}x  {kind}")
        return "\n".join(lines)


def _simulate(args: argparse.Namespace) -> Any:
    from django.utils import timezone
    from tqdm import tqdm

    from events.simulation import simulator_backfill

    end = timezone.now().replace(microsecond=0)
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
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(_tables())}")
        for t in _tables():
            cur.execute(f"INSERT INTO {t} SELECT * FROM bench_{t}")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engines", default="python,sql")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-rebuild", action="store_true", help="time only the drains")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/analytics_derive_bench")
    args = parser.parse_args()
    _setup(args.pg)
    from django.conf import settings
    from django.db import connection

    from events.models import Event
    from insights.rebuild import analytics_rebuild
    from insights.services import analytics_process_pending

    end = _simulate(args)
    n = Event.objects.count()
    from insights.models import PendingWindow

    queued = PendingWindow.objects.count()
    print(f"{n:,} events stored, {queued:,} queued window rows")
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    _snapshot()
    figures: dict[str, dict[str, float]] = {}
    states: dict[str, Any] = {}
    for i, engine in enumerate(e.strip() for e in args.engines.split(",")):
        settings.DERIVATION_ENGINE = engine
        profile = args.profile and i == 0
        if i:
            _restore()
        print(f"[{engine}] drain of {queued:,} queued rows …", flush=True)
        drain, sql_drain, prof_drain = _timed(lambda: analytics_process_pending(max_rows=20, as_of=end), profile)
        drained = _state()
        print(f"[{engine}] drain {drain:.1f} s = {n / drain:,.0f} events/s", flush=True)
        figures[engine] = {"drain": n / drain}
        states[engine] = drained
        if i == 0 and not args.no_rebuild:  # the rebuild has one path (docs/derivation.md): measured once
            print(f"[{engine}] rebuild …", flush=True)
            rebuild, sql_rebuild, prof_rebuild = _timed(lambda: analytics_rebuild(as_of=end), profile)
            print(f"[{engine}] rebuild {rebuild:.1f} s = {n / rebuild:,.0f} events/s", flush=True)
            figures[engine]["rebuild"] = n / rebuild
            rebuilt = _state()
            if drained != rebuilt:
                print(f"[{engine}] WARNING: drained state differs from rebuilt: "
                      f"{sorted(k for k in drained if drained[k] != rebuilt.get(k))}")
        if profile and sql_drain:
            print(f"--- profile: drain ({engine})\n{sql_drain.report()}\n{prof_drain}")
        if profile and i == 0 and not args.no_rebuild and sql_rebuild:
            print(f"--- profile: rebuild ({engine})\n{sql_rebuild.report()}\n{prof_rebuild}")
    engines = list(figures)
    base = engines[0]
    print(f"\n{n:,} events, {args.days:g} days, {args.customers:,} customers")
    if "rebuild" in figures[base]:
        print(f"  rebuild ({base}) {figures[base]['rebuild']:9,.0f} ev/s")
    for engine in engines:
        f = figures[engine]
        print(f"  {engine:7s} drain {f['drain']:9,.0f} ev/s ({f['drain'] / figures[base]['drain']:.2f}x)")
        if engine != base:
            diff = [k for k in states[base] if states[base][k] != states[engine].get(k)]
            print(f"    same sessions, carts and rollups as {base} after the drain: "
                  f"{'yes' if not diff else 'NO: ' + ', '.join(diff)}")


if __name__ == "__main__":
    main()
