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
    settled,
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


def _v(i: int, status: str, actual: float = 100.0) -> HourVerdict:
    """Hour ``i`` with a band of 80–120 around 100 (``actual`` 100: a settled hour when normal)."""
    return HourVerdict(H + dt.timedelta(hours=i), status, actual=actual, expected=100.0, low=80.0, high=120.0)


def test_k_consecutive_breaches_fire_once_and_k_settled_hours_end():
    spec = RuleSpec("events", "both", "medium", 0, 3, None, 8)
    state = RuleState()
    hours = [_v(0, BREACH), _v(1, BREACH), _v(2, NO_DATA), _v(3, BREACH), _v(4, BREACH), _v(5, BREACH), _v(6, BREACH),
             _v(7, NO_DATA), _v(8, LOW_VOLUME), _v(9, BREACH), _v(10, NORMAL), _v(11, NORMAL), _v(12, BREACH),
             _v(13, NORMAL), _v(14, NORMAL, 115.0), _v(15, NORMAL, 87.0), _v(16, LOW_VOLUME), _v(17, NORMAL, 91.0),
             _v(18, NORMAL), _v(19, BREACH)]
    out = advance(spec, state, hours)
    # fired at the third breach in a row (hours 3-5); 10-11 are two settled hours, not three, and 12 breaches;
    # 14 (115) and 15 (87) are inside the band but not within 60% of its half-width of 100 (88–112): they
    # neither count nor break the run of 13, 17, 18: ended as of hour 13, when hour 18 was judged
    assert [(k, h, v.hour) for k, h, v in out.transitions] == [
        ("fired", H + dt.timedelta(hours=3), H + dt.timedelta(hours=5)),
        ("ended", H + dt.timedelta(hours=13), H + dt.timedelta(hours=18))]
    assert state.streak == 1 and state.streak_start == H + dt.timedelta(hours=19) and not state.incident_open


def test_settled_hours():
    assert settled(_v(0, NORMAL, 112.0)) and settled(_v(0, NORMAL, 88.0))  # 100 ± 0.6 · 20
    assert not settled(_v(0, NORMAL, 112.5)) and not settled(_v(0, NORMAL, 87.5))
    assert not settled(_v(0, BREACH)) and not settled(_v(0, LOW_VOLUME))
    assert not settled(HourVerdict(H, NORMAL, actual=100.0))  # no band: nothing to settle in
