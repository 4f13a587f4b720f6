"""Panels timed on an existing derived database (docs/benchmarks.md): a quicker look than ``bench/metrics.py
--steps measure`` at the selectors, in the default 30-day view and over all history, unfiltered, for one
segment and for one channel; and the refresh of the kept scores (with the segment rollup, where the code
has one) and of the rollups' month copies (where the code has them).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> TESTING=1 \\
      .venv/bin/python bench/panels.py --days 365 --reps 5 [--segment Champions] [--channel Direct] [--no-refresh]

Run it from a checkout: the code measured is the checkout's (main's tree for "before"). Prints one line
per selector and filter (median ms) and, last, the same as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import median_ms  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365, help="the data set's days (all history)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--segment", default="Champions")
    parser.add_argument("--channel", default="Direct")
    parser.add_argument("--only", default="", help="comma-separated selector names (default: all)")
    parser.add_argument("--no-refresh", action="store_true", help="leave out the refresh timings")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    import django

    django.setup()
    from insights import selectors, sentences
    from insights.filters import MetricFilter, store_today

    today = store_today()
    month, year = today - dt.timedelta(days=29), today - dt.timedelta(days=args.days + 1)
    filters = {"30 days": MetricFilter(start=month, end=today),
               "all history": MetricFilter(start=year, end=today),
               f"30 days, {args.segment}": MetricFilter(start=month, end=today, segment=args.segment),
               f"all history, {args.segment}": MetricFilter(start=year, end=today, segment=args.segment),
               f"all history, {args.channel}": MetricFilter(start=year, end=today, channel=args.channel)}
    calls: dict[str, Callable[[MetricFilter], object]] = {
        "kpis_stats": selectors.kpis_stats, "events_timeseries": selectors.events_timeseries,
        "funnel_stats(age_group)": lambda f: selectors.funnel_stats(f, breakdown="age_group"),
        "carts_stats": selectors.carts_stats, "customers_stats": selectors.customers_stats,
        "insights_list": sentences.insights_list, "cohorts_stats": selectors.cohorts_stats,
        "seasonality_stats": selectors.seasonality_stats, "products_stats": selectors.products_stats,
        "acquisition_stats": selectors.acquisition_stats, "affinity_stats": selectors.affinity_stats}
    only = [n for n in args.only.split(",") if n]
    out: dict = {} if args.no_refresh else {"refresh_ms": _refresh_ms(args.reps)}
    if out:
        print(f"refresh: {out['refresh_ms']}", flush=True)
    for name, fn in calls.items():
        if only and name not in only:
            continue
        out[name] = {label: median_ms(lambda f=f, fn=fn: fn(f), args.reps) for label, f in filters.items()}
        print(f"{name:26} " + "  ".join(f"{label}: {ms:,.1f}" for label, ms in out[name].items()), flush=True)
    if not only or "customer_detail" in only:
        out["customer_detail"] = _customer_detail_ms(args.reps)
        print(f"{'customer_detail':26} " + "  ".join(f"{k}: {v:,.1f}" for k, v in out["customer_detail"].items()))
    print(json.dumps(out))


def _customer_detail_ms(reps: int) -> dict:
    """A customer's page: the customer with the most sessions, and one of median sessions."""
    from insights.models import CustomerTotals
    from insights.selectors import customer_detail

    ranked = list(CustomerTotals.objects.order_by("-sessions", "customer_id").values_list("customer_id", flat=True))
    if not ranked:
        return {}
    picks = {"most sessions": ranked[0], "median sessions": ranked[len(ranked) // 2]}
    return {label: median_ms(lambda pk=pk: customer_detail(pk), reps) for label, pk in picks.items()}


def _refresh_ms(reps: int) -> dict:
    from insights.rfm_store import rfm_refresh

    out = {"rfm_refresh": median_ms(rfm_refresh, max(3, reps // 2))}
    try:
        from django.db import transaction

        from insights.segment_store import segment_days_refresh
    except ImportError:  # code without the segment rollup
        return out

    def rollup_alone() -> None:
        with transaction.atomic():
            segment_days_refresh()

    out["segment_days_refresh"] = median_ms(rollup_alone, max(3, reps // 2))
    try:
        from insights.month_copies import month_copies_refresh
    except ImportError:  # code without the month copies
        return out
    out["month_copies_refresh (nothing to do)"] = median_ms(month_copies_refresh, max(3, reps // 2))
    return out


if __name__ == "__main__":
    main()
