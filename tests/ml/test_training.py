"""ml.training on the simulator's seeded 180-day history: honest holdout metrics, reproducible."""

import multiprocessing
import warnings

import numpy as np
import pytest

from ml.features import FEATURES, TARGET, build_features
from ml.training import (
    NotEnoughData,
    TrainParams,
    best_threshold,
    calibration_table,
    forest_pipeline,
    single_process,
    time_split,
    train,
)
from tests.ml.sim import END, simulated

FAST = TrainParams(seed=42, n_estimators=40, importance_repeats=1, importance_max_rows=500, resamples=50)


@pytest.fixture(scope="module")
def frame():
    events, customers = simulated(seed=7, customers=600, days=180)
    return build_features(events, customers, as_of=END)


@pytest.fixture(scope="module")
def result(frame):
    return train(frame, FAST)


def test_holdout_is_the_newest_fifth_of_carts(frame):
    older, newest = time_split(frame, 0.2)
    assert len(newest) == round(len(frame) * 0.2)
    assert older["decided_at"].max() <= newest["decided_at"].min()


def test_chosen_model_beats_chance_and_the_base_rate_on_the_holdout(frame, result):
    assert len(frame) > 2000  # a few thousand carts over 180 days
    m = result.metrics
    assert m["model"]["roc_auc"] > 0.75
    assert m["choice"]["family"] == m["model"]["family"] == "logistic"  # the linear simulator: the rule keeps it
    assert set(m["families"]) == {"logistic", "random_forest", "gradient_boosting", "mlp"}
    assert set(m["resources"]["mlp"]) == {"seconds", "peak_mb"}
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
    again = train(build_features(events, customers, as_of=END), FAST)
    timings = ("resources",)  # wall time and memory vary run to run
    assert {k: v for k, v in again.metrics.items() if k not in timings} == \
        {k: v for k, v in result.metrics.items() if k not in timings}
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


def _warnings_predicting_in_a_daemon_process(pipeline, x) -> list[str]:
    """What predicting warns in a daemonic child process, as in a Celery prefork worker."""

    def run(queue):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pipeline.predict_proba(x)
        queue.put([str(w.message) for w in caught])

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=run, args=(queue,), daemon=True)
    child.start()
    try:
        return queue.get(timeout=120)
    finally:
        child.join(timeout=30)


def test_scoring_pipeline_runs_one_job_without_loky_in_a_worker_process(frame):
    x, y = frame[list(FEATURES)].iloc[:400], frame[TARGET].iloc[:400].to_numpy()
    pipeline = forest_pipeline(TrainParams(n_estimators=10, n_jobs=2), len(x)).fit(x, y)
    before = _warnings_predicting_in_a_daemon_process(pipeline, x)
    assert any("Loky-backed" in w for w in before)  # what a worker logged once a minute
    scoring = single_process(pipeline)
    assert {v for k, v in scoring.get_params().items() if k.endswith("n_jobs")} == {1}
    assert not any("Loky-backed" in w for w in _warnings_predicting_in_a_daemon_process(scoring, x))
