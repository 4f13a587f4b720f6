"""Training of the customer predictions (purchase in 7 days, churn in 7 days). PURE: a training frame from
:func:`ml.customer_features.training_frame` in, per target an eligibility verdict and (when eligible) the
families compared and chosen by :mod:`ml.evaluation`.

Split by time: the newest cut-off's rows are the holdout, the one before calibrates, older ones fit.
Eligibility follows GA4: over the last 28 days of labels (the 4 newest weekly cut-offs) at least
``min_positives`` customers with the outcome and ``min_negatives`` without it; otherwise no model is
trained for that target and the reason says which count fell short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml.bounds import Guard, TrainingBounds, bounded_parts
from ml.customer_features import CATEGORICAL, NUMERIC, TARGETS
from ml.evaluation import EvalParams, evaluate
from ml.families import LABELS, FamilySpec

GA4_MIN = 1000
ELIGIBILITY_WEEKS = 4
MEANINGS = {"purchase_7d": "purchase in the next 7 days", "churn_7d": "no activity in the next 7 days"}


@dataclass(frozen=True)
class PredictionParams:
    seed: int = 42
    min_positives: int = GA4_MIN
    min_negatives: int = GA4_MIN
    n_estimators: int = 100
    evaluation: EvalParams = field(default_factory=EvalParams)
    bounds: TrainingBounds = field(default_factory=TrainingBounds)


@dataclass
class TargetResult:
    target: str
    eligible: bool
    reason: str
    counts: dict
    model: Any = None
    chosen: str | None = None
    metrics: dict = field(default_factory=dict)


def eligibility(frame: pd.DataFrame, target: str, params: PredictionParams) -> tuple[bool, str, dict]:
    """GA4's rule on the last 28 days of labels: enough customers with and without the outcome."""
    times = sorted(frame["time"].unique())[-ELIGIBILITY_WEEKS:]
    recent = frame[frame["time"].isin(times)]
    per = recent.groupby("customer")[target].max()
    counts = {"positive": int((per == 1).sum()), "negative": int((per == 0).sum()),
              "min_positive": params.min_positives, "min_negative": params.min_negatives}
    short = []
    if counts["positive"] < params.min_positives:
        short.append(f"{counts['positive']:,} customers with {MEANINGS[target]} (at least "
                     f"{params.min_positives:,} needed)")
    if counts["negative"] < params.min_negatives:
        short.append(f"{counts['negative']:,} customers without it (at least {params.min_negatives:,} needed)")
    if short:
        return False, "not eligible in the last 28 days: " + "; ".join(short), counts
    if len(frame["time"].unique()) < 3:
        return False, "not eligible: fewer than 3 weekly cut-offs of history (fit, calibrate, hold out)", counts
    return True, (f"eligible: {counts['positive']:,} customers with and {counts['negative']:,} without "
                  f"{MEANINGS[target]} in the last 28 days"), counts


def family_spec(params: PredictionParams) -> FamilySpec:
    return FamilySpec(NUMERIC, CATEGORICAL, seed=params.seed, n_estimators=params.n_estimators)


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    times = sorted(frame["time"].unique())
    return (frame[frame["time"] < times[-2]], frame[frame["time"] == times[-2]], frame[frame["time"] == times[-1]])


def train_target(frame: pd.DataFrame, target: str, params: PredictionParams,
                 say: Callable[[str], None] | None = None, guard: Guard | None = None) -> TargetResult:
    """One target: eligibility, then (if eligible and each part has both outcomes) the families compared."""
    eligible, reason, counts = eligibility(frame, target, params)
    if not eligible:
        return TargetResult(target, False, reason, counts)
    parts = split(frame)
    if any(part[target].nunique() < 2 for part in parts):
        return TargetResult(target, False, "not eligible: a fitting, calibration or holdout week has one outcome "
                            "only", counts)
    parts, bounded = bounded_parts(parts, params.bounds)
    spec = family_spec(params)
    ev = evaluate(spec, parts, target, params.evaluation, say, guard)
    y_test = parts[2][target].to_numpy()
    metrics = {"choice": {"family": ev.chosen, "label": LABELS[ev.chosen], "reason": ev.reason},
               "families": ev.report, "resources": ev.resources, "bounds": bounded,
               "rows": {"fit": len(parts[0]), "validation": len(parts[1]), "test": len(parts[2]),
                        "test_positive_rate": round(float(np.mean(y_test)), 4)}}
    return TargetResult(target, True, reason, counts, ev.models[ev.chosen], ev.chosen, metrics)


def train_all(frame: pd.DataFrame, params: PredictionParams, say: Callable[[str], None] | None = None,
              guard: Guard | None = None) -> dict[str, TargetResult]:
    return {target: train_target(frame, target, params, say, guard) for target in TARGETS}


def predict(model: Any, rows: pd.DataFrame) -> np.ndarray:
    if rows.empty:
        return np.zeros(0)
    return model.predict_proba(rows[[*NUMERIC, *CATEGORICAL]])[:, 1]
