"""False alerts on normal simulated weeks and detection of a known jump (alerts.simulation, alerts.backtest).
bench/alerts_backtest.py prints the same figures over more seeds."""

from __future__ import annotations

import datetime as dt

from alerts.backtest import backtest
from alerts.evaluation import RuleSpec
from alerts.metrics import METRICS
from alerts.simulation import simulate_hours

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
WEEK = dt.timedelta(weeks=1)


def test_eight_normal_weeks_raise_at_most_one_false_alert_a_week_per_rule():
    rows = simulate_hours(START, 16 * 168, seed=11)
    for metric in METRICS:
        spec = RuleSpec(metric, "both", "medium", 20, 2, None, 8)
        incidents = backtest(spec, rows, START + 8 * WEEK)
        assert len(incidents) <= 8, (metric, incidents)


def test_a_jump_in_abandonment_is_caught_at_its_second_hour_and_ends_when_it_returns():
    jump = START + 10 * WEEK + dt.timedelta(days=2, hours=13)
    rows = simulate_hours(START, 11 * 168, seed=3, sessions_per_hour=300,
                          changes=[(jump, jump + dt.timedelta(hours=4), 0.9)])
    spec = RuleSpec("cart_abandonment", "up", "medium", 20, 2, None, 8)
    incidents = backtest(spec, rows, jump - dt.timedelta(hours=2))
    assert incidents == [(jump, jump + dt.timedelta(hours=4))]


def _jump_incidents(seed: int, sessions: float, hour: int, length: int) -> tuple[dt.datetime, list]:
    jump = START + 10 * WEEK + dt.timedelta(days=2, hours=hour)
    rows = simulate_hours(START, 11 * 168, seed=seed, sessions_per_hour=sessions,
                          changes=[(jump, jump + dt.timedelta(hours=length), 0.9)])
    spec = RuleSpec("cart_abandonment", "up", "medium", 20, 2, None, 8)
    return jump, backtest(spec, rows, jump - dt.timedelta(hours=2))


def test_at_the_demo_stores_volume_a_jump_is_caught_in_most_seeds():
    # 80 sessions an hour (about 42 finished carts at 13:00): each hour of the jump is ~2.8 of its binomial
    # standard errors above 70%, so an hour falls inside the band now and then; bench/alerts_backtest.py
    # gives the rate over more seeds (docs/benchmarks.md#alerts)
    caught = 0
    for seed in range(20):
        jump, incidents = _jump_incidents(seed, 80, 13, 4)
        inside = [(a, b) for a, b in incidents if a < jump + dt.timedelta(hours=4)]
        if inside:
            start, end = inside[0]
            assert jump <= start < jump + dt.timedelta(hours=3) and end is not None
            caught += 1
    assert caught >= 16


def test_the_end_to_end_scenario_is_caught_at_its_kth_hour_whatever_the_seed():
    # tests/alerts/test_flow.py runs one seed of this (300 sessions an hour, 5 hours of 90% on a weekday
    # afternoon) through the database and the webhook; here the seed is not what makes it pass
    ended_at_return = 0
    for seed in range(15):
        jump, incidents = _jump_incidents(seed, 300, 14, 5)
        start, end = incidents[0]  # later ones: other days' false alerts
        assert start == jump and end is not None and jump + dt.timedelta(hours=5) <= end <= jump + dt.timedelta(hours=9)
        ended_at_return += end == jump + dt.timedelta(hours=5)
    assert ended_at_return >= 11  # the others an hour or a few later (docs/benchmarks.md#alerts)
