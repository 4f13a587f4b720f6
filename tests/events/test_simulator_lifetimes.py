"""Each simulated shopper has a purchase rate and a lifetime (issue 14), drawn as BG/NBD assumes: a
Gamma(shape, mean 1) rate factor and a dropout probability p ~ Beta(a, b) after each repeat order."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import timedelta
from statistics import fmean, pvariance

import pytest

from events.simulator import backfill
from events.simulator.shoppers import DROPOUT_A, DROPOUT_B, PURCHASE_RATE_SHAPE, lifetime_draw
from tests.events.test_simulator import END, _model


def test_lifetime_traits_follow_their_distributions():
    rng = random.Random(14)
    draws = [lifetime_draw(rng) for _ in range(40_000)]
    factors = [d[0] for d in draws]
    dropouts = [d[1] for d in draws]
    # Gamma(k, 1/k): mean 1, variance 1/k. Beta(a, b): mean a / (a + b).
    assert fmean(factors) == pytest.approx(1.0, abs=0.02)
    assert pvariance(factors) == pytest.approx(1 / PURCHASE_RATE_SHAPE, rel=0.05)
    assert fmean(dropouts) == pytest.approx(DROPOUT_A / (DROPOUT_A + DROPOUT_B), rel=0.03)
    # Lapsing after the first repeat order happens with probability E[p]; after k orders, geometric.
    lapse_after = Counter(d[2] for d in draws)
    assert lapse_after[1] / len(draws) == pytest.approx(DROPOUT_A / (DROPOUT_A + DROPOUT_B), abs=0.006)
    assert min(lapse_after) == 1


def test_profiles_carry_the_traits_and_the_visit_rate_includes_the_rate_factor():
    model = _model(customers=300)
    assert all(p.lapse_after >= 1 and 0 <= p.dropout < 1 and p.rate_factor > 0 for p in model.profiles)
    assert len({p.rate_factor for p in model.profiles}) == 300
    again = _model(customers=300)
    assert [p.lapse_after for p in again.profiles] == [p.lapse_after for p in model.profiles]  # seeded


def test_a_lapsed_shopper_orders_no_more():
    model = _model(customers=400)
    model.profiles = [dataclasses.replace(p, lapse_after=1) for p in model.profiles]
    run = backfill(model, start=END - timedelta(days=90), end=END, seed=3)
    orders_per_shopper = Counter()
    seen = set()
    for customer, order in zip(run.customer.tolist(), run.order.tolist(), strict=True):
        if order >= 0 and order not in seen:
            seen.add(order)
            orders_per_shopper[customer] += 1
    assert orders_per_shopper and max(orders_per_shopper.values()) == 2  # the first order and one repeat
