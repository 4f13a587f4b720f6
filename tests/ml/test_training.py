"""ml.training on the simulator's seeded 180-day history: honest holdout metrics, reproducible."""

import numpy as np
import pytest

from ml.features import build_features
from ml.training import NotEnoughData, TrainParams, best_threshold, calibration_table, time_split, train
from tests.ml.sim import END, simulated


@pytest.fixture(scope="module")
def frame():
    events, customers = simulated(seed=7, customers=600, days=180)
    return build_features(events, customers, as_of=END)


@pytest.fixture(scope="module")
def result(frame):
    return train(frame, TrainParams(seed=42))


def test_holdout_is_the_newest_fifth_of_carts(frame):
    older, newest = time_split(frame, 0.2)
    assert len(newest) == round(len(frame) * 0.2)
    assert older["decided_at"].max() <= newest["decided_at"].min()


def test_forest_beats_chance_and_the_baselines_on_the_holdout(frame, result):
    assert len(frame) > 2000  # a few thousand carts over 180 days
    m = result.metrics
    assert m["model"]["roc_auc"] > 0.75
    assert m["model"]["roc_auc"] > m["baselines"]["logistic_regression"]["roc_auc"]
    assert m["baselines"]["base_rate"]["roc_auc"] == 0.5
    assert m["model"]["brier"] < m["baselines"]["base_rate"]["brier"]
    assert 0 < m["model"]["precision"] <= 1 and 0 < m["model"]["recall"] <= 1
    assert result.n_train + result.n_test == len(frame)


def test_report_has_calibration_and_importances(result):
    m = result.metrics
    assert sum(r["carts"] for r in m["calibration"]) == result.n_test
    assert {r["feature"] for r in m["importances"]} == set(result.features)
    top = m["importances"][0]
    assert top["importance"] > 0.01  # something real drives the forest
    assert result.data_start < result.split_at <= result.data_end


def test_same_seed_same_metrics(result):
    events, customers = simulated.__wrapped__(seed=7, customers=600, days=180)  # generated afresh
    again = train(build_features(events, customers, as_of=END), TrainParams(seed=42))
    assert again.metrics == result.metrics
    assert again.threshold == result.threshold


def test_too_few_carts_or_one_outcome_is_refused(frame):
    with pytest.raises(NotEnoughData, match="at least 200"):
        train(frame.iloc[:150])
    one_outcome = frame[frame["converted"] == 0]
    with pytest.raises(NotEnoughData, match="only one outcome"):
        train(one_outcome)


def test_threshold_and_calibration_helpers():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.8, 0.9])
    assert 0.2 < best_threshold(y, p) <= 0.8
    table = calibration_table(y, p, 5)
    assert [r["carts"] for r in table] == [1, 1, 0, 0, 2]  # bins are [low, high)
    assert table[4]["observed_rate"] == 1.0 and table[2]["mean_predicted"] is None
