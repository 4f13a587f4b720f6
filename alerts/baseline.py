"""The expected value of an hour and its prediction interval, from the same hour of the week in past
weeks (docs/alerts-and-reports.md#the-expected-band). PURE.

A count or an amount: with n past values of mean m and standard deviation s, the band is
m ± t(n-1) · s · √(1 + 1/n) (a Student-t prediction interval for one new value), widened to the hour's
Poisson noise z · √m for a count where that is larger.

A rate: the expected value is the past weeks pooled, p = Σ successes / Σ volume (V), and the band is the
binomial prediction interval for this hour's volume v, p ± z · √(φ · p(1−p) · (1/v + 1/V)). φ is 1
unless the past weeks spread more than their counting noise explains (Pearson χ² over n − 1 past
values above its 95th percentile), then it is that χ²/(n − 1) (quasi-binomial). Pooling and the known
binomial noise make the band about a third narrower than the t interval on the n noisy past rates at a
few dozen carts an hour, which is what lets a jump be caught there (docs/benchmarks.md#alerts).
Fewer than ``MIN_WEEKS`` past values: no band, the hour is not judged.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from scipy.stats import chi2
from scipy.stats import t as student_t

WEEK = dt.timedelta(days=7)
MIN_WEEKS = 3
COVERAGE = {"low": 0.99, "medium": 0.95, "high": 0.90}
OVERDISPERSION_TEST = 0.95


@dataclass(frozen=True)
class Band:
    expected: float
    low: float
    high: float


def history_hours(hour: dt.datetime, weeks: int) -> list[dt.datetime]:
    """The same hour of the week in each of the ``weeks`` weeks before ``hour``."""
    return [hour - k * WEEK for k in range(1, weeks + 1)]


@lru_cache(maxsize=256)
def _quantiles(coverage: float, df: int) -> tuple[float, float]:
    """(Student t with ``df`` degrees of freedom, standard normal) two-sided quantiles for ``coverage``."""
    q = (1 + coverage) / 2
    return float(student_t.ppf(q, df)), NormalDist().inv_cdf(q)


@lru_cache(maxsize=64)
def _chi2_limit(df: int) -> float:
    return float(chi2.ppf(OVERDISPERSION_TEST, df))


def band(past: list[tuple[float, float]], *, coverage: float, unit: str, volume: float | None) -> Band | None:
    """The band for one hour from its ``past`` (value, volume) points; ``unit`` is "rate", "count" or
    "money" (no counting noise assumed); ``volume`` is this hour's denominator, for a rate."""
    if len(past) < MIN_WEEKS:
        return None
    if unit == "rate":
        return _rate_band(past, coverage, volume)
    values = [x for x, _ in past]
    n = len(values)
    mean = sum(values) / n
    spread = math.sqrt(sum((x - mean) ** 2 for x in values) / (n - 1))
    t, z = _quantiles(coverage, n - 1)
    half = t * spread * math.sqrt(1 + 1 / n)
    if unit == "count":
        half = max(half, z * math.sqrt(max(mean, 0.0)))
    return Band(mean, max(0.0, mean - half), mean + half)


def _rate_band(past: list[tuple[float, float]], coverage: float, volume: float | None) -> Band | None:
    pooled_volume = sum(v for _, v in past)
    if pooled_volume <= 0:
        return None
    p = sum(x * v for x, v in past) / pooled_volume
    variance = max(p * (1 - p), 0.25 / pooled_volume)  # p of 0 or 1 seen: at least one case's worth
    df = len(past) - 1
    pearson = sum((x - p) ** 2 * v for x, v in past) / variance
    phi = pearson / df if pearson > _chi2_limit(df) else 1.0
    _t, z = _quantiles(coverage, df)
    half = z * math.sqrt(phi * variance * (1 / (volume or pooled_volume / len(past)) + 1 / pooled_volume))
    return Band(p, max(0.0, p - half), min(1.0, p + half))
