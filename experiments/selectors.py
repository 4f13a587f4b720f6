"""Reads of the experiments app: readouts from the per-visitor ``Exposure`` table (one GROUP BY per
experiment over its own rows: no event is read), and the experiment/variant names filters offer."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from experiments.models import Experiment, Exposure
from experiments.readout import Design, Readout, readout_build
from experiments.stats import Moments
from insights.charts.common import currency

_MOMENTS_SQL = f"""
SELECT variant, is_bot, conflicting, count(*), count(*) FILTER (WHERE converted),
       sum(y), sum(y * y), sum(x), sum(x * x), sum(x * y)
FROM (SELECT variant, is_bot, conflicting, converted, CAST(revenue AS {{real}}) AS y,
             CAST(pre_revenue AS {{real}}) AS x
      FROM {Exposure._meta.db_table} WHERE experiment_id = %s) AS e
GROUP BY variant, is_bot, conflicting
"""


def experiment_moments(*, experiment: Experiment) -> tuple[dict[str, Moments], dict[str, tuple[int, int]]]:
    """Per variant: the counted visitors' sums, and (bots, visitors seen in two variants) counted apart.
    One pass over the experiment's rows (index-only on PostgreSQL), in floating point."""
    real = "double precision" if connection.vendor == "postgresql" else "REAL"
    with connection.cursor() as cur:
        cur.execute(_MOMENTS_SQL.format(real=real), [experiment.pk])
        rows = cur.fetchall()
    moments: dict[str, Moments] = {}
    excluded: dict[str, tuple[int, int]] = {}
    for name, is_bot, conflicting, n, conv, *sums in rows:
        if is_bot or conflicting:
            bots, both = excluded.get(name, (0, 0))
            excluded[name] = (bots + n, both) if is_bot else (bots, both + n)
            continue
        moments[name] = Moments(n, conv, *(float(v or 0) for v in sums))
    return moments, excluded


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
    out = []
    for experiment in Experiment.objects.all():
        moments, excluded = experiment_moments(experiment=experiment)
        out.append((experiment, readout_build(_design(experiment, now), moments, excluded)))
    return out
