"""Backtest of an alert rule over hourly rows (``alerts.simulation`` or real rollups): every hour judged
as the live evaluation judges it, incidents counted (docs/alerts-and-reports.md#backtest). PURE."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from alerts.evaluation import RuleSpec, RuleState, advance, judge
from alerts.metrics import point


def metric_series(metric: str, rows: Iterable[Mapping]) -> dict[dt.datetime, tuple[float, float]]:
    out = {}
    for row in rows:
        p = point(metric, row)
        if p is not None:
            out[row["hour"]] = p
    return out


Incidents = list[tuple[dt.datetime, dt.datetime | None]]


def backtest(spec: RuleSpec, rows: list[Mapping], judged_from: dt.datetime) -> Incidents:
    """The incidents ``spec`` opens over ``rows`` from ``judged_from`` on: (first hour, first hour back
    inside the band or None)."""
    series = metric_series(spec.metric, rows)
    hours = [r["hour"] for r in rows if r["hour"] >= judged_from]
    outcome = advance(spec, RuleState(), [judge(spec, h, series, h.hour) for h in hours])
    incidents: Incidents = []
    for kind, hour, _ in outcome.transitions:
        if kind == "fired":
            incidents.append((hour, None))
        else:
            incidents[-1] = (incidents[-1][0], hour)
    return incidents
