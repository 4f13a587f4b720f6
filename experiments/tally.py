"""The per-(experiment, variant) sums the readout reads (``VariantStats``), kept in step with ``Exposure``
(docs/experiments.md#where-the-figures-come-from).

Every write of an exposure row goes through ``Tally``: the row's contribution before the change is
taken out and after it put in; ``apply`` adds the net deltas to the sums in one UPDATE per key (row
locks, so concurrent ingest adds rather than overwrites). A deleted row (``Exposure`` post_delete,
also when a customer's deletion cascades to it) is taken out by ``exposure_deleted``. The sums are
exact decimals, so incremental upkeep equals a recompute from the exposure rows to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import F

from experiments.models import Exposure, VariantStats

Key = tuple[int, str, bool, bool]
FIELDS = ("visitors", "conversions", "sum_y", "sum_yy", "sum_x", "sum_xx", "sum_xy")
ZERO = Decimal("0")


def key_of(row: Exposure) -> Key:
    return row.experiment_id, row.variant, row.is_bot, row.conflicting


def contribution(row: Exposure) -> tuple[Decimal, ...]:
    y, x = Decimal(row.revenue), Decimal(row.pre_revenue)
    return Decimal(1), Decimal(int(row.converted)), y, y * y, x, x * x, x * y


class Tally:
    """Deltas to the sums, collected while exposure rows change and applied once."""

    def __init__(self) -> None:
        self.deltas: dict[Key, list[Decimal]] = defaultdict(lambda: [ZERO] * len(FIELDS))

    def add(self, row: Exposure, sign: int = 1) -> None:
        delta = self.deltas[key_of(row)]
        for i, v in enumerate(contribution(row)):
            delta[i] += sign * v

    def remove(self, row: Exposure) -> None:
        self.add(row, -1)

    def apply(self) -> None:
        changed = {k: d for k, d in self.deltas.items() if any(d)}
        self.deltas.clear()
        if not changed:
            return
        VariantStats.objects.bulk_create([VariantStats(experiment_id=e, variant=v, is_bot=b, conflicting=c)
                                          for e, v, b, c in sorted(changed)], ignore_conflicts=True)
        for (e, v, b, c), delta in sorted(changed.items()):  # sorted: writers lock keys in one order
            _add(e, v, b, c, delta)


def _add(experiment_pk: int, variant: str, is_bot: bool, conflicting: bool, delta: list[Decimal]) -> None:
    values = {f: F(f) + (int(d) if f in ("visitors", "conversions") else d)
              for f, d in zip(FIELDS, delta, strict=True) if d}
    VariantStats.objects.filter(experiment_id=experiment_pk, variant=variant, is_bot=is_bot,
                                conflicting=conflicting).update(**values)


def exposure_deleted(sender, instance: Exposure, **kwargs) -> None:
    """A deleted exposure row's contribution goes (its sums row may already be gone with its experiment)."""
    delta = [-v for v in contribution(instance)]
    _add(*key_of(instance), delta)
