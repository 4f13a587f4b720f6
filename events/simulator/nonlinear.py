"""The nonlinear behaviour's ground truth (``SimParams.behaviour == "nonlinear"``): effects on a cart's
abandonment log-odds that no weighted sum of the cart model's features can reproduce. PURE.

Added to the linear log-odds (session.py) only in the nonlinear behaviour, with no extra random draws,
so a seed gives the same sessions in both behaviours up to the carts' outcomes.

1. **Price threshold by age group.** Shoppers under 36 tolerate a cart up to ``VALUE_CLIFF`` × the store's
   reference cart value, then drop out sharply (``CLIFF_EFFECT``); shoppers of 56 and over ignore the cart's
   value altogether (the linear value effect is cancelled for them): the effect of value depends on age.
2. **Only shoppers who already browsed buy on a nudge.** A cart added after at least ``BROWSED_VIEWS``
   product views in the session and worth less than the reference value converts much more
   (``BROWSED_EFFECT``): a threshold on browsing that matters only below a threshold on value.
3. **Weekday × hour.** Weekend evenings (from ``EVENING``, Saturday and Sunday, store time) convert better
   (``WEEKEND_EVENING_EFFECT``); weekday mornings (before ``MORNING``, Monday to Friday) much worse
   (``WEEKDAY_NIGHT_EFFECT``); other hours not at all. Neither the hour nor the weekday alone carries it.

The simulator has no device and draws a session's channel after its outcome (traffic.py), so neither
takes part here; docs/retention-and-predictions.md#simulator-ground-truth says the same.
"""

from __future__ import annotations

import math

YOUNG = ("18-25", "26-35")
OLD = ("56-65", "66+")
VALUE_CLIFF = 1.0          # × reference cart value
CLIFF_EFFECT = 3.5
BROWSED_VIEWS = 2
BROWSED_EFFECT = -3.0
WEEKEND_EVENING_EFFECT = -3.0
EVENING, MORNING = 17, 9  # store-time hours
WEEKDAY_NIGHT_EFFECT = 3.5


def extra_log_odds(*, age_group: str, value_ratio: float, views_before_cart: int, hour: int | None,
                   weekday: int | None, value_effect: float) -> float:
    """The nonlinear terms of a cart's abandonment log-odds. ``value_ratio``: cart value / reference value;
    ``hour`` and ``weekday`` (Monday 0) in store time, None when unknown (no time term)."""
    extra = 0.0
    if age_group in YOUNG and value_ratio > VALUE_CLIFF:
        extra += CLIFF_EFFECT
    if age_group in OLD:
        extra -= value_effect * math.log(value_ratio)
    if views_before_cart >= BROWSED_VIEWS and value_ratio < 1.0:
        extra += BROWSED_EFFECT
    if hour is not None and weekday is not None:
        if weekday >= 5 and hour >= EVENING:
            extra += WEEKEND_EVENING_EFFECT
        elif weekday < 5 and hour < MORNING:
            extra += WEEKDAY_NIGHT_EFFECT
    return extra
