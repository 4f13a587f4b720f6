"""Training and honest evaluation of the purchase-likelihood model. PURE: a feature frame in, a fitted
pipeline and a JSON-serialisable report out; no ORM, no files.

- Time-based split: carts sorted by decision time; the newest ``test_fraction`` (20%) are the holdout.
- Model: a scikit-learn ``Pipeline`` (one-hot for categorical features) + ``RandomForestClassifier``.
- Threshold: chosen on the training carts' out-of-bag probabilities (max F1), never on the holdout.
- Holdout report: ROC AUC, PR AUC, Brier score, precision/recall/F1 at the threshold, a calibration
  table, permutation importances (ROC AUC drop), and the same metrics for two baselines (the training
  base rate, and a logistic regression on the same features) so a reader sees what the forest adds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET

DEFAULT_MIN_CARTS = 200


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


@dataclass
class TrainResult:
    pipeline: Pipeline
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


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int) -> list[dict]:
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


def scores(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    both = len(np.unique(y)) == 2
    pred = (p >= threshold).astype(int)
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "pr_auc": round(float(average_precision_score(y, p)), 4) if both else None,
        "brier": round(float(brier_score_loss(y, p)), 4),
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


def _importances(forest: Pipeline, x_test: pd.DataFrame, y_test: np.ndarray, features: list[str],
                 params: TrainParams) -> list[dict]:
    """Permutation importances (ROC AUC drop) on the holdout, or a seeded sample of it; highest first."""
    sample, y_sample = x_test, y_test
    if len(sample) > params.importance_max_rows:
        rows = np.random.default_rng(params.seed).choice(len(sample), params.importance_max_rows, replace=False)
        rows.sort()
        sample, y_sample = sample.iloc[rows], y_test[rows]
    imp = permutation_importance(forest, sample, y_sample, scoring="roc_auc", n_repeats=params.importance_repeats,
                                 random_state=params.seed, n_jobs=1)
    ranked = sorted(zip(features, imp.importances_mean, imp.importances_std, strict=True),
                    key=lambda t: (-float(t[1]), t[0]))
    return [{"feature": f, "importance": round(float(m), 5), "std": round(float(s), 5)} for f, m, s in ranked]


def _baselines(x_train: pd.DataFrame, y_train: np.ndarray, x_test: pd.DataFrame, y_test: np.ndarray,
               params: TrainParams) -> dict:
    """The holdout scores of a logistic regression on the same features and of the training base rate."""
    logistic = logistic_pipeline(params).fit(x_train, y_train)
    p_logistic = logistic.predict_proba(x_test)[:, 1]
    p_logistic_train = logistic.predict_proba(x_train)[:, 1]
    base_rate = float(y_train.mean())
    return {
        "logistic_regression": scores(y_test, p_logistic, best_threshold(y_train, p_logistic_train)),
        "base_rate": scores(y_test, np.full(len(y_test), base_rate), 0.5) | {"rate": round(base_rate, 4)},
    }


def train(frame: pd.DataFrame, params: TrainParams | None = None,
          progress: Callable[[str], None] | None = None) -> TrainResult:
    """Fit and evaluate on a feature frame from :mod:`ml.features`. Same frame and seed → same report."""
    params = params or TrainParams()
    say = progress or (lambda _msg: None)
    train_df, test_df = _checked_split(frame, params)
    features = list(FEATURES)
    x_train, y_train = train_df[features], train_df[TARGET].to_numpy()
    x_test, y_test = test_df[features], test_df[TARGET].to_numpy()

    say(f"fitting random forest on {len(train_df)} carts")
    forest = forest_pipeline(params, len(x_train)).fit(x_train, y_train)
    base_rate = float(y_train.mean())
    oob = np.nan_to_num(forest.named_steps["forest"].oob_decision_function_[:, 1], nan=base_rate)
    threshold = best_threshold(y_train, oob)
    p_forest = forest.predict_proba(x_test)[:, 1]
    say("fitting baselines")
    baselines = _baselines(x_train, y_train, x_test, y_test, params)
    say("permutation importances")
    metrics = {
        "model": scores(y_test, p_forest, threshold),
        "oob_roc_auc": round(float(roc_auc_score(y_train, oob)), 4),
        "baselines": baselines,
        "calibration": calibration_table(y_test, p_forest, params.calibration_bins),
        "importances": _importances(forest, x_test, y_test, features, params),
        "rows": {"train": len(train_df), "test": len(test_df),
                 "train_positive_rate": round(base_rate, 4), "test_positive_rate": round(float(y_test.mean()), 4)},
    }
    fitted = forest.named_steps["forest"]
    return TrainResult(
        pipeline=forest, threshold=threshold, metrics=metrics, features=features,
        n_train=len(train_df), n_test=len(test_df),
        data_start=frame["decided_at"].min(), data_end=frame["decided_at"].max(),
        split_at=test_df["decided_at"].min(),
        params={**params.__dict__, "min_samples_leaf": fitted.min_samples_leaf, "max_samples": fitted.max_samples},
    )


def single_process(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with every step's ``n_jobs`` at 1, for scoring: it runs in Celery's worker processes,
    where joblib's default (loky, process-based) backend cannot start children and warns on every call."""
    return pipeline.set_params(**{name: 1 for name in pipeline.get_params() if name.endswith("n_jobs")})


def predict(pipeline: Pipeline, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    if frame.empty:
        return np.zeros(0)
    return pipeline.predict_proba(frame[features])[:, 1]
