"""The statistics of an A/B readout (docs/experiments.md#statistics). PURE: numbers in, numbers out.

- Conversion per variant with a Wilson 95% interval (``insights.stats.wilson_interval``).
- The difference of two conversion rates with Newcombe's hybrid score interval (method 10 of Newcombe
  1998, "Interval estimation for the difference between independent proportions"): built from the
  two Wilson intervals, it keeps its coverage near 95% at small rates where the Wald interval does not.
- Probability each variant is best: Beta(1 + conversions, 1 + non-conversions) posteriors (a uniform
  prior), Monte Carlo with a fixed seed (the same data always gives the same figure).
- Net revenue per visitor: mean with a normal interval; the difference by Welch's standard error.
- CUPED (Deng et al. 2013): the revenue difference adjusted by each visitor's pre-exposure net revenue,
  θ pooled within variants; used only where it narrows the interval.
- Sample ratio mismatch: Pearson's chi-square of exposed visitors against the design's split.
- Visitors needed: the two-proportion sample size for a two-sided 5% test with 80% power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats as sps

from insights.stats import wilson_interval

Z95 = 1.959963984540054
Z80 = 0.8416212335729143  # power 80%
DRAWS = 20_000
SEED = 20_261_206


@dataclass(frozen=True, slots=True)
class Moments:
    """One variant's visitors and sums: conversions, net revenue after exposure (y) and before it (x)."""

    n: int
    conversions: int
    sum_y: float = 0.0
    sum_yy: float = 0.0
    sum_x: float = 0.0
    sum_xx: float = 0.0
    sum_xy: float = 0.0

    @property
    def rate(self) -> float:
        return self.conversions / self.n if self.n else 0.0

    @property
    def mean_y(self) -> float:
        return self.sum_y / self.n if self.n else 0.0

    @property
    def mean_x(self) -> float:
        return self.sum_x / self.n if self.n else 0.0

    def var_y(self) -> float:
        return _var(self.n, self.sum_y, self.sum_yy)

    def var_x(self) -> float:
        return _var(self.n, self.sum_x, self.sum_xx)

    def cov_xy(self) -> float:
        return (self.sum_xy - self.sum_x * self.sum_y / self.n) / (self.n - 1) if self.n > 1 else 0.0


def _var(n: int, s: float, ss: float) -> float:
    return max(0.0, (ss - s * s / n) / (n - 1)) if n > 1 else 0.0


Interval = tuple[float, float]


def rate_interval(conversions: int, n: int) -> Interval | None:
    low, high = wilson_interval(conversions, n)
    return None if low is None or high is None else (low, high)


def rate_difference(control: Moments, variant: Moments) -> tuple[float, Interval] | None:
    """``variant.rate − control.rate`` with Newcombe's hybrid score 95% interval."""
    a, b = rate_interval(control.conversions, control.n), rate_interval(variant.conversions, variant.n)
    if a is None or b is None:
        return None
    p1, p2 = control.rate, variant.rate
    d = p2 - p1
    low = d - math.sqrt((p2 - b[0]) ** 2 + (a[1] - p1) ** 2)
    high = d + math.sqrt((b[1] - p2) ** 2 + (p1 - a[0]) ** 2)
    return d, (low, high)


def probability_best(variants: Sequence[Moments], *, draws: int = DRAWS, seed: int = SEED) -> list[float]:
    """P(each variant has the highest conversion rate) under Beta(1 + k, 1 + n − k) posteriors."""
    if not variants:
        return []
    return list(_probability_best(tuple((m.conversions, m.n) for m in variants), draws, seed))


@lru_cache(maxsize=4096)
def _probability_best(counts: tuple[tuple[int, int], ...], draws: int, seed: int) -> tuple[float, ...]:
    """The draws for these (conversions, visitors): a fixed seed makes them a function of the counts, so an
    unchanged experiment is not drawn again on every readout."""
    rng = np.random.default_rng(seed)
    samples = np.column_stack([rng.beta(1 + k, 1 + n - k, size=draws) for k, n in counts])
    wins = np.bincount(samples.argmax(axis=1), minlength=len(counts))
    return tuple(float(w) / draws for w in wins)


