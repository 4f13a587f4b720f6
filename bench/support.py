"""What the benchmarks share: their own PostgreSQL databases and the ``--sizes`` argument."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any


def bench_database(url: str, *, recreate: bool) -> bool:
    """Make sure the database of ``url`` exists on its server (dropped first when ``recreate``).
    True when it was created now (empty), False when an existing one is kept."""
    import psycopg2
    from psycopg2 import sql

    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    created = False
    with admin.cursor() as cur:
        if recreate:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            created = True
    admin.close()
    return created


def sizes_parser(doc: str | None, *, default_sizes: str = "1000000,5000000") -> argparse.ArgumentParser:
    """A command line parser with the module's docstring as help and ``--sizes`` (comma-separated event counts)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=default_sizes, help="event counts to measure at, comma-separated")
    return parser


def median_ms(fn: Callable[[], Any], reps: int) -> float:
    """The median of ``reps`` timed calls of ``fn`` in milliseconds, after one warm-up call (connection,
    plan cache)."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
