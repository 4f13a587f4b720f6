"""The expected band and the verdicts, pinned on hand-computed values (alerts.baseline, alerts.evaluation)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from alerts.baseline import band, history_hours
from alerts.evaluation import (
    BREACH,
    LOW_VOLUME,
    NO_DATA,
    NORMAL,
    QUIET,
    HourVerdict,
    RuleSpec,
    RuleState,
    advance,
    in_quiet,
    judge,
)
from alerts.metrics import point

H = dt.datetime(2026, 3, 5, 14, tzinfo=dt.UTC)


def test_count_band_is_a_student_t_prediction_interval():
    # past 10, 12, 14: mean 12, s 2; t(2 df, 0.975) = 4.302653; 4.302653 · 2 · √(4/3) = 9.93655
    b = band([10, 12, 14], coverage=0.95, unit="count", volume=None)
    assert b is not None
    assert b.expected == 12
    assert b.low == pytest.approx(12 - 9.93655, abs=1e-4) and b.high == pytest.approx(12 + 9.93655, abs=1e-4)


def test_poisson_floor_when_past_weeks_agree():
    # identical past values: s = 0, so the band is the Poisson one, 1.959964 · √100 = 19.59964
    b = band([100] * 8, coverage=0.95, unit="count", volume=None)
    assert b is not None and b.high == pytest.approx(119.59964, abs=1e-4)


def test_rate_band_widens_for_few_carts():
    # p 0.7 over 25 carts: 1.959964 · √(0.21 / 25) = 0.179632, wider than the past weeks' spread
    b = band([0.70, 0.70, 0.71, 0.69], coverage=0.95, unit="rate", volume=25)
    assert b is not None and b.high == pytest.approx(0.7 + 0.179632, abs=1e-4)
    assert band([0.7, 0.7], coverage=0.95, unit="rate", volume=25) is None  # under 3 weeks: no band


def test_point_and_history_hours():
    assert point("cart_abandonment", {"carts_converted": 2, "carts_abandoned": 7, "carts_emptied": 1}) == (0.7, 10)
    assert point("cart_abandonment", {"carts_converted": 0, "carts_abandoned": 0, "carts_emptied": 0}) is None
    assert point("session_conversion", {"sessions": 40, "purchasing_sessions": 2}) == (0.05, 40)
    assert point("net_revenue", {"revenue": 100, "discounts": 5, "refunds": 15}) == (80.0, 80.0)
    assert history_hours(H, 2) == [H - dt.timedelta(days=7), H - dt.timedelta(days=14)]


def test_verdicts():
    spec = RuleSpec("cart_abandonment", "up", "medium", 20, 2, (1, 6), 4)
    past = {h: (0.70, 100.0) for h in history_hours(H, 4)}
    assert judge(spec, H, {**past, H: (0.90, 100.0)}, 14).status == BREACH
    assert judge(spec, H, {**past, H: (0.50, 100.0)}, 14).status == NORMAL  # "up" only
    assert judge(spec, H, {**past, H: (0.90, 10.0)}, 14).status == LOW_VOLUME
    assert judge(spec, H, past, 14).status == NO_DATA  # a missing hour is no data, never zero
    assert judge(spec, H, {**past, H: (0.90, 100.0)}, 3).status == QUIET
    assert in_quiet(23, (22, 6)) and in_quiet(2, (22, 6)) and not in_quiet(12, (22, 6))


def _v(i: int, status: str) -> HourVerdict:
    return HourVerdict(H + dt.timedelta(hours=i), status, actual=math.nan)


def test_k_consecutive_breaches_fire_once_and_the_first_normal_hour_ends():
    spec = RuleSpec("events", "both", "medium", 0, 3, None, 8)
    state = RuleState()
    statuses = [BREACH, BREACH, NO_DATA, BREACH, BREACH, BREACH, BREACH, NO_DATA, LOW_VOLUME, BREACH, NORMAL, BREACH]
    out = advance(spec, state, [_v(i, s) for i, s in enumerate(statuses)])
    assert [(k, h) for k, h, _ in out.transitions] == [("fired", H + dt.timedelta(hours=3)),
                                                        ("ended", H + dt.timedelta(hours=10))]
    assert state.streak == 1 and not state.incident_open
