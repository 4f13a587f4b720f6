"""Simulated hourly rollups (alerts.simulation) written into the insights tables the alert rules read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from alerts.simulation import simulate_hours
from insights.models import CartHourly, EventHourly, SessionHourly

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday
JUMP = START + dt.timedelta(weeks=8, days=3, hours=14)  # Thursday 14:00 UTC of week 9
HOUR = dt.timedelta(hours=1)


def rows(until: dt.datetime, *, seed: int = 7, jump_hours: int = 5, sessions_per_hour: float = 300.0) -> list[dict]:
    """Hours from START to ``until`` (excluded); abandonment 70%, 90% for ``jump_hours`` from JUMP."""
    n = int((until - START) / HOUR)
    return simulate_hours(START, n, seed=seed, sessions_per_hour=sessions_per_hour,
                          changes=[(JUMP, JUMP + jump_hours * HOUR, 0.90)])


def write(hours: Iterable[Mapping], *, carts: bool = True, sessions: bool = True) -> None:
    hours = list(hours)
    EventHourly.objects.bulk_create([EventHourly(hour=r["hour"], action="view", age_group="unknown", events=r["events"],
                                                 revenue=r["revenue"]) for r in hours])
    if sessions:
        SessionHourly.objects.bulk_create([SessionHourly(
            hour=r["hour"], age_group="unknown", channel="Direct", sessions=r["sessions"],
            purchasing_sessions=r["purchasing_sessions"], orders=r["orders"], events=r["events"], revenue=r["revenue"])
            for r in hours])
    if carts:
        CartHourly.objects.bulk_create([CartHourly(
            hour=r["hour"], channel="Direct", carts_converted=r["carts_converted"],
            carts_abandoned=r["carts_abandoned"], carts_emptied=r["carts_emptied"]) for r in hours])
