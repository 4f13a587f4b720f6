"""Model families, calibration and fair comparison. PURE: frames in, fitted models and numbers out.

Every family is fitted on the same older rows, calibrated on a later validation slice of the training
time span, and scored on the same newest holdout (docs/retention-and-predictions.md#how-models-are-compared):

- ``logistic`` (the baseline): one-hot + scaled features, logistic regression;
- ``random_forest``; ``gradient_boosting`` (HistGradientBoosting); ``mlp`` (a small neural network).

Calibration: isotonic regression when the validation slice has at least ``ISOTONIC_MIN_ROWS`` rows, else
Platt scaling (a logistic curve on the score). The active family is chosen by a written rule
(:func:`choose`): the lowest holdout log loss among families whose paired-bootstrap 95% interval of
(log loss − baseline log loss) lies wholly below 0; when none does, the baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from ml.bounds import Guard, RssWatch

BASELINE = "logistic"
FAMILIES = ("logistic", "random_forest", "gradient_boosting", "mlp")
LABELS = {"logistic": "logistic regression", "random_forest": "random forest",
          "gradient_boosting": "gradient boosting", "mlp": "neural network (MLP)"}
ISOTONIC_MIN_ROWS = 1000
EPS = 1e-6


@dataclass(frozen=True)
class FamilySpec:
    numeric: Sequence[str]
    categorical: Sequence[str]
    seed: int = 42
    n_jobs: int = 1
    n_estimators: int = 120
    max_tree_rows: int = 20_000
    threads: int = 1


def _features(spec: FamilySpec, scale: bool) -> ColumnTransformer:
    return ColumnTransformer([
        ("num", StandardScaler() if scale else "passthrough", list(spec.numeric)),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(spec.categorical)),
    ])


def estimator(family: str, spec: FamilySpec, n_rows: int) -> Pipeline:
    """The unfitted pipeline of ``family``."""
    if family == "logistic":
        model = LogisticRegression(max_iter=1000, random_state=spec.seed)
    elif family == "random_forest":
        model = RandomForestClassifier(
            n_estimators=spec.n_estimators, min_samples_leaf=max(5, min(50, n_rows // 250)), max_features="sqrt",
            max_samples=spec.max_tree_rows / n_rows if n_rows > spec.max_tree_rows else None,
            n_jobs=spec.n_jobs, random_state=spec.seed)
    elif family == "gradient_boosting":
        model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=31,
                                               early_stopping=True, random_state=spec.seed)
    elif family == "mlp":
        model = MLPClassifier(hidden_layer_sizes=(32, 16), alpha=1e-3, early_stopping=True, max_iter=200,
                              random_state=spec.seed)
    else:
        raise ValueError(f"unknown model family {family!r}")
    return Pipeline([("features", _features(spec, scale=family in ("logistic", "mlp"))), ("model", model)])


def calibrated(fitted: Pipeline, x_valid: pd.DataFrame, y_valid: np.ndarray) -> tuple[CalibratedClassifierCV, str]:
    """``fitted`` calibrated on the validation slice, and the method used."""
    method = "isotonic" if len(y_valid) >= ISOTONIC_MIN_ROWS else "sigmoid"
    return CalibratedClassifierCV(FrozenEstimator(fitted), method=method).fit(x_valid, y_valid), method


@dataclass
class Fitted:
    family: str
    model: CalibratedClassifierCV
    calibration: str
    seconds: float
    peak_mb: float


def fit_family(family: str, spec: FamilySpec, x_fit: pd.DataFrame, y_fit: np.ndarray, x_valid: pd.DataFrame,
               y_valid: np.ndarray, guard: Guard | None = None) -> Fitted:
    """Fit and calibrate one family, with its wall time and the process's peak resident memory meanwhile;
    under ``guard``, stopped (TrainingLimitExceeded) once the run passes its time or memory bound."""
    started = time.perf_counter()
    with guard.watching(LABELS[family]) if guard else RssWatch() as watch:
        with threadpool_limits(spec.threads):  # OpenMP/BLAS threads: the machine is shared (retraining is bounded)
            pipeline = clone(estimator(family, spec, len(x_fit))).fit(x_fit, y_fit)
        pipeline.set_params(**{name: 1 for name in pipeline.get_params() if name.endswith("n_jobs")})
        model, method = calibrated(pipeline, x_valid, y_valid)
    return Fitted(family, model, method, round(time.perf_counter() - started, 3), round(watch.peak_mb, 1))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC as the Mann-Whitney statistic (ties count a half); sklearn's value, without its overhead."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if not n1 or not n0:
        return None
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def average_precision(y: np.ndarray, p: np.ndarray) -> float | None:
    """PR AUC as average precision (sklearn's step-wise definition, ties as one threshold)."""
    positives = int(y.sum())
    if not positives:
        return None
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tps = np.cumsum(ys)[last]
    precision = tps / (last + 1)
    recall = tps / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def metric_values(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """ROC AUC, PR AUC (average precision), log loss and Brier score of probabilities ``p``."""
    p = np.clip(p, EPS, 1 - EPS)
    both = 0 < int(y.sum()) < len(y)
    return {
        "roc_auc": roc_auc(y, p) if both else None,
        "pr_auc": average_precision(y, p) if both else None,
        "log_loss": float(_log_losses(y, p).mean()),
        "brier": float(np.mean((p - y) ** 2)),
    }


def _log_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def bootstrap(y: np.ndarray, probabilities: dict[str, np.ndarray], *, resamples: int, seed: int,
              baseline: str = BASELINE) -> dict[str, dict]:
    """Per family: each metric with its 95% percentile interval over ``resamples`` holdout resamples, and
    the paired interval of (log loss − the baseline's log loss) on the same resamples."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(y), size=(resamples, len(y)))
    out: dict[str, dict] = {}
    base_losses = _log_losses(y, probabilities[baseline])
    for family, p in probabilities.items():
        samples: dict[str, list[float]] = {"roc_auc": [], "pr_auc": [], "log_loss": [], "brier": []}
        losses = _log_losses(y, p)
        for rows in draws:
            for key, value in metric_values(y[rows], p[rows]).items():
                if value is not None:
                    samples[key].append(value)
        diff = (losses[draws] - base_losses[draws]).mean(axis=1)
        point = metric_values(y, p)
        out[family] = {key: _with_interval(point[key], values) for key, values in samples.items()}
        out[family]["log_loss_vs_baseline"] = _with_interval(float((losses - base_losses).mean()), diff.tolist())
    return out


def _with_interval(point: float | None, values: Sequence[float]) -> dict[str, float | None]:
    if point is None or not len(values):
        return {"value": None if point is None else round(point, 4), "low": None, "high": None}
    low, high = np.percentile(values, [2.5, 97.5])
    return {"value": round(point, 4), "low": round(float(low), 4), "high": round(float(high), 4)}


def choose(compared: dict[str, dict], baseline: str = BASELINE) -> tuple[str, str]:
    """The family to activate and why (the written rule in the module docstring)."""
    better = [f for f, m in compared.items()
              if f != baseline and m["log_loss_vs_baseline"]["high"] is not None
              and m["log_loss_vs_baseline"]["high"] < 0]
    if not better:
        return baseline, (f"{LABELS[baseline]}: no other family's holdout log loss is better than the baseline's "
                          "with a paired-bootstrap 95% interval excluding 0")
    best = min(better, key=lambda f: (compared[f]["log_loss"]["value"], FAMILIES.index(f)))
    diff = compared[best]["log_loss_vs_baseline"]
    return best, (f"{LABELS[best]}: lowest holdout log loss {compared[best]['log_loss']['value']:.4f} among "
                  f"families better than the baseline (log loss difference {diff['value']:+.4f}, 95% interval "
                  f"{diff['low']:+.4f} to {diff['high']:+.4f})")


def fit_all(spec: FamilySpec, x_fit: pd.DataFrame, y_fit: np.ndarray, x_valid: pd.DataFrame, y_valid: np.ndarray,
            families: Sequence[str] = FAMILIES, say: Callable[[str], None] | None = None,
            guard: Guard | None = None) -> dict[str, Fitted]:
    """Every family, fitted and calibrated (in order, one at a time)."""
    out = {}
    for family in families:
        if say:
            say(f"fitting {LABELS[family]} on {len(x_fit)} rows")
        out[family] = fit_family(family, spec, x_fit, y_fit, x_valid, y_valid, guard)
    return out
