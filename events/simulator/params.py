"""The simulator's knobs: behaviour parameters with store-like defaults, and session timing."""

from __future__ import annotations

from dataclasses import dataclass, field

SESSION_IDLE_MS = 30 * 60 * 1000  # the metrics engine's session rule (docs/metrics.md)
MAX_GAP_MS = 25 * 60 * 1000  # between events of a session: always below the idle rule
MIN_SESSION_GAP_MS = SESSION_IDLE_MS + 60_000  # between a customer's sessions

_HOURLY_BASE = (0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.25, 0.45, 0.60, 0.70, 0.78, 0.85,
                0.95, 0.90, 0.85, 0.88, 0.95, 1.00, 1.00, 1.00, 0.95, 0.80, 0.60, 0.40)
_PEAK_BOOST = 1.55
BEHAVIOURS = ("linear", "nonlinear")


def default_hour_weights(peak_start: int, peak_end: int) -> tuple[float, ...]:
    """A diurnal curve: night trough, morning rise, lunch bump, afternoon/evening high, boosted
    inside the peak window [peak_start, peak_end)."""
    return tuple(weight * (_PEAK_BOOST if _in_window(hour, peak_start, peak_end) else 1.0)
                 for hour, weight in enumerate(_HOURLY_BASE))


def _in_window(hour: int, start: int, end: int) -> bool:
    return start <= hour < end if start <= end else (hour >= start or hour < end)


@dataclass(frozen=True)
class SimParams:
    """Every behaviour knob, with store-like defaults. Its repr is part of a backfill's id prefix:
    renaming a field or the class changes every generated event id."""

    abandonment_rate: float = 0.70       # carts abandoned / carts closed (docs/metrics.md)
    emptied_rate: float = 0.05           # carts whose every item is removed
    explicit_abandon_share: float = 0.35  # abandoned sessions that send an explicit `abandon`
    checkout_abandon_share: float = 0.35  # abandoned carts that reach checkout first
    cart_session_share: float = 0.32     # base share of sessions that add to a cart
    peak_start: int = 17                 # busiest hours, store time, [start, end)
    peak_end: int = 22
    hour_weights: tuple[float, ...] | None = None   # 24 weights; default from the peak window
    weekday_weights: tuple[float, ...] = (1.06, 1.0, 0.98, 1.0, 0.94, 0.9, 1.12)  # Mon..Sun
    month_weights: tuple[float, ...] = (0.9, 0.84, 0.92, 0.92, 0.95, 0.93, 0.9, 0.94, 0.95, 1.0, 1.38, 1.55)
    holiday_months: tuple[int, ...] = (11, 12)     # shoppers also buy more readily then
    time_zone: str = "UTC"
    # How strongly cart value, price sensitivity and a purchase history move abandonment (log-odds).
    value_effect: float = 0.55
    sensitivity_effect: float = 1.6
    returning_effect: float = 1.2
    # ``linear`` (the effects above only) or ``nonlinear`` (also thresholds and interactions a line cannot
    # capture: events/simulator/nonlinear.py, docs/retention-and-predictions.md#simulator-ground-truth).
    # Out of the repr when linear, so linear runs keep their event ids.
    behaviour: str = field(default="linear", repr=False)

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {', '.join(BEHAVIOURS)}")

    def hours(self) -> tuple[float, ...]:
        """The 24 hour-of-day weights (store time)."""
        weights = self.hour_weights or default_hour_weights(self.peak_start, self.peak_end)
        if len(weights) != 24:
            raise ValueError("hour_weights needs 24 values")
        return tuple(weights)
