"""The expected value of an hour and its prediction interval, from the same hour of the week in past
weeks (docs/alerts-and-reports.md#the-expected-band). PURE.

With n past values of mean m and standard deviation s, the band is m ± t(n-1) · s · √(1 + 1/n) (a
Student-t prediction interval for one new value), widened where the hour's own counting noise is
larger than what the past weeks showed: for a rate p over v sessions or carts, z · √(p(1−p)/v); for a
count, z · √m (Poisson). Fewer than ``MIN_WEEKS`` past values: no band, the hour is not
judged.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from scipy.stats import t as student_t

WEEK = dt.timedelta(days=7)
MIN_WEEKS = 3
COVERAGE = {"low": 0.99, "medium": 0.95, "high": 0.90}


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


def band(past: list[float], *, coverage: float, unit: str, volume: float | None) -> Band | None:
    """The band for one hour from its ``past`` values; ``unit`` is "rate", "count" or "money" (no counting
    noise assumed); ``volume`` is this hour's denominator, for a rate."""
    if len(past) < MIN_WEEKS:
        return None
    n = len(past)
    mean = sum(past) / n
    spread = math.sqrt(sum((x - mean) ** 2 for x in past) / (n - 1))
    t, z = _quantiles(coverage, n - 1)
    half = t * spread * math.sqrt(1 + 1 / n)
    if unit == "rate":
        p = min(max(mean, 0.0), 1.0)
        if volume:
            half = max(half, z * math.sqrt(p * (1 - p) / volume))
        return Band(mean, max(0.0, mean - half), min(1.0, mean + half))
    if unit == "count":
        half = max(half, z * math.sqrt(max(mean, 0.0)))
    return Band(mean, max(0.0, mean - half), mean + half)
