"""Fit every family on a time split, compare them on the holdout and choose one. PURE; shared by the cart
model (:mod:`ml.training`) and the customer predictions (:mod:`ml.customer_training`).

``frame``: one row per example, the feature columns, a 0/1 ``target`` column, and ``time`` (when the row's
features were cut). The caller splits fit / validation / holdout by time and passes the three parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from threadpoolctl import threadpool_limits

from ml.bounds import Guard
from ml.families import BASELINE, FAMILIES, LABELS, FamilySpec, bootstrap, choose, fit_all, roc_auc


@dataclass(frozen=True)
class EvalParams:
    seed: int = 42
    resamples: int = 200
    calibration_bins: int = 10
    importance_repeats: int = 3
    importance_max_rows: int = 3000
    families: Sequence[str] = FAMILIES


@dataclass
class Evaluation:
    chosen: str
    reason: str
    models: dict            # family -> calibrated model
    holdout: dict           # family -> holdout probabilities
    valid: dict             # family -> validation probabilities
    report: dict            # family -> JSON-able report
    resources: dict         # family -> {"seconds", "peak_mb"} of its fit and calibration (vary run to run)


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int) -> list[dict]:
    """Equal-width probability bins: rows, mean predicted and observed rate per bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = idx == b
        n = int(mask.sum())
        rows.append({"bin_low": round(float(edges[b]), 3), "bin_high": round(float(edges[b + 1]), 3), "carts": n,
                     "mean_predicted": round(float(p[mask].mean()), 4) if n else None,
                     "observed_rate": round(float(y[mask].mean()), 4) if n else None})
    return rows


def _auc_scorer(model, x: pd.DataFrame, y: np.ndarray) -> float:
    return roc_auc(np.asarray(y), model.predict_proba(x)[:, 1]) or 0.5


def importances(model, x: pd.DataFrame, y: np.ndarray, features: list[str], params: EvalParams) -> list[dict]:
    """Permutation importances (holdout ROC AUC drop) on the holdout or a seeded sample of it; highest first."""
    if len(np.unique(y)) < 2:
        return []
    if len(x) > params.importance_max_rows:
        rows = np.sort(np.random.default_rng(params.seed).choice(len(x), params.importance_max_rows, replace=False))
        x, y = x.iloc[rows], y[rows]
    imp = permutation_importance(model, x, y, scoring=_auc_scorer, n_repeats=params.importance_repeats,
                                 random_state=params.seed, n_jobs=1)
    ranked = sorted(zip(features, imp.importances_mean, imp.importances_std, strict=True),
                    key=lambda t: (-float(t[1]), t[0]))
    return [{"feature": f, "importance": round(float(m), 5), "std": round(float(s), 5)} for f, m, s in ranked]


def evaluate(spec: FamilySpec, parts: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], target: str,
             params: EvalParams, say: Callable[[str], None] | None = None, guard: Guard | None = None) -> Evaluation:
    """Fit every family on ``parts[0]``, calibrate on ``parts[1]``, compare on ``parts[2]``; choose one."""
    with threadpool_limits(spec.threads):  # BLAS/OpenMP threads while predicting: the machine is shared
        return _evaluate(spec, parts, target, params, say, guard)


def _evaluate(spec: FamilySpec, parts: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], target: str,
              params: EvalParams, say: Callable[[str], None] | None, guard: Guard | None) -> Evaluation:
    fit_df, valid_df, test_df = parts
    features = [*spec.numeric, *spec.categorical]
    y_test = test_df[target].to_numpy()
    fitted = fit_all(spec, fit_df[features], fit_df[target].to_numpy(), valid_df[features],
                     valid_df[target].to_numpy(), params.families, say, guard)
    holdout = {f: m.model.predict_proba(test_df[features])[:, 1] for f, m in fitted.items()}
    valid = {f: m.model.predict_proba(valid_df[features])[:, 1] for f, m in fitted.items()}
    if say:
        say(f"bootstrap: {params.resamples} resamples of {len(y_test)} holdout rows")
    compared = bootstrap(y_test, holdout, resamples=params.resamples, seed=params.seed,
                         baseline=BASELINE if BASELINE in holdout else next(iter(holdout)))
    chosen, reason = choose(compared)
    report = {}
    for family, m in fitted.items():
        if say:
            say(f"permutation importances of {LABELS[family]}")
        if guard:
            guard.check(f"before the importances of {LABELS[family]}")
        report[family] = {
            "label": LABELS[family], "metrics": compared[family], "calibration_method": m.calibration,
            "calibration": calibration_table(y_test, holdout[family], params.calibration_bins),
            "importances": importances(m.model, test_df[features], y_test, features, params),
        }
    resources = {f: {"seconds": m.seconds, "peak_mb": m.peak_mb} for f, m in fitted.items()}
    return Evaluation(chosen, reason, {f: m.model for f, m in fitted.items()}, holdout, valid, report, resources)
