"""An experiment's readout from its variants' sums (docs/experiments.md#reading-the-result). PURE.

``readout_build`` turns per-variant ``Moments`` into the table (conversion with its Wilson interval,
the difference to control with its interval, probability to be best, net revenue per visitor), the
sample-ratio check, and the sentences a store owner acts on. A winner is named only when the
difference's 95% interval excludes 0, its probability reaches ``win_probability``, the split is as
designed (no SRM) and the experiment is no longer young (``min_days``): see the docs for why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from experiments import stats
from experiments.stats import Interval, MeanDifference, Moments

CONTROL_NAMES = ("control", "a", "baseline", "original", "default")


@dataclass(frozen=True)
class Design:
    """What the readout needs besides the sums: names, split, dates and thresholds."""

    name: str
    control: str = ""  # blank: a variant named control/A/baseline/original/default, else the first by name
    weights: Mapping[str, float] = field(default_factory=dict)  # the designed split; empty: equal
    started_at: datetime | None = None
    ended_at: datetime | None = None
    now: datetime | None = None
    min_days: int = 7
    srm_alpha: float = 0.001
    win_probability: float = 0.95
    currency: str = "$"


@dataclass(frozen=True)
class VariantReadout:
    name: str
    visitors: int
    conversions: int
    rate: float
    rate_interval: Interval | None
    probability_best: float
    revenue_per_visitor: float
    revenue_interval: Interval | None
    difference: float | None = None  # to control, in rate (0.012 = 1.2 points)
    difference_interval: Interval | None = None
    probability_beats_control: float | None = None
    revenue: MeanDifference | None = None  # revenue per visitor to control
    bots: int = 0
    conflicting: int = 0


@dataclass(frozen=True)
class Readout:
    experiment: str
    control: str
    variants: list[VariantReadout]
    days: float | None
    young: bool
    srm_p: float | None
    srm: bool
    winner: str | None
    sentences: list[str]
    recommendation: str


def control_of(names: Sequence[str], chosen: str = "") -> str:
    if chosen in names:
        return chosen
    for candidate in CONTROL_NAMES:
        for name in names:
            if name.lower() == candidate:
                return name
    return sorted(names)[0]


def readout_build(design: Design, moments: Mapping[str, Moments],
                  excluded: Mapping[str, tuple[int, int]] | None = None) -> Readout:
    """The readout of ``moments`` (counted visitors per variant); ``excluded``: (bots, visitors seen in
    two variants) per variant, counted apart."""
    excluded = excluded or {}
    names = sorted(set(moments) | set(excluded))
    if not names:
        return Readout(design.name, "", [], _days(design), True, None, False, None,
                       ["No exposures recorded yet."], "Send exposures to start the experiment.")
    control = control_of(names, design.control)
    ordered = [control] + [n for n in names if n != control]
    ms = [moments.get(n, Moments(0, 0)) for n in ordered]
    best = stats.probability_best(ms)
    theta = stats.cuped_theta(ms)
    two = best[1] if len(ms) == 2 else None  # with two variants, "best" is "beats control"
    rows = [_variant(n, m, p, ms[0], theta, excluded.get(n, (0, 0)), n == control, two)
            for n, m, p in zip(ordered, ms, best, strict=True)]
    days = _days(design)
    young = days is None or days < design.min_days
    srm_p = stats.srm_p_value([m.n for m in ms], [float(design.weights.get(n, 1.0)) for n in ordered])
    srm = srm_p is not None and srm_p < design.srm_alpha
    winner = _winner(design, rows[1:], young, srm)
    sentences = _sentences(design, rows, days, young, srm_p, srm, winner)
    return Readout(design.name, control, rows, days, young, srm_p, srm, winner, sentences,
                   _recommendation(rows, young, srm, winner, design.win_probability))


def _variant(name: str, m: Moments, best: float, control: Moments, theta: float | None,
             excluded: tuple[int, int], is_control: bool, pairwise: float | None = None) -> VariantReadout:
    base = dict(name=name, visitors=m.n, conversions=m.conversions, rate=m.rate,
                rate_interval=stats.rate_interval(m.conversions, m.n), probability_best=best,
                revenue_per_visitor=m.mean_y, revenue_interval=stats.mean_interval(m),
                bots=excluded[0], conflicting=excluded[1])
    if is_control:
        return VariantReadout(**base)  # type: ignore[arg-type]
    diff = stats.rate_difference(control, m)
    beats = (pairwise if pairwise is not None else stats.probability_best([control, m])[1]) if control.n and m.n \
        else None
    return VariantReadout(**base, difference=diff[0] if diff else None,  # type: ignore[arg-type]
                          difference_interval=diff[1] if diff else None, probability_beats_control=beats,
                          revenue=stats.revenue_difference(control, m, theta))


def _days(design: Design) -> float | None:
    if design.started_at is None or design.now is None:
        return None
    end = design.ended_at if design.ended_at is not None and design.ended_at < design.now else design.now
    return max(0.0, (end - design.started_at).total_seconds() / 86400)


def _significant(v: VariantReadout, win_probability: float) -> bool:
    if v.difference_interval is None or v.probability_beats_control is None:
        return False
    low, high = v.difference_interval
    return (low > 0 and v.probability_beats_control >= win_probability) or (
        high < 0 and 1 - v.probability_beats_control >= win_probability)


def _winner(design: Design, challengers: list[VariantReadout], young: bool, srm: bool) -> str | None:
    """The challenger that converts better than control (the likeliest, if several); None when no
    challenger clears the bar, while young, or with a sample ratio mismatch."""
    if young or srm:
        return None
    better = [v for v in challengers if _significant(v, design.win_probability) and (v.difference or 0) > 0]
    return max(better, key=lambda v: v.probability_beats_control or 0).name if better else None


def points(x: float) -> str:
    return f"{x * 100:+.1f}"


def _money(design: Design, md: MeanDifference) -> str:
    sign = "+" if md.difference >= 0 else "-"
    low, high = md.interval
    text = f"{sign}{design.currency}{abs(md.difference):.2f} [{low:.2f}, {high:.2f}]"
    if md.cuped:
        text += f" (adjusted for pre-exposure revenue, CUPED: interval {md.narrowed:.0%} narrower)"
    return text


def comparison_sentence(design: Design, control: VariantReadout, v: VariantReadout, young: bool) -> str:
    """One challenger against control, as a store owner reads it."""
    if v.difference is None or v.difference_interval is None or v.probability_beats_control is None:
        return f"{v.name}: no visitors yet."
    low, high = v.difference_interval
    diff = f"{points(v.difference)} points [{low * 100:.1f}, {high * 100:.1f}]"
    revenue = f"; revenue per visitor {_money(design, v.revenue)}" if v.revenue is not None else ""
    if _significant(v, design.win_probability):
        better = v.difference > 0
        p = v.probability_beats_control if better else 1 - v.probability_beats_control
        verb = "converts better" if better else "converts worse"
        lead = f"{v.name} {verb} than {control.name} with {p:.0%} probability: {diff}{revenue}."
        return lead + (" Too early to call: see the warning." if young else "")
    effect = v.difference if v.difference != 0 else control.rate * 0.1  # else: 10% of control's rate
    needed = stats.visitors_needed(control.rate, effect)
    more = None if needed is None else needed - min(control.visitors, v.visitors)
    if more is not None and more > 0:
        return (f"{v.name} against {control.name}: not enough data yet: about {more:,} more visitors per "
                f"variant to detect this effect ({points(effect)} points); now {diff}{revenue}.")
    return f"{v.name} and {control.name} convert alike: {diff}{revenue}."


def _sentences(design: Design, rows: list[VariantReadout], days: float | None, young: bool,
               srm_p: float | None, srm: bool, winner: str | None) -> list[str]:
    out: list[str] = []
    if srm:
        total = sum(v.visitors for v in rows) or 1
        split = ", ".join(f"{v.name} {v.visitors / total:.1%}" for v in rows)
        designed = "/".join(f"{design.weights.get(v.name, 1.0):g}" for v in rows)
        out.append(f"Sample ratio mismatch (p = {srm_p:.1g} < {design.srm_alpha:g}): {split} for a {designed} "
                   "design. Visitors are not split as designed: fix the assignment before trusting any result.")
    if young:
        day = 0 if days is None else int(days) + 1
        out.append(f"Day {day} of at least {design.min_days}: looking every day and stopping at the first "
                   f"winner inflates false winners; no winner is named before day {design.min_days}.")
    out.extend(comparison_sentence(design, rows[0], v, young) for v in rows[1:])
    bots, conflicting = sum(v.bots for v in rows), sum(v.conflicting for v in rows)
    if bots or conflicting:
        out.append(f"{bots:,} bot visitors and {conflicting:,} visitors seen in two variants are counted apart.")
    return out


def _recommendation(rows: list[VariantReadout], young: bool, srm: bool, winner: str | None,
                    win_probability: float) -> str:
    if srm:
        return "Check how visitors are assigned: the split is not the one designed."
    if winner is not None:
        return f"Roll out {winner}."
    if not young and any(_significant(v, win_probability) and (v.difference or 0) < 0 for v in rows[1:]):
        return f"Keep {rows[0].name}: no challenger does better."
    return "Keep the experiment running."
