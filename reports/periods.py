"""The period a subscription's e-mail covers and when it is due (docs/alerts-and-reports.md#subscriptions).
PURE."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def due_period(frequency: str, time_zone: str, send_hour: int, now: dt.datetime) -> tuple[dt.date, dt.date] | None:
    """(first day, last day) of the last complete period at ``now`` in ``time_zone``, if its send hour has
    come: daily, yesterday; weekly, last Monday to Sunday. None before the send hour."""
    local = now.astimezone(ZoneInfo(time_zone))
    if local.hour < send_hour:
        return None
    today = local.date()
    if frequency == "daily":
        day = today - dt.timedelta(days=1)
        return day, day
    monday = today - dt.timedelta(days=today.weekday())
    return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
