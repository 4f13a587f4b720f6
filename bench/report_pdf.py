"""PDF report render time (docs/alerts-and-reports.md#pdf-reports): each dashboard page as a PDF at N
simulated events on PostgreSQL (default 1M; target ≤ 5 s a page).

A fresh database (``--pg``) is filled by the simulator's backfill (the path of ``manage.py simulate
--backfill``) and derived; then, for the last 30 days, each page's report is built (selectors + chart
builders), drawn (matplotlib SVG) and printed (WeasyPrint): the median of ``--runs`` and the PDF size.

    .venv/bin/python bench/report_pdf.py [--events 1000000] [--pg postgres://postgres@127.0.0.1:5432/report_bench]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup(pg: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(DJANGO_SETTINGS_MODULE="analytics_site.settings", TESTING="1", DATABASE_URL=pg,
                      LOCAL_DIR=tempfile.mkdtemp(prefix="bench-report-", dir=ROOT / ".local"))
    os.environ.pop("REDIS_URL", None)
    from bench.support import bench_database

    bench_database(pg, recreate=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill(events: int) -> None:
    from django.db import connection

    from events.simulation import simulator_backfill
    from insights.services import analytics_process_pending, sessions_close_idle

    t0 = time.perf_counter()
    result = simulator_backfill(days=180, customers=20_000, events=events, seed=1)
    analytics_process_pending(max_rows=1_000_000)
    sessions_close_idle()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"backfill and derivation: {result.events:,} events in {time.perf_counter() - t0:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/report_bench")
    args = parser.parse_args()
    _setup(args.pg)
    _fill(args.events)
    from django.http import QueryDict

    from insights.filters import MetricFilter
    from reports.pages import PAGES, report_page
    from reports.render import report_pdf

    f = MetricFilter.from_query_or_default(QueryDict(""))[0]
    for page in PAGES:
        times, size = [], 0
        for _ in range(args.runs):
            t = time.perf_counter()
            size = len(report_pdf(report_page(page, f, QueryDict("")), f))
            times.append(time.perf_counter() - t)
        print(f"{page:12s} median {statistics.median(times):5.2f} s  max {max(times):5.2f} s  {size / 1024:6.0f} KB")


if __name__ == "__main__":
    main()
