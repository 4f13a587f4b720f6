"""Re-derive exposures and their sums from what was sent (docs/experiments.md#where-the-figures-come-from):
``rebuild_exposures`` (the command), and a removed source's exposures taken out (docs/trust.md).

Each (experiment, visitor)'s row is the first record by time (ties: the first stored), conflicting
when the records name two variants; outcomes come from the visitor's orders as at ingest, and the
sums are added up from the rows (``experiments.tally``): the same state incremental upkeep reaches.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from django.db import connection, transaction

from experiments.models import Experiment, Exposure, ExposureRecord, VariantStats
from experiments.services import customers_lock, experiment_outcomes_refresh
from experiments.tally import Tally


def _first_rows(experiment_pk: int) -> list[Exposure]:
    rows: dict[int, Exposure] = {}
    variants: dict[int, set[str]] = {}
    records = ExposureRecord.objects.filter(experiment_id=experiment_pk).order_by("timestamp", "pk").values_list(
        "customer_id", "variant", "timestamp", "is_bot")
    for customer, variant, when, is_bot in records.iterator(chunk_size=5000):
        variants.setdefault(customer, set()).add(variant)
        if customer not in rows:
            rows[customer] = Exposure(experiment_id=experiment_pk, customer_id=customer, variant=variant,
                                      exposed_at=when, is_bot=is_bot)
    for customer, row in rows.items():
        row.conflicting = len(variants[customer]) > 1
    return list(rows.values())


@transaction.atomic
def experiment_rebuild(*, experiment_pk: int) -> int:
    """One experiment's exposure rows and sums re-derived from its records; returns the rows."""
    with connection.cursor() as cur:  # in bulk: the sums are rebuilt below
        cur.execute(f"DELETE FROM {VariantStats._meta.db_table} WHERE experiment_id = %s", [experiment_pk])
        cur.execute(f"DELETE FROM {Exposure._meta.db_table} WHERE experiment_id = %s", [experiment_pk])
    rows = _first_rows(experiment_pk)
    customers_lock([r.customer_id for r in rows])
    Exposure.objects.bulk_create(rows, batch_size=2000)
    tally = Tally()
    for row in rows:
        tally.add(row)
    tally.apply()
    experiment_outcomes_refresh(experiment_pk=experiment_pk)
    return len(rows)


def exposures_rebuild(*, experiment_pks: Collection[int] | None = None,
                      progress: Callable[[str, int], None] | None = None) -> int:
    """Every (or these) experiment's exposures re-derived, one transaction each; an experiment with no
    record left goes. Returns the exposure rows."""
    pks = list(experiment_pks) if experiment_pks is not None else list(Experiment.objects.values_list("pk", flat=True))
    total = 0
    for experiment in Experiment.objects.filter(pk__in=pks).order_by("pk"):
        if not ExposureRecord.objects.filter(experiment_id=experiment.pk).exists():
            experiment.delete()
            continue
        n = experiment_rebuild(experiment_pk=experiment.pk)
        total += n
        if progress is not None:
            progress(experiment.name, n)
    return total


def exposures_source_removed(*, source_pk: int) -> None:
    """A removed source's exposures go: its records, and the experiments they touched re-derived from
    what other sources sent (an experiment nobody else sent goes). The source's orders, refunds and
    cancels went too: every other experiment's outcomes are recomputed (which visitors they touched
    is no longer known)."""
    touched = set(ExposureRecord.objects.filter(source_id=source_pk).values_list("experiment_id", flat=True)
                  .distinct())
    ExposureRecord.objects.filter(source_id=source_pk).delete()
    touched |= set(Experiment.objects.filter(source_id=source_pk).values_list("pk", flat=True))
    if touched:
        exposures_rebuild(experiment_pks=touched)
    for pk in Experiment.objects.exclude(pk__in=touched).values_list("pk", flat=True):
        experiment_outcomes_refresh(experiment_pk=pk)
