"""BG/NBD and Gamma-Gamma by maximum likelihood: the CDNOW sample gives the published parameters, and a
population simulated from known parameters is recovered."""

from __future__ import annotations

import numpy as np
import pytest

from insights.clv.bgnbd import (
    BgNbdParams,
    FitError,
    GammaGammaParams,
    bgnbd_fit,
    expected_order_value,
    expected_orders,
    gamma_gamma_fit,
    p_alive,
)
from insights.clv.summary import customer_summary
from tests.insights.clv.cdnow import (
    BGNBD_PUBLISHED,
    CALIBRATION_END,
    GAMMA_GAMMA_PUBLISHED,
    read_sample,
    within,
)

WEEK = 7.0


@pytest.fixture(scope="module")
def cdnow():
    return customer_summary(*read_sample(), until=CALIBRATION_END)


def test_the_cdnow_calibration_summary_has_the_papers_counts(cdnow):
    assert len(cdnow) == 2357
    assert int((cdnow.x > 0).sum()) == 946
    assert int(cdnow.x.sum()) == 2457  # as in lifetimes' cdnow_customers_summary (the paper's data)
    first = list(cdnow.customer).index("00004")  # three orders to 1997-09-30, two of them repeats
    assert (cdnow.x[first], round(cdnow.t_x[first] / WEEK, 2), round(cdnow.T[first] / WEEK, 2)) == (2, 30.43, 38.86)
    assert cdnow.m_x[first] == pytest.approx((29.73 + 14.96) / 2)  # mean of the repeats, not the first


def test_bgnbd_matches_the_published_parameters_in_weeks_within_one_percent(cdnow):
    fit = bgnbd_fit(cdnow.x, cdnow.t_x / WEEK, cdnow.T / WEEK)
    assert within(fit.params.as_dict(), BGNBD_PUBLISHED) == {}
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)  # FHL 2005 Table 1
    assert fit.customers == 2357


def test_alpha_scales_with_the_time_unit_and_nothing_else_does(cdnow):
    weeks = bgnbd_fit(cdnow.x, cdnow.t_x / WEEK, cdnow.T / WEEK).params
    days = bgnbd_fit(cdnow.x, cdnow.t_x, cdnow.T).params
    assert days.alpha / WEEK == pytest.approx(weeks.alpha, rel=1e-3)
    assert (days.r, days.a, days.b) == pytest.approx((weeks.r, weeks.a, weeks.b), rel=1e-3)


def test_gamma_gamma_matches_the_published_parameters_on_the_946_repeat_buyers(cdnow):
    fit = gamma_gamma_fit(cdnow.x, cdnow.m_x)
    assert fit.customers == 946
    assert within(fit.params.as_dict(), GAMMA_GAMMA_PUBLISHED) == {}


def test_conditional_expectations_match_the_papers_worked_example():
    # FHL 2005 §5: a customer with x = 2, t_x = 30.43, T = 38.86 weeks expects 1.226 orders in the
    # next 39 weeks (published parameters).
    params = BgNbdParams(**BGNBD_PUBLISHED)
    assert expected_orders(params, 39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=0.002)
    # No repeat purchase yet: BG/NBD says still alive; a long silence after repeats lowers P(alive).
    alive = p_alive(params, [0, 2, 2], [0, 38.0, 5.0], [38.86, 38.86, 38.86])
    assert alive[0] == 1.0 and alive[1] > 0.8 > 0.2 > alive[2]


def test_expected_order_value_shrinks_towards_the_population_mean():
    params = GammaGammaParams(**GAMMA_GAMMA_PUBLISHED)
    population = 6.25 * 15.44 / (3.74 - 1)
    values = expected_order_value(params, [0, 1, 50], [0, 100.0, 100.0])
    assert values[0] == pytest.approx(population)
    assert population < values[1] < values[2] < 100.0


def simulate_bgnbd(params: BgNbdParams, n: int, T: float, seed: int) -> tuple[np.ndarray, ...]:
    """(x, t_x, T) for n customers drawn from BG/NBD, all observed for T (continuous time)."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rates[i])
            if t > T:
                break
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < dropout[i]:
                break
    return x, t_x, np.full(n, T)


def test_a_population_simulated_from_known_parameters_is_recovered():
    true = BgNbdParams(r=0.8, alpha=40.0, a=0.6, b=3.0)  # days
    x, t_x, T = simulate_bgnbd(true, 8000, 365.0, seed=7)
    fit = bgnbd_fit(x, t_x, T).params
    # Tolerance: r and α within 10%, a and b within 25% (a, b are less well identified at n = 8,000).
    assert fit.r == pytest.approx(true.r, rel=0.10) and fit.alpha == pytest.approx(true.alpha, rel=0.10)
    assert fit.a == pytest.approx(true.a, rel=0.25) and fit.b == pytest.approx(true.b, rel=0.25)


def test_too_little_data_is_refused():
    with pytest.raises(FitError):
        bgnbd_fit([0, 0, 0], [0, 0, 0], [10, 10, 10])
    with pytest.raises(FitError):
        bgnbd_fit([1], [5], [3])
    with pytest.raises(FitError):
        gamma_gamma_fit([0, 1], [0, 10.0])