def mean_interval(m: Moments) -> Interval | None:
    """Net revenue per visitor: mean ± 1.96 standard errors."""
    if m.n < 2:
        return None
    half = Z95 * math.sqrt(m.var_y() / m.n)
    return m.mean_y - half, m.mean_y + half


@dataclass(frozen=True, slots=True)
class MeanDifference:
    difference: float
    interval: Interval
    cuped: bool = False  # adjusted by pre-exposure revenue
    narrowed: float = 0.0  # how much CUPED narrowed the interval (0.25: a quarter narrower)


def mean_difference(control: Moments, variant: Moments, theta: float | None = None) -> MeanDifference | None:
    """``variant.mean_y − control.mean_y`` with Welch's standard error; with ``theta`` (CUPED), both
    means and variances adjusted by the pre-exposure covariate x: y − θ(x − x̄)."""
    if control.n < 2 or variant.n < 2:
        return None
    if theta is None:
        d = variant.mean_y - control.mean_y
        se = math.sqrt(variant.var_y() / variant.n + control.var_y() / control.n)
    else:
        d = (variant.mean_y - theta * variant.mean_x) - (control.mean_y - theta * control.mean_x)
        se = math.sqrt(_adjusted_var(variant, theta) / variant.n + _adjusted_var(control, theta) / control.n)
    return MeanDifference(d, (d - Z95 * se, d + Z95 * se), cuped=theta is not None)


def _adjusted_var(m: Moments, theta: float) -> float:
    return max(0.0, m.var_y() - 2 * theta * m.cov_xy() + theta * theta * m.var_x())


def cuped_theta(variants: Sequence[Moments]) -> float | None:
    """θ = cov(x, y) / var(x), pooled within variants; None when x does not vary."""
    dof = sum(m.n - 1 for m in variants if m.n > 1)
    sxx = sum(m.var_x() * (m.n - 1) for m in variants if m.n > 1)
    if dof <= 0 or sxx <= 0:
        return None
    sxy = sum(m.cov_xy() * (m.n - 1) for m in variants if m.n > 1)
    return sxy / sxx


def revenue_difference(control: Moments, variant: Moments, theta: float | None) -> MeanDifference | None:
    """The revenue-per-visitor difference: CUPED-adjusted where that narrows the interval (by how
    much is kept), else the plain one."""
    plain = mean_difference(control, variant)
    if plain is None or theta is None:
        return plain
    adjusted = mean_difference(control, variant, theta)
    if adjusted is None:
        return plain
    width, cuped_width = plain.interval[1] - plain.interval[0], adjusted.interval[1] - adjusted.interval[0]
    if width <= 0 or cuped_width >= width * 0.99:
        return plain
    return MeanDifference(adjusted.difference, adjusted.interval, cuped=True, narrowed=1 - cuped_width / width)


def srm_p_value(counts: Sequence[int], weights: Sequence[float]) -> float | None:
    """Pearson chi-square p-value of the visitors per variant against the designed split."""
    total, wsum = sum(counts), sum(weights)
    if len(counts) < 2 or total == 0 or wsum <= 0:
        return None
    expected = [total * w / wsum for w in weights]
    return float(sps.chisquare(list(counts), expected).pvalue)


def visitors_needed(p_control: float, difference: float) -> int | None:
    """Visitors per variant for a two-sided 5% test with 80% power to detect ``difference`` from a
    control rate of ``p_control`` (None when there is no effect to detect)."""
    p2 = min(max(p_control + difference, 0.0), 1.0)
    if difference == 0 or p_control <= 0:
        return None
    spread = p_control * (1 - p_control) + p2 * (1 - p2)
    return math.ceil((Z95 + Z80) ** 2 * spread / (difference * difference))
