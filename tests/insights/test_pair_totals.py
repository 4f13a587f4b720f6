"""The all-time pair rollup (``ProductPairTotal``, docs/metrics.md#affinity): kept from the same basket
contributions as the daily pair rows, so it equals their sum, incrementally and after a rebuild; the
affinity panel reads it when the period holds every day with baskets."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from insights.filters import MetricFilter
from insights.models import ProductPairDaily, ProductPairTotal
from insights.rebuild import analytics_rebuild
from insights.selectors import affinity, affinity_stats
from tests.insights.retention_fixture import build_retention_store
from tests.insights.store_fixture import build_store

pytestmark = pytest.mark.django_db

ALL_2024 = MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))


def totals() -> dict[tuple, int]:
    return {(k, a, b): n for k, a, b, n in ProductPairTotal.objects.values_list("kind", "product_a", "product_b",
                                                                              "baskets") if n}


def daily_sums() -> dict[tuple, int]:
    sums: dict[tuple, int] = defaultdict(int)
    for k, a, b, n in ProductPairDaily.objects.values_list("kind", "product_a", "product_b", "baskets"):
        sums[(k, a, b)] += n
    return {key: n for key, n in sums.items() if n}


@pytest.mark.parametrize("build", [build_retention_store, build_store])
def test_all_time_pairs_equal_the_daily_rows_incrementally_and_rebuilt(build):
    build()  # through ingest and the derivation batches (late events re-derive sessions: -1 then +1)
    incremental = totals()
    assert incremental and incremental == daily_sums()
    analytics_rebuild()
    assert totals() == incremental == daily_sums()


def test_the_panel_reads_the_all_time_rollup_for_all_history_only():
    build_retention_store()
    o5 = ProductPairDaily.objects.filter(kind="o", product_a=0, product_b=0).order_by("day").last().day
    assert affinity.covers_every_day(ALL_2024, "o") and affinity.covers_every_day(MetricFilter(), "o")
    assert not affinity.covers_every_day(MetricFilter(start=dt.date(2024, 1, 1), end=o5 - dt.timedelta(days=1)), "o")
    assert affinity_stats(ALL_2024, min_baskets=2)["orders"]["baskets"] == 9
    ProductPairTotal.objects.filter(kind="o", product_a=0, product_b=0).update(baskets=90)
    assert affinity_stats(ALL_2024, min_baskets=2)["orders"]["baskets"] == 90  # read from the kept totals
    assert affinity_stats(MetricFilter(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29)),
                          min_baskets=1)["orders"]["baskets"] == 4  # a part of history: the daily rows


@pytest.mark.parametrize("query", [{}, {"product": "p2"}, {"category": "electronics"}])
def test_all_history_answers_as_the_daily_rows_do(query, monkeypatch):
    store = build_retention_store()
    f = MetricFilter(start=ALL_2024.start, end=ALL_2024.end, category=query.get("category"))
    product_pk = store["products"][query["product"]].pk if "product" in query else None
    kept = affinity_stats(f, product_pk=product_pk, min_baskets=1)
    monkeypatch.setattr(affinity, "covers_every_day", lambda f, kind: False)
    assert affinity_stats(f, product_pk=product_pk, min_baskets=1) == kept
    assert kept["orders"]["pairs"] and kept["orders"]["baskets"] == 9
