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
