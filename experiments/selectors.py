"""Reads of the experiments app: readouts from the per-visitor ``Exposure`` table (one GROUP BY per
experiment over its own rows: no event is read), and the experiment/variant names filters offer."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, Sum
from django.utils import timezone

from experiments.models import Experiment, Exposure
from experiments.readout import Design, Readout, readout_build
from experiments.stats import Moments
from insights.charts.common import currency


def _squared(a: str, b: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(a) * F(b), output_field=FloatField())


def experiment_moments(*, experiment: Experiment) -> tuple[dict[str, Moments], dict[str, tuple[int, int]]]:
    """Per variant: the counted visitors' sums, and (bots, visitors seen in two variants) counted apart."""
    rows = (Exposure.objects.filter(experiment=experiment).values("variant", "is_bot", "conflicting")
            .annotate(n=Count("id"), conv=Count("id", filter=Q(converted=True)), sy=Sum("revenue"),
                      syy=Sum(_squared("revenue", "revenue")), sx=Sum("pre_revenue"),
                      sxx=Sum(_squared("pre_revenue", "pre_revenue")), sxy=Sum(_squared("revenue", "pre_revenue")))
            .order_by())
    moments: dict[str, Moments] = {}
    excluded: dict[str, tuple[int, int]] = {}
    for r in rows:
        name = r["variant"]
        if r["is_bot"] or r["conflicting"]:
            bots, conflicting = excluded.get(name, (0, 0))
            if r["is_bot"]:
                excluded[name] = (bots + r["n"], conflicting)
            else:
                excluded[name] = (bots, conflicting + r["n"])
            continue
        moments[name] = Moments(r["n"], r["conv"], *(float(r[k] or 0) for k in ("sy", "syy", "sx", "sxx", "sxy")))
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
