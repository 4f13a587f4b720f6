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
    b = band([(10, 10), (12, 12), (14, 14)], coverage=0.95, unit="count", volume=None)
    assert b is not None
    assert b.expected == 12
    assert b.low == pytest.approx(12 - 9.93655, abs=1e-4) and b.high == pytest.approx(12 + 9.93655, abs=1e-4)


def test_poisson_floor_when_past_weeks_agree():
    # identical past values: s = 0, so the band is the Poisson one, 1.959964 · √100 = 19.59964
    b = band([(100, 100)] * 8, coverage=0.95, unit="count", volume=None)
    assert b is not None and b.high == pytest.approx(119.59964, abs=1e-4)


def test_rate_band_is_the_pooled_binomial_prediction_interval():
    # Weeks that agree (0.70, 0.71, 0.69 over 100 carts each): pooled p 0.7, Pearson χ² 0.095 < 5.99
    # (χ² 95th percentile, 2 df), φ = 1: half = 1.959964 · √(0.21 · (1/25 + 1/300)).
    # Weeks that spread (0.6, 0.8, 0.7): χ² = 0.01·100·2 / 0.21 = 9.52 > 5.99, φ = 4.76.
    agree = band([(0.70, 100), (0.71, 100), (0.69, 100)], coverage=0.95, unit="rate", volume=25)
    assert agree is not None and agree.expected == pytest.approx(0.7)
    assert agree.high == pytest.approx(0.7 + 1.959964 * math.sqrt(0.21 * (1 / 25 + 1 / 300)), abs=1e-5)
    spread = band([(0.6, 100), (0.8, 100), (0.7, 100)], coverage=0.95, unit="rate", volume=25)
    phi = (0.01 * 100 * 2 / 0.21) / 2
    assert spread is not None and spread.high == pytest.approx(
        min(1.0, 0.7 + 1.959964 * math.sqrt(phi * 0.21 * (1 / 25 + 1 / 300))), abs=1e-5)
    assert spread.low == pytest.approx(0.7 - 1.959964 * math.sqrt(phi * 0.21 * (1 / 25 + 1 / 300)), abs=1e-5)


def test_rate_band_weighs_weeks_by_volume():
    # 0.5 over 10 carts, 0.8 over 90 and over 100: pooled (5 + 72 + 80) / 200 = 0.785, not the mean 0.7
    b = band([(0.5, 10), (0.8, 90), (0.8, 100)], coverage=0.95, unit="rate", volume=50)
    assert b is not None and b.expected == pytest.approx(157 / 200)
    assert band([(0.7, 100), (0.7, 100)], coverage=0.95, unit="rate", volume=25) is None  # under 3 weeks


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


def test_k_consecutive_breaches_fire_once_and_k_normal_hours_end():
    spec = RuleSpec("events", "both", "medium", 0, 3, None, 8)
    state = RuleState()
    statuses = [BREACH, BREACH, NO_DATA, BREACH, BREACH, BREACH, BREACH, NO_DATA, LOW_VOLUME, BREACH, NORMAL,
                NORMAL, BREACH, NORMAL, NORMAL, LOW_VOLUME, NORMAL, BREACH]
    out = advance(spec, state, [_v(i, s) for i, s in enumerate(statuses)])
    # fired at the third breach in a row (hours 3-5); hours 10-11 are two normal hours, not three; 13, 14,
    # (15 low volume), 16 are three: ended as of hour 13
    assert [(k, h, v.hour) for k, h, v in out.transitions] == [
        ("fired", H + dt.timedelta(hours=3), H + dt.timedelta(hours=5)),
        ("ended", H + dt.timedelta(hours=13), H + dt.timedelta(hours=16))]
    assert state.streak == 1 and state.streak_start == H + dt.timedelta(hours=17) and not state.incident_open
