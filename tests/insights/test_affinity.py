"""Product affinity (DESIGN §4) pinned on the hand-computed store of tests/insights/retention_fixture.py."""

from __future__ import annotations

import datetime as dt

import pytest

from insights.filters import MetricFilter
from insights.selectors import affinity_stats

pytestmark = pytest.mark.django_db

ALL_2024 = MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))


def _names(pair: dict) -> tuple[str, str]:
    return pair["product_a"]["external_id"], pair["product_b"]["external_id"]


def test_pairs_bought_together_support_confidence_lift(retention_store):
    stats = affinity_stats(ALL_2024, min_baskets=2)
    orders = stats["orders"]
    assert orders["baskets"] == 9
    assert [_names(p) for p in orders["pairs"]] == [("p1", "p3"), ("p1", "p2")]  # by lift; p2+p3 once: hidden
    p13, p12 = orders["pairs"]
    assert p13["lift"] == pytest.approx(1.2) and p13["baskets"] == 2 and p13["support"] == pytest.approx(2 / 9)
    assert p12["lift"] == pytest.approx(0.9) and p12["confidence_ab"] == pytest.approx(3 / 5)
    assert p12["confidence_ba"] == pytest.approx(3 / 6)


def test_pairs_added_to_the_same_cart(retention_store):
    carts = affinity_stats(ALL_2024, min_baskets=2)["carts"]
    assert carts["baskets"] == 2
    assert [_names(p) for p in carts["pairs"]] == [("p1", "p3")]
    assert carts["pairs"][0]["lift"] == pytest.approx(1.0)


def test_one_products_pairs_and_the_filters(retention_store):
    p2 = retention_store["products"]["p2"]
    mine = affinity_stats(ALL_2024, product_pk=p2.pk, min_baskets=1)["orders"]["pairs"]
    assert [_names(p) for p in mine] == [("p2", "p1"), ("p2", "p3")]  # by confidence from p2: 3/6, 1/6
    assert mine[0]["confidence_ab"] == pytest.approx(0.5)
    february = affinity_stats(MetricFilter(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29)), min_baskets=1)
    assert february["orders"]["baskets"] == 4  # o5, o6, o7, o8
    electronics = affinity_stats(MetricFilter(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31),
                                              category="electronics", age_group="26-35"), min_baskets=1)
    assert all("p1" in _names(p) for p in electronics["orders"]["pairs"])
    assert electronics["ignored_filters"] == ["age_group"]


@pytest.fixture
def retention_store():
    from tests.insights.retention_fixture import build_retention_store

    return build_retention_store()
