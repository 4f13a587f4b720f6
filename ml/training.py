"""Training and honest evaluation of the purchase-likelihood (cart) model. PURE: a feature frame in, a
fitted model and a JSON-serialisable report out; no ORM, no files.

- Time-based split: carts sorted by decision time; the newest ``test_fraction`` (20%) are the holdout; of
  the older carts the newest ``validation_fraction`` calibrate, the rest fit.
- Families (:mod:`ml.families`): logistic baseline, random forest, gradient boosting, MLP, each calibrated
  on the validation slice and compared on the holdout with bootstrap intervals; the active one is chosen
  by the written rule in :func:`ml.families.choose`.
- Threshold: chosen on the validation carts (max F1), never on the holdout.
- Holdout report: per family ROC AUC, PR AUC, log loss, Brier (95% intervals), a calibration table,
  permutation importances (ROC AUC drop), fit time and peak memory; the chosen family's as ``model``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml.bounds import DEFAULT_MIN_CARTS, Guard, TrainingBounds, bounded_parts
from ml.evaluation import EvalParams, calibration_table, evaluate
from ml.families import BASELINE, EPS, FAMILIES, LABELS, FamilySpec
from ml.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET

__all__ = ["DEFAULT_MIN_CARTS", "calibration_table"]  # re-exported (the report's calibration table is the evaluation's)

RULE = ("the lowest holdout log loss among families whose paired-bootstrap 95% interval of the log-loss "
        "difference to the logistic baseline lies below 0; else the baseline")


class NotEnoughData(ValueError):
    """Too few carts (or only one outcome) to train and evaluate honestly."""


@dataclass(frozen=True)
class TrainParams:
    seed: int = 42
    test_fraction: float = 0.2
    n_estimators: int = 120
    min_samples_leaf: int | None = None  # None: grows with the data, 5..50 (smoother probabilities)
    max_features: float | str = "sqrt"
    max_tree_rows: int = 20_000  # bootstrap rows per tree at most (time stays flat on big histories)
    n_jobs: int = 2
    calibration_bins: int = 10
    importance_repeats: int = 3
    importance_max_rows: int = 3000
    min_carts: int = DEFAULT_MIN_CARTS
    validation_fraction: float = 0.2  # of the training carts, the newest: calibration and threshold
    resamples: int = 200
    families: tuple[str, ...] = FAMILIES
    bounds: TrainingBounds = field(default_factory=TrainingBounds)

    def evaluation(self) -> EvalParams:
        return EvalParams(seed=self.seed, resamples=self.resamples, calibration_bins=self.calibration_bins,
                          importance_repeats=self.importance_repeats, importance_max_rows=self.importance_max_rows,
                          families=self.families)


@dataclass
class TrainResult:
    pipeline: Any
    threshold: float
    metrics: dict
    features: list[str]
    n_train: int
    n_test: int
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    split_at: pd.Timestamp
    params: dict = field(default_factory=dict)


def _preprocessor(scale: bool) -> ColumnTransformer:
    numeric = ("num", StandardScaler() if scale else "passthrough", list(NUMERIC_FEATURES))
    return ColumnTransformer([
        numeric,
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORICAL_FEATURES)),
    ])


def forest_pipeline(params: TrainParams, n_rows: int) -> Pipeline:
    leaf = params.min_samples_leaf or max(5, min(50, n_rows // 250))
    max_samples = params.max_tree_rows / n_rows if n_rows > params.max_tree_rows else None
    return Pipeline([
        ("features", _preprocessor(scale=False)),
        ("forest", RandomForestClassifier(
            n_estimators=params.n_estimators, min_samples_leaf=leaf, max_features=params.max_features,
            max_samples=max_samples, oob_score=True, n_jobs=params.n_jobs, random_state=params.seed)),
    ])


def logistic_pipeline(params: TrainParams) -> Pipeline:
    return Pipeline([
        ("features", _preprocessor(scale=True)),
        ("logistic", LogisticRegression(max_iter=1000, random_state=params.seed)),
    ])


def time_split(frame: pd.DataFrame, test_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Older carts train, the newest ``test_fraction`` test (by decision time)."""
    ordered = frame.sort_values(["decided_at", "customer", "session"], kind="stable")
    n_test = max(1, int(round(len(ordered) * test_fraction)))
    return ordered.iloc[:-n_test], ordered.iloc[-n_test:]


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability cut with the highest F1 (ties: the higher cut)."""
    best, best_f1 = 0.5, -1.0
    for t in np.round(np.arange(0.05, 0.951, 0.01), 2):
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        denom = float(np.sum(pred) + np.sum(y == 1))
        f1 = 2 * tp / denom if denom else 0.0
        if f1 >= best_f1:
            best, best_f1 = float(t), f1
    return best


def scores(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    both = len(np.unique(y)) == 2
    pred = (p >= threshold).astype(int)
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "pr_auc": round(float(average_precision_score(y, p)), 4) if both else None,
        "brier": round(float(brier_score_loss(y, p)), 4),
        "log_loss": round(float(log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1])), 4),
        "threshold": threshold,
        "precision": round(float(precision_score(y, pred, zero_division=0)), 4),
        "recall": round(float(recall_score(y, pred, zero_division=0)), 4),
        "positive_rate": round(float(y.mean()), 4),
        "predicted_positive_rate": round(float(pred.mean()), 4),
    }


def _checked_split(frame: pd.DataFrame, params: TrainParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The time split, refused (NotEnoughData) with too few carts or one outcome on either side."""
    if len(frame) < params.min_carts:
        raise NotEnoughData(f"{len(frame)} carts with a known outcome; at least {params.min_carts} are needed.")
    train_df, test_df = time_split(frame, params.test_fraction)
    for name, part in (("training", train_df), ("holdout", test_df)):
        if part[TARGET].nunique() < 2:
            raise NotEnoughData(f"the {name} carts have only one outcome ({int(part[TARGET].iloc[0])}); "
                                "both converted and abandoned carts are needed.")
    return train_df, test_df


