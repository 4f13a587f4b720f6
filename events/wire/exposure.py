"""Segment's ``Experiment Viewed`` (docs/experiments.md#sending-exposures): the experiment and variation
an event carries, as the native ``experiment`` and ``variant`` fields (validated there)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.wire.reasons import Reason

EXPERIMENT_VIEWED = "Experiment Viewed"
_FIELDS = (("experiment", ("experiment_name", "experiment_id")),
           ("variant", ("variation_name", "variation_id", "variant_name", "variant")))
_MISSING = Reason("Experiment Viewed needs the experiment and the variation (name or id)", "required")


def exposure_fields(props: dict[str, Any], error: Callable[[dict[str, str]], Exception]) -> dict[str, Any]:
    """``{"experiment": …, "variant": …}``; a missing one raises ``error({property: reason})``."""
    out: dict[str, Any] = {}
    for name, keys in _FIELDS:
        value = next((props[k] for k in keys if props.get(k) not in (None, "")), None)
        if value is None:
            raise error({f"properties.{keys[0]}": _MISSING})
        out[name] = value
    return out
