"""Small pure statistics helpers (no ORM)."""

from __future__ import annotations

import math


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float | None, float | None]:
    """Wilson score 95% interval for a proportion; (None, None) without trials."""
    if trials <= 0:
        return None, None
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(numerator: float, denominator: float) -> float | None:
    """A fraction, or None when the denominator is 0."""
    return None if not denominator else numerator / denominator


def separated_best(
    groups: list[tuple[str, int, int]], *, min_trials: int = 30
) -> tuple[str, float, float, float] | None:
    """The group whose Wilson interval lies wholly above every other group's, as (name, rate, low, high).

    ``groups`` are (name, successes, trials); groups with fewer than ``min_trials`` are not compared, and
    at least two comparable groups are needed. None when no group is clearly the highest.
    """
    usable = [(name, k, n) for name, k, n in groups if n >= min_trials]
    if len(usable) < 2:
        return None
    scored = []
    for name, k, n in usable:
        low, high = wilson_interval(k, n)
        scored.append((k / n, name, low or 0.0, high or 0.0))
    scored.sort(reverse=True)
    best = scored[0]
    if all(best[2] > other[3] for other in scored[1:]):
        return best[1], best[0], best[2], best[3]
    return None


def quintile_scores(values: list[float], *, higher_is_better: bool = True) -> list[int]:
    """Scores 1..5 by rank (equal values share a score); 5 is best."""
    n = len(values)
    if n == 0:
        return []
    order = sorted(range(n), key=lambda i: values[i])
    scores = [0] * n
    first_rank: dict[float, int] = {}
    for rank, i in enumerate(order):
        first_rank.setdefault(values[i], rank)
    for i in range(n):
        q = 1 + (first_rank[values[i]] * 5) // n
        scores[i] = q if higher_is_better else 6 - q
    return scores


def rfm_segment(r: int, fm: int) -> str:
    """Named segment for recency score ``r`` and frequency/monetary score ``fm`` (1..5 each; the usual
    R and FM of RFM analysis)."""
    if r >= 4:
        if fm >= 4:
            return "Champions"
        if fm >= 2:
            return "Potential loyalists"
        return "New"
    if r == 3:
        if fm >= 4:
            return "Loyal"
        if fm == 3:
            return "Potential loyalists"
        return "Hibernating"
    if r == 2:
        if fm >= 5:
            return "Can't lose"
        if fm >= 3:
            return "At risk"
        return "Hibernating"
    if fm >= 4:
        return "Can't lose"
    if fm == 3:
        return "At risk"
    return "Lost"


def median_of_counts(counts: list[tuple[float, int]]) -> float | None:
    """The median of a histogram given as (value, how many) pairs; None when it is empty."""
    ordered = sorted((v, n) for v, n in counts if n > 0)
    total = sum(n for _v, n in ordered)
    if total == 0:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2  # 0-based ranks of the middle value(s)
    seen = 0
    lower = upper = None
    for value, n in ordered:
        if lower is None and lower_rank < seen + n:
            lower = value
        if upper_rank < seen + n:
            upper = value
            break
        seen += n
    assert lower is not None and upper is not None
    return (lower + upper) / 2
