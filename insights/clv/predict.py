"""Per-customer predictions from fitted BG/NBD and Gamma-Gamma parameters, and spend tiers (docs/metrics.md).

Pure. Time is in days. The 12-month predicted CLV is expected orders in the next 365 days × expected
order value (undiscounted, in the store's money). The expected next order date is the first day on
which the expected number of further orders reaches one (interpolated on a grid of horizons up to two
years); none where that does not happen within two years.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from insights.clv.bgnbd import BgNbdParams, GammaGammaParams, expected_order_value, expected_orders, p_alive
from insights.clv.summary import CustomerSummary

HORIZONS = (7, 14, 21, 30, 45, 60, 90, 120, 150, 180, 240, 300, 365, 450, 540, 630, 730)
HIGH_SHARE = 0.10  # top 10% of predicted 12-month value
LOW_SHARE = 0.40  # bottom 40% (including zero)


class Tier:
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Predictions:
    customer: np.ndarray
    p_alive: np.ndarray
    orders_90: np.ndarray
    orders_365: np.ndarray
    order_value: np.ndarray
    clv_12m: np.ndarray
    clv_if_active: np.ndarray  # had the customer not lapsed: E[orders | alive] × value
    next_order_in_days: np.ndarray  # NaN: no further order expected within two years
    tier: np.ndarray

    def __len__(self) -> int:
        return len(self.customer)


def spend_tiers(values: np.ndarray) -> np.ndarray:
    """high / medium / low by rank of predicted value: the top 10% high, the bottom 40% (zeros too) low.

    Ties are broken by position so that the shares hold exactly; every zero value is low."""
    n = len(values)
    tiers = np.full(n, Tier.MEDIUM, dtype=object)
    if n == 0:
        return tiers
    rank = np.empty(n, dtype=int)
    rank[np.argsort(-values, kind="stable")] = np.arange(n)  # 0 = most valuable
    tiers[rank < int(np.ceil(n * HIGH_SHARE))] = Tier.HIGH
    tiers[rank >= n - int(np.floor(n * LOW_SHARE))] = Tier.LOW
    tiers[values <= 0] = Tier.LOW
    return tiers


def days_to_one_more_order(curve: np.ndarray, horizons: tuple[int, ...] = HORIZONS) -> np.ndarray:
    """Per row of ``curve`` (expected orders at each horizon), the day it reaches 1, linearly
    interpolated (from 0 at day 0); NaN if it never does."""
    grid = np.r_[0.0, np.asarray(horizons, dtype=float)]
    values = np.column_stack([np.zeros(len(curve)), curve])
    reached = values >= 1.0
    out = np.full(len(curve), np.nan)
    hit = reached.any(axis=1)
    j = np.argmax(reached[hit], axis=1)  # first horizon index at or over 1 (≥ 1: column 0 is 0)
    rows = np.flatnonzero(hit)
    lo, hi = values[rows, j - 1], values[rows, j]
    out[rows] = grid[j - 1] + (1.0 - lo) / np.maximum(hi - lo, 1e-12) * (grid[j] - grid[j - 1])
    return out


def predict(summary: CustomerSummary, bgnbd: BgNbdParams, gamma_gamma: GammaGammaParams | None) -> Predictions:
    """Every customer's predictions at the summary's end date (BG/NBD in days)."""
    x, t_x, T = summary.x, summary.t_x, summary.T
    curve = np.column_stack([expected_orders(bgnbd, h, x, t_x, T) for h in HORIZONS]) if len(x) else np.zeros(
        (0, len(HORIZONS)))
    orders_90 = curve[:, HORIZONS.index(90)]
    orders_365 = curve[:, HORIZONS.index(365)]
    if gamma_gamma is not None:
        value = expected_order_value(gamma_gamma, x, summary.m_x)
    else:  # no Gamma-Gamma fit: the customer's own mean order value
        value = summary.total_value / (x + 1)
    value = np.nan_to_num(value, nan=0.0)
    clv = orders_365 * value
    alive = p_alive(bgnbd, x, t_x, T)
    # Dead customers buy nothing, so E[orders | history] = P(alive) × E[orders | alive, history].
    if_active = expected_orders(bgnbd, 365, x, t_x, T, given_alive=True) * value
    return Predictions(customer=summary.customer, p_alive=alive, orders_90=orders_90,
                       orders_365=orders_365, order_value=value, clv_12m=clv, clv_if_active=if_active,
                       next_order_in_days=days_to_one_more_order(curve), tier=spend_tiers(clv))


def next_order_date(until: dt.date, days: float) -> dt.date | None:
    """The expected next order date, or None (NaN: none expected within two years)."""
    if days != days:  # NaN
        return None
    return until + dt.timedelta(days=max(1, round(days)))
