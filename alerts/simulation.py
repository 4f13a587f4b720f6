"""A seeded simulation of a store's hourly rollups with known truth, for backtests and tests of the alert
rules (docs/alerts-and-reports.md#backtest). PURE (numpy only).

Sessions per hour are Poisson around a daily curve (night ~0.3×, evening peak ~1.6×) times a weekday
factor (weekends 1.25×); a third of sessions open a cart; finished carts are abandoned with probability
``abandonment`` (70%), emptied with 5% of the rest, converted otherwise; each converted cart is one
order of ~60 in net revenue; each session has ~6 events. ``changes`` sets a different abandonment rate
from a given hour on (the known anomaly).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

HOUR = dt.timedelta(hours=1)
CART_SHARE = 0.33
EMPTIED_SHARE = 0.05
ORDER_VALUE = 60.0


def hourly_factor(hour: dt.datetime) -> float:
    h = hour.hour + 0.5
    daily = 0.95 + 0.65 * math.sin((h - 9) / 24 * 2 * math.pi)
    return max(daily, 0.3) * (1.25 if hour.weekday() >= 5 else 1.0)


def simulate_hours(start: dt.datetime, hours: int, *, seed: int, sessions_per_hour: float = 80.0,
                   abandonment: float = 0.70,
                   changes: Sequence[tuple[dt.datetime, dt.datetime, float]] = ()) -> list[dict]:
    """``hours`` rows from ``start``: hour, events, sessions, purchasing_sessions, orders, revenue,
    discounts, refunds, carts_converted, carts_abandoned, carts_emptied. ``changes``: (from, until,
    abandonment) overrides."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(hours):
        hour = start + i * HOUR
        p_abandon = next((p for a, b, p in changes if a <= hour < b), abandonment)
        sessions = int(rng.poisson(sessions_per_hour * hourly_factor(hour)))
        carts = int(rng.binomial(sessions, CART_SHARE))
        abandoned = int(rng.binomial(carts, p_abandon))
        emptied = int(rng.binomial(carts - abandoned, EMPTIED_SHARE))
        converted = carts - abandoned - emptied
        revenue = float(np.round(rng.gamma(4.0, ORDER_VALUE / 4.0, size=converted).sum(), 2))
        rows.append({"hour": hour, "events": int(rng.poisson(6 * sessions)) + sessions, "sessions": sessions,
                     "purchasing_sessions": converted, "orders": converted, "revenue": revenue,
                     "discounts": 0.0, "refunds": 0.0, "carts_converted": converted,
                     "carts_abandoned": abandoned, "carts_emptied": emptied})
    return rows
