"""Judging complete hours against their band and turning runs of them into incidents
(docs/alerts-and-reports.md#alert-rules). PURE.

An hour is ``no_data`` (no rollup row, or too little history for a band), ``quiet`` (inside the rule's
quiet hours), ``low_volume`` (under the rule's minimum), ``breach`` (outside the band on the rule's
side) or ``normal``. K breaches in a row open an incident (once: it stays open while hours keep
breaching or have no verdict); K *settled* hours (normal and close to the expected value, ``settled``)
with no breach between them end it, as of the first of them (so an hour that happens to fall just
inside the band does not end an incident that is still going on). A ``no_data``
hour breaks a run of breaches that has not fired yet; quiet and low-volume hours leave a run as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from alerts.baseline import COVERAGE, band, history_hours
from alerts.metrics import METRICS

NORMAL, BREACH, NO_DATA, LOW_VOLUME, QUIET = "normal", "breach", "no_data", "low_volume", "quiet"
SETTLED = 0.6  # an hour ends an incident within this share of the band's half-width of the expected value


@dataclass(frozen=True)
class RuleSpec:
    metric: str
    direction: str  # up | down | both
    sensitivity: str  # low | medium | high
    min_volume: float
    k: int
    quiet: tuple[int, int] | None  # store hours [start, end), wrapping past midnight
    weeks: int


@dataclass
class RuleState:
    streak: int = 0
    streak_start: dt.datetime | None = None
    incident_open: bool = False


@dataclass(frozen=True)
class HourVerdict:
    hour: dt.datetime
    status: str
    actual: float | None = None
    expected: float | None = None
    low: float | None = None
    high: float | None = None
    volume: float | None = None


@dataclass
class Outcome:
    verdicts: list[HourVerdict] = field(default_factory=list)
    # In order: ("fired", the run's first hour, the verdict that fired) or ("ended", the first hour back
    # inside the band, its verdict).
    transitions: list[tuple[str, dt.datetime, HourVerdict]] = field(default_factory=list)


def in_quiet(local_hour: int, quiet: tuple[int, int] | None) -> bool:
    if quiet is None or quiet[0] == quiet[1]:
        return False
    start, end = quiet
    return start <= local_hour < end if start < end else (local_hour >= start or local_hour < end)


def judge(spec: RuleSpec, hour: dt.datetime, series: Mapping[dt.datetime, tuple[float, float]],
          local_hour: int) -> HourVerdict:
    """One hour's verdict from ``series`` (hour → (value, volume); absent = no data)."""
    if in_quiet(local_hour, spec.quiet):
        return HourVerdict(hour, QUIET)
    now = series.get(hour)
    if now is None:
        return HourVerdict(hour, NO_DATA)
    value, volume = now
    past = [series[h] for h in history_hours(hour, spec.weeks) if h in series]
    b = band(past, coverage=COVERAGE[spec.sensitivity], unit=METRICS[spec.metric].unit, volume=volume)
    if b is None:
        return HourVerdict(hour, NO_DATA, actual=value, volume=volume)
    gauge = volume if METRICS[spec.metric].rate else b.expected
    status = NORMAL
    if gauge < spec.min_volume:
        status = LOW_VOLUME
    elif (value > b.high and spec.direction in ("up", "both")) or \
            (value < b.low and spec.direction in ("down", "both")):
        status = BREACH
    return HourVerdict(hour, status, value, b.expected, b.low, b.high, volume)


def settled(v: HourVerdict) -> bool:
    """A normal hour close to its expected value: within ``SETTLED`` of the band's half-width. Only such hours
    end an incident, so an hour of a few dozen carts that drifts just inside the band while the jump goes
    on does not end it (and fire it again an hour later)."""
    if v.status != NORMAL or None in (v.actual, v.expected, v.low, v.high):
        return False
    assert v.actual is not None and v.expected is not None and v.low is not None and v.high is not None
    return v.expected - SETTLED * (v.expected - v.low) <= v.actual <= v.expected + SETTLED * (v.high - v.expected)


def advance(spec: RuleSpec, state: RuleState, verdicts: list[HourVerdict]) -> Outcome:
    """Walk ``verdicts`` (consecutive hours, oldest first) from ``state`` (updated in place). While no
    incident is open, ``state.streak`` counts the run of breaching hours; while one is open, the settled
    hours that will end it (a breach starts that count again; other hours leave it)."""
    out = Outcome(verdicts=verdicts)
    for v in verdicts:
        counts = settled(v) if state.incident_open else v.status == BREACH
        if counts:
            if state.streak == 0:
                state.streak_start = v.hour
            state.streak += 1
            if state.streak >= spec.k:
                assert state.streak_start is not None
                out.transitions.append(("ended" if state.incident_open else "fired", state.streak_start, v))
                state.incident_open = not state.incident_open
                state.streak, state.streak_start = 0, None
        elif v.status == BREACH or (v.status in (NORMAL, NO_DATA) and not state.incident_open):
            state.streak, state.streak_start = 0, None
    return out
