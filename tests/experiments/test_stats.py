"""The readout's statistics against simulations with a known truth (docs/experiments.md#statistics):
interval coverage on 50 experiments with a known lift, false winners on 50 A/A tests, the sample-ratio
check, CUPED, and the sentences. Pure: no database."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from experiments import stats
from experiments.readout import Design, readout_build
from experiments.stats import Moments

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
OLD = Design(name="e", started_at=START, now=START + dt.timedelta(days=30))
BASE_RATE, ORDER_VALUE = 0.10, 50.0


def simulate(rng: np.random.Generator, n: int, rate: float, value: float) -> Moments:
    """n visitors: each converts with ``rate`` and spends a lognormal order of mean ``value``; their
    pre-exposure revenue is correlated with what they spend after (loyal customers spend again)."""
    loyal = rng.random(n) < 0.3
    converted = rng.random(n) < np.where(loyal, rate * 1.5, rate * (1 - 0.3 * 1.5) / 0.7)
    spend = np.where(converted, rng.lognormal(np.log(value) - 0.5, 1.0, n), 0.0)
    pre = np.where(loyal, rng.lognormal(np.log(value) - 0.5, 1.0, n), 0.0) + 0.5 * spend
    return Moments(n, int(converted.sum()), float(spend.sum()), float((spend ** 2).sum()), float(pre.sum()),
                   float((pre ** 2).sum()), float((spend * pre).sum()))


def experiment(seed: int, lift: float, value_lift: float, n: int = 4000):
    rng = np.random.default_rng(seed)
    return {"A": simulate(rng, n, BASE_RATE, ORDER_VALUE),
            "B": simulate(rng, n, BASE_RATE * (1 + lift), ORDER_VALUE * (1 + value_lift))}


def test_intervals_cover_the_true_lift_in_at_least_90_of_50_seeded_experiments():
    lift, value_lift = 0.10, 0.05
    true_diff = BASE_RATE * lift
    true_rpv = BASE_RATE * (1 + lift) * ORDER_VALUE * (1 + value_lift) - BASE_RATE * ORDER_VALUE
    rate_hits = revenue_hits = 0
    for seed in range(50):
        b = readout_build(OLD, experiment(seed, lift, value_lift)).variants[1]
        rate_hits += b.difference_interval[0] <= true_diff <= b.difference_interval[1]
        revenue_hits += b.revenue.interval[0] <= true_rpv <= b.revenue.interval[1]
    print(f"coverage: conversion {rate_hits}/50, revenue per visitor {revenue_hits}/50")
    assert rate_hits >= 45 and revenue_hits >= 45


def test_at_most_5_percent_of_50_aa_tests_name_a_winner():
    winners = [readout_build(OLD, experiment(1000 + seed, 0.0, 0.0)).winner for seed in range(50)]
    named = sum(w is not None for w in winners)
    print(f"A/A: {named}/50 named a winner")
    assert named <= 2


def test_a_55_45_split_of_a_50_50_design_is_flagged_and_a_balanced_one_is_not():
    design = Design(name="e", weights={"A": 50, "B": 50}, started_at=START, now=START + dt.timedelta(days=30))
    skewed = readout_build(design, {"A": Moments(5500, 550), "B": Moments(4500, 450)})
    balanced = readout_build(design, {"A": Moments(5030, 503), "B": Moments(4970, 497)})
    assert skewed.srm and skewed.srm_p < 1e-20 and skewed.winner is None
    assert "Sample ratio mismatch" in skewed.sentences[0]
    assert not balanced.srm and balanced.srm_p > 0.5


def test_a_real_lift_is_named_with_the_owners_sentence():
    r = readout_build(OLD, experiment(7, 0.5, 0.0))
    assert r.winner == "B"
    assert r.sentences[0].startswith("B converts better than A with ")
    assert "points [" in r.sentences[0] and "revenue per visitor +$" in r.sentences[0]
    assert r.recommendation == "Roll out B."


def test_a_young_experiment_warns_and_names_no_winner():
    young = Design(name="e", started_at=START, now=START + dt.timedelta(days=2))
    r = readout_build(young, experiment(7, 0.5, 0.0))
    assert r.young and r.winner is None
    assert r.sentences[0].startswith("Day 3 of at least 7: looking every day")


def test_too_few_visitors_says_how_many_more_are_needed():
    r = readout_build(OLD, {"A": Moments(500, 50), "B": Moments(500, 55)})
    needed = stats.visitors_needed(0.10, 0.01)
    # Newcombe: 0.01 − √((0.11 − 0.08549)² + (0.12942 − 0.10)²) = −0.0283; 0.01 + √(…) = 0.0484
    assert needed == pytest.approx(14_749, abs=5)  # (1.96 + 0.84)² (0.09 + 0.0979) / 0.01²
    assert r.sentences[0] == (f"B against A: not enough data yet: about {needed - 500:,} more visitors per variant "
                              "to detect this effect (+1.0 points); now +1.0 points [-2.8, 4.8]; revenue per "
                              "visitor +$0.00 [0.00, 0.00].")


def test_cuped_narrows_the_revenue_interval_and_says_by_how_much():
    b = readout_build(OLD, experiment(3, 0.1, 0.0)).variants[1]
    assert b.revenue.cuped and 0.05 < b.revenue.narrowed < 0.9
    plain = stats.mean_difference(*experiment(3, 0.1, 0.0).values())
    assert (b.revenue.interval[1] - b.revenue.interval[0]) < (plain.interval[1] - plain.interval[0])


def test_probability_best_is_fixed_by_its_seed_and_sums_to_one():
    ms = [Moments(1000, 100), Moments(1000, 120), Moments(1000, 90)]
    p = stats.probability_best(ms)
    assert p == stats.probability_best(ms) and sum(p) == pytest.approx(1.0)
    assert p[1] > 0.8
