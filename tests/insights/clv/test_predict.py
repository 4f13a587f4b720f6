"""Per-customer predictions and spend tiers (DESIGN §4) from fitted parameters."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from insights.clv.bgnbd import BgNbdParams, GammaGammaParams, expected_orders
from insights.clv.predict import days_to_one_more_order, next_order_date, predict, spend_tiers
from insights.clv.summary import customer_summary


def test_spend_tiers_are_top_ten_percent_high_bottom_forty_percent_low():
    values = np.arange(1, 21, dtype=float)  # 20 customers, 1..20
    tiers = spend_tiers(values)
    assert list(tiers[values >= 19]) == ["high", "high"]
    assert set(tiers[values <= 8]) == {"low"} and list(tiers).count("low") == 8
    assert list(tiers).count("medium") == 10


def test_zero_predicted_value_is_always_low_even_beyond_forty_percent():
    values = np.array([0.0] * 6 + [5.0, 6.0, 7.0, 100.0])
    assert list(spend_tiers(values)) == ["low"] * 6 + ["medium", "medium", "medium", "high"]


def test_days_to_one_more_order_interpolates_and_gives_nan_when_never_reached():
    horizons = (10, 20, 40)
    curve = np.array([[0.5, 1.5, 3.0], [0.1, 0.2, 0.3], [2.0, 4.0, 8.0]])
    days = days_to_one_more_order(curve, horizons)
    assert days[0] == pytest.approx(15.0)
    assert np.isnan(days[1])
    assert days[2] == pytest.approx(5.0)  # from 0 orders at day 0
    assert next_order_date(dt.date(2024, 1, 1), days[0]) == dt.date(2024, 1, 16)
    assert next_order_date(dt.date(2024, 1, 1), days[1]) is None


def test_predictions_per_customer():
    day = np.datetime64("2024-01-01")
    customers = ["loyal", "loyal", "loyal", "loyal", "gone", "gone", "gone", "new"]
    days = [day, day + 30, day + 60, day + 90, day, day + 3, day + 6, day + 80]
    values = [50.0, 50.0, 70.0, 30.0, 10.0, 10.0, 10.0, 20.0]
    summary = customer_summary(customers, days, values, until=dt.date(2024, 4, 1))
    bgnbd = BgNbdParams(r=0.5, alpha=20.0, a=0.8, b=2.5)
    gg = GammaGammaParams(p=6.0, q=4.0, v=20.0)
    out = predict(summary, bgnbd, gg)
    by = {c: i for i, c in enumerate(out.customer)}
    loyal, gone, new = by["loyal"], by["gone"], by["new"]
    assert out.p_alive[loyal] > out.p_alive[gone] and out.p_alive[new] == 1.0
    assert out.orders_365[loyal] > out.orders_90[loyal] > out.orders_90[gone]
    x, t_x, T = summary.x[loyal:loyal + 1], summary.t_x[loyal:loyal + 1], summary.T[loyal:loyal + 1]
    assert out.orders_90[loyal] == pytest.approx(expected_orders(bgnbd, 90, x, t_x, T)[0])
    assert out.clv_12m[loyal] == pytest.approx(out.orders_365[loyal] * out.order_value[loyal])
    assert out.clv_if_active[gone] * out.p_alive[gone] == pytest.approx(out.clv_12m[gone])
    assert out.clv_if_active[gone] > 2 * out.clv_12m[gone]  # probably lapsed: worth more had they stayed
    assert out.order_value[new] == pytest.approx(6.0 * 20.0 / 3.0)  # population mean: no repeats yet
    assert out.tier[loyal] == "high" and out.tier[gone] == "low"
    assert out.next_order_in_days[loyal] < 90


def test_holdout_check_on_cdnow_tracks_the_actual_repeat_orders():
    from insights.clv.holdout import holdout_check
    from tests.insights.clv.cdnow import CALIBRATION_END, read_sample

    # FHL 2005 Figure 4: calibration to week 39, holdout weeks 40–78.
    check = holdout_check(*read_sample(), until=CALIBRATION_END + dt.timedelta(days=273), holdout_days=273)
    assert check["calibration_end"] == "1997-09-30"
    assert [r["repeat_orders"] for r in check["rows"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(r["customers"] for r in check["rows"]) == 2357
    assert check["parameters"]["r"] == pytest.approx(0.243, rel=0.01)
    # 1,882 actual repeat order days in weeks 40–78; BG/NBD expects 1,653 (12% under on this sample).
    assert check["actual_total"] == 1882
    assert check["predicted_total"] == pytest.approx(check["actual_total"], rel=0.15)
    zero, one = check["rows"][0], check["rows"][1]
    assert zero["predicted"] < one["predicted"] and zero["actual"] < one["actual"]
