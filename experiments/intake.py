"""What ingest's exposures may create (docs/experiments.md#what-a-browser-key-may-create).

A public (browser) key's exposures are facts about what a browser showed, but anyone can send them:
each such key may create at most ``EXPERIMENT_BROWSER_MAX_EXPERIMENTS`` experiments (each records the
key that created it), and may add a variant only to an experiment with fewer than
``EXPERIMENT_BROWSER_MAX_VARIANTS``. Exposures beyond a cap are dropped (the events themselves are
stored) and logged. Names are validated and bounded by the wire formats (one-line labels of at most
100 characters). Every kept exposure is recorded as sent (``ExposureRecord``) with its source: what
``rebuild_exposures`` re-derives from and what goes when the source is removed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db.models import Count

from events.types import Exposure as Seen
from experiments.models import Experiment, ExposureRecord, VariantStats

log = logging.getLogger(__name__)


def _variants(experiments: dict[str, Experiment]) -> dict[str, set[str]]:
    pks = {e.pk: name for name, e in experiments.items()}
    out: dict[str, set[str]] = defaultdict(set)
    for pk, variant in VariantStats.objects.filter(experiment_id__in=list(pks)).values_list("experiment_id",
                                                                                           "variant"):
        out[pks[pk]].add(variant)
    return out


def _created_by(source_pks: set[int]) -> dict[int, int]:
    rows = Experiment.objects.filter(source_id__in=list(source_pks)).values("source_id").annotate(n=Count("pk"))
    return {r["source_id"]: r["n"] for r in rows}


def exposures_admit(exposures: Sequence[Seen]) -> tuple[list[Seen], dict[str, Experiment]]:
    """The exposures within their sources' caps, and the experiments they name (created here, at their
    first exposure, by the first source that names them; a start moved earlier by an earlier one)."""
    names = {s.experiment for s in exposures}
    found = {e.name: e for e in Experiment.objects.filter(name__in=list(names))}
    variants = _variants(found)
    created = _created_by({s.source_pk for s in exposures if s.browser and s.source_pk is not None})
    kept: list[Seen] = []
    dropped = 0
    for s in sorted(exposures, key=lambda s: s.timestamp):
        if s.browser and not _within_caps(s, found, variants, created):
            dropped += 1
            continue
        if s.experiment not in found:
            found[s.experiment] = Experiment(name=s.experiment, started_at=s.timestamp,
                                             source_id=s.source_pk if s.browser else None)
            if s.browser and s.source_pk is not None:
                created[s.source_pk] = created.get(s.source_pk, 0) + 1
        variants[s.experiment].add(s.variant)
        kept.append(s)
    if dropped:
        log.warning("experiments: %d browser exposures beyond the caps dropped", dropped)
    return kept, _experiments_save(found, kept)


def _within_caps(s: Seen, found: dict[str, Experiment], variants: dict[str, set[str]],
                 created: dict[int, int]) -> bool:
    if s.experiment not in found:
        return created.get(s.source_pk or 0, 0) < settings.EXPERIMENT_BROWSER_MAX_EXPERIMENTS
    known = variants[s.experiment]
    return s.variant in known or len(known) < settings.EXPERIMENT_BROWSER_MAX_VARIANTS


def _experiments_save(found: dict[str, Experiment], kept: list[Seen]) -> dict[str, Experiment]:
    starts: dict[str, datetime] = {}
    for s in kept:
        starts[s.experiment] = min(starts.get(s.experiment, s.timestamp), s.timestamp)
    new = [e for name, e in found.items() if e.pk is None and name in starts]
    Experiment.objects.bulk_create(new, ignore_conflicts=True)
    saved = {e.name: e for e in Experiment.objects.filter(name__in=list(starts))}
    for name, e in saved.items():
        if starts[name] < e.started_at:
            e.started_at = starts[name]
            Experiment.objects.filter(pk=e.pk).update(started_at=starts[name])
    return saved


def records_store(exposures: Sequence[Seen], experiments: dict[str, Experiment]) -> None:
    ExposureRecord.objects.bulk_create([
        ExposureRecord(experiment=experiments[s.experiment], customer_id=s.customer_pk, variant=s.variant,
                       timestamp=s.timestamp, is_bot=s.is_bot, source_id=s.source_pk) for s in exposures])