def split_parts(frame: pd.DataFrame, params: TrainParams
                ) -> tuple[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], dict, pd.DataFrame]:
    """The fit, validation and holdout carts within the row caps, the caps' report, and every training cart."""
    train_df, test_df = _checked_split(frame, params)
    fit_df, valid_df = time_split(train_df, params.validation_fraction)
    if valid_df[TARGET].nunique() < 2 or fit_df[TARGET].nunique() < 2:
        raise NotEnoughData("the fitting or the validation carts have only one outcome; both converted and "
                            "abandoned carts are needed in each.")
    parts, bounded = bounded_parts((fit_df, valid_df, test_df), params.bounds)
    return parts, {**bounded, "split_at": test_df["decided_at"].min()}, train_df


def family_spec(params: TrainParams) -> FamilySpec:
    return FamilySpec(NUMERIC_FEATURES, CATEGORICAL_FEATURES, seed=params.seed, n_jobs=params.n_jobs,
                      n_estimators=params.n_estimators, max_tree_rows=params.max_tree_rows)


def train(frame: pd.DataFrame, params: TrainParams | None = None,
          progress: Callable[[str], None] | None = None, guard: Guard | None = None) -> TrainResult:
    """Fit every family, compare, choose (:mod:`ml.evaluation`). Same frame and seed → same report."""
    params = params or TrainParams()
    (fit_df, valid_df, test_df), bounded, train_df = split_parts(frame, params)
    split_at = bounded.pop("split_at")  # the time boundary, whatever rows the caps keep
    features = list(FEATURES)
    spec = family_spec(params)
    ev = evaluate(spec, (fit_df, valid_df, test_df), TARGET, params.evaluation(), progress, guard)
    y_test, y_valid = test_df[TARGET].to_numpy(), valid_df[TARGET].to_numpy()
    threshold = best_threshold(y_valid, ev.valid[ev.chosen])
    base_threshold = best_threshold(y_valid, ev.valid[BASELINE])
    base_rate = float(train_df[TARGET].mean())
    chosen = ev.report[ev.chosen]
    metrics = {
        "model": scores(y_test, ev.holdout[ev.chosen], threshold) | {"family": ev.chosen},
        "choice": {"family": ev.chosen, "label": LABELS[ev.chosen], "reason": ev.reason, "rule": RULE},
        "families": ev.report,
        "resources": ev.resources,
        "bounds": bounded,
        "baselines": {
            "logistic_regression": scores(y_test, ev.holdout[BASELINE], base_threshold),
            "base_rate": scores(y_test, np.full(len(y_test), base_rate), 0.5) | {"rate": round(base_rate, 4)},
        },
        "calibration": chosen["calibration"],
        "importances": chosen["importances"],
        "rows": {"train": len(fit_df), "validation": len(valid_df), "test": len(test_df),
                 "train_positive_rate": round(base_rate, 4), "test_positive_rate": round(float(y_test.mean()), 4)},
    }
    return TrainResult(
        pipeline=ev.models[ev.chosen], threshold=threshold, metrics=metrics, features=features,
        n_train=len(train_df), n_test=bounded["rows"]["test"]["available"],  # the split; the caps: "bounds"
        data_start=frame["decided_at"].min(), data_end=frame["decided_at"].max(),
        split_at=split_at,
        params={**{k: v for k, v in params.__dict__.items() if k != "bounds"}, "family": ev.chosen},
    )


def single_process(model: Any) -> Any:
    """``model`` with every step's ``n_jobs`` at 1, for scoring: it runs in Celery's worker processes,
    where joblib's default (loky, process-based) backend cannot start children and warns on every call.
    A calibrated model's inner (frozen) pipelines are set in place."""
    if isinstance(model, CalibratedClassifierCV):
        for part in model.calibrated_classifiers_:
            single_process(getattr(part.estimator, "estimator", part.estimator))
        return model
    return model.set_params(**{name: 1 for name in model.get_params() if name.endswith("n_jobs")})


def predict(pipeline: Pipeline, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    if frame.empty:
        return np.zeros(0)
    return pipeline.predict_proba(frame[features])[:, 1]
