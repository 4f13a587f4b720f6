"""A readout as JSON (the API) and as CSV rows (the export): aggregates only, no personal data."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from experiments.models import Experiment
from experiments.readout import Readout, VariantReadout


def _pair(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [round(interval[0], 6), round(interval[1], 6)]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def variant_json(v: VariantReadout) -> dict[str, Any]:
    revenue = v.revenue
    return {
        "variant": v.name, "visitors": v.visitors, "conversions": v.conversions, "conversion": round(v.rate, 6),
        "conversion_ci": _pair(v.rate_interval), "probability_best": round(v.probability_best, 4),
        "difference": None if v.difference is None else round(v.difference, 6),
        "difference_ci": _pair(v.difference_interval),
        "probability_beats_control": None if v.probability_beats_control is None
        else round(v.probability_beats_control, 4),
        "revenue_per_visitor": round(v.revenue_per_visitor, 4), "revenue_per_visitor_ci": _pair(v.revenue_interval),
        "revenue_difference": None if revenue is None else round(revenue.difference, 4),
        "revenue_difference_ci": None if revenue is None else _pair(revenue.interval),
        "cuped": bool(revenue and revenue.cuped), "cuped_narrowed": round(revenue.narrowed, 4) if revenue else 0.0,
        "bots": v.bots, "conflicting": v.conflicting,
    }


def readout_json(experiment: Experiment, r: Readout) -> dict[str, Any]:
    return {
        "experiment": r.experiment, "control": r.control, "started_at": _iso(experiment.started_at),
        "ended_at": _iso(experiment.ended_at), "window_days": experiment.window().days,
        "days": None if r.days is None else round(r.days, 2), "young": r.young,
        "srm": r.srm, "srm_p": r.srm_p, "winner": r.winner, "sentences": r.sentences,
        "recommendation": r.recommendation, "variants": [variant_json(v) for v in r.variants],
    }


CSV_HEADER = ("experiment", "variant", "visitors", "conversions", "conversion", "conversion_ci_low",
              "conversion_ci_high", "difference", "difference_ci_low", "difference_ci_high", "probability_best",
              "revenue_per_visitor", "revenue_difference", "revenue_difference_ci_low", "revenue_difference_ci_high",
              "cuped", "bots", "conflicting", "srm_p")


def readout_rows(readouts: Iterable[tuple[Experiment, Readout]]) -> Iterator[tuple[Any, ...]]:
    yield CSV_HEADER
    for experiment, r in readouts:
        for v in (variant_json(v) for v in r.variants):
            ci, dci, rci = (v["conversion_ci"] or [None, None], v["difference_ci"] or [None, None],
                            v["revenue_difference_ci"] or [None, None])
            yield (experiment.name, v["variant"], v["visitors"], v["conversions"], v["conversion"], *ci,
                   v["difference"], *dci, v["probability_best"], v["revenue_per_visitor"], v["revenue_difference"],
                   *rci, v["cuped"], v["bots"], v["conflicting"], r.srm_p)
