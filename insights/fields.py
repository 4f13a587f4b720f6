"""Field shapes the insights tables share."""

from __future__ import annotations

from django.db import models


def money_field() -> models.DecimalField:
    """A rollup's money column: 2 decimal places, wide enough for any store's totals, 0 by default."""
    return models.DecimalField(max_digits=18, decimal_places=2, default=0)
