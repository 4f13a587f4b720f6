"""Age groups (docs/metrics.md): the one rule, pure (no Django), used by the Customer model and the simulator."""

from __future__ import annotations

UNKNOWN = "unknown"
AGE_GROUPS = ("18-25", "26-35", "36-45", "46-55", "56-65", "66+", UNKNOWN)
_GROUP_UP_TO = ((25, "18-25"), (35, "26-35"), (45, "36-45"), (55, "46-55"), (65, "56-65"))  # inclusive


def age_group_for(age: int | None) -> str:
    """The age group of ``age``; under 18 and missing ages are 'unknown'."""
    if age is None or age < 18:
        return UNKNOWN
    for upper, group in _GROUP_UP_TO:
        if age <= upper:
            return group
    return "66+"
