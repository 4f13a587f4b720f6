"""Reads of the experiments app: readouts from the per-(experiment, variant) sums (``VariantStats``: a
few rows per experiment, no exposure or event is read)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from experiments.models import Experiment, Exposure, VariantStats
from experiments.readout import Design, Readout, readout_build
from experiments.stats import Moments
from insights.charts.common import currency


def _moments_of(rows) -> tuple[dict[str, Moments], dict[str, tuple[int, int]]]:
    moments: dict[str, Moments] = {}
    excluded: dict[str, tuple[int, int]] = {}
    for name, is_bot, conflicting, n, conv, *sums in rows:
        if not n:
            continue
        if is_bot or conflicting:
            bots, both = excluded.get(name, (0, 0))
            excluded[name] = (bots + n, both) if is_bot else (bots, both + n)
            continue
        moments[name] = Moments(n, conv, *(float(v or 0) for v in sums))
    return moments, excluded


_STATS = ("variant", "is_bot", "conflicting", "visitors", "conversions", "sum_y", "sum_yy", "sum_x", "sum_xx",
          "sum_xy")


def experiment_moments(*, experiment: Experiment) -> tuple[dict[str, Moments], dict[str, tuple[int, int]]]:
    """Per variant: the counted visitors' sums, and (bots, visitors seen in two variants) counted apart:
    a few rows of ``VariantStats`` (kept in step with the exposures: ``experiments.tally``)."""
    return _moments_of(VariantStats.objects.filter(experiment=experiment).values_list(*_STATS))


_RECOUNT_SQL = f"""
SELECT variant, is_bot, conflicting, count(*), count(*) FILTER (WHERE converted),
       sum(revenue), sum(revenue * revenue), sum(pre_revenue), sum(pre_revenue * pre_revenue),
       sum(pre_revenue * revenue)
FROM {Exposure._meta.db_table} WHERE experiment_id = %s
GROUP BY variant, is_bot, conflicting
"""


def experiment_sums_recount(*, experiment: Experiment) -> dict[tuple[str, bool, bool], tuple]:
    """The sums ``VariantStats`` keeps, added up afresh from the exposure rows (checks and the bench)."""
    with connection.cursor() as cur:
        cur.execute(_RECOUNT_SQL, [experiment.pk])
        return {(v, bool(b), bool(c)): tuple(rest) for v, b, c, *rest in cur.fetchall()}


def _design(experiment: Experiment, now: datetime) -> Design:
    weights = experiment.weights if isinstance(experiment.weights, dict) else {}
    return Design(name=experiment.name, control=experiment.control,
                  weights={str(k): float(v) for k, v in weights.items()},
                  started_at=experiment.started_at, ended_at=experiment.ended_at, now=now,
                  min_days=settings.EXPERIMENT_MIN_DAYS, srm_alpha=settings.EXPERIMENT_SRM_P,
                  win_probability=settings.EXPERIMENT_WIN_PROBABILITY, currency=currency())


def experiment_readout(*, name: str, now: datetime | None = None) -> Readout | None:
    experiment = Experiment.objects.filter(name=name).first()
    if experiment is None:
        return None
    moments, excluded = experiment_moments(experiment=experiment)
    return readout_build(_design(experiment, now or timezone.now()), moments, excluded)


def experiment_list(*, now: datetime | None = None) -> list[tuple[Experiment, Readout]]:
    """Every experiment (the latest started first) with its readout."""
    now = now or timezone.now()
    experiments = list(Experiment.objects.all())
    rows: dict[int, list] = {e.pk: [] for e in experiments}
    for pk, *row in VariantStats.objects.values_list("experiment_id", *_STATS):
        rows.setdefault(pk, []).append(row)
    return [(e, readout_build(_design(e, now), *_moments_of(rows[e.pk]))) for e in experiments]


class ExposureScope:
    """The experiments' visitors as an insights customer scope (``insights.customer_scopes``): the
    funnel, carts and acquisition pages' experiment/variant filter."""

    def customers(self, experiment: str, variant: str | None) -> QuerySet:
        rows = Exposure.objects.filter(experiment__name=experiment, is_bot=False, conflicting=False)
        if variant is not None:
            rows = rows.filter(variant=variant)
        return rows.values_list("customer_id", flat=True)

    def choices(self) -> list[tuple[str, list[str]]]:
        variants: dict[str, set[str]] = {}
        for name, variant in VariantStats.objects.filter(visitors__gt=0).values_list("experiment__name", "variant"):
            variants.setdefault(name, set()).add(variant)
        return [(name, sorted(vs)) for name, vs in sorted(variants.items())]
