"""Bounded retraining (docs/retention-and-predictions.md#bounded-retraining): row caps hold, and a run past its
time or memory bound fails with a clear message instead of running on."""

import time
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from ml.bounds import Guard, RssWatch, TrainingBounds, TrainingLimitExceeded, cap_rows
from ml.customer_features import training_frame
from ml.customer_training import PredictionParams, train_target
from ml.evaluation import EvalParams
from ml.features import build_features
from ml.training import train
from tests.ml.conftest import FAST
from tests.ml.sim import END, simulated

QUICK = replace(FAST, families=("logistic", "gradient_boosting"))


@pytest.fixture(scope="module")
def carts():
    events, customers = simulated(seed=7, customers=600, days=180)
    return build_features(events, customers, as_of=END)


def test_cap_rows_keeps_a_seeded_sample_in_time_order_and_leaves_small_frames_alone():
    frame = pd.DataFrame({"t": np.arange(1000)})
    kept = cap_rows(frame, 100, seed=3)
    assert len(kept) == 100 and kept["t"].is_monotonic_increasing and kept["t"].is_unique
    assert kept.equals(cap_rows(frame, 100, seed=3)) and not kept.equals(cap_rows(frame, 100, seed=4))
    assert cap_rows(frame, 1000, seed=3) is frame and cap_rows(frame, 5000, seed=3) is frame


def test_cart_model_fits_on_at_most_the_capped_rows_after_the_time_split(carts):
    bounds = TrainingBounds(max_fit_rows=400, max_eval_rows=150)
    result = train(carts, replace(QUICK, bounds=bounds))
    rows = result.metrics["bounds"]["rows"]
    n_test = int(round(len(carts) * QUICK.test_fraction))
    n_valid = int(round((len(carts) - n_test) * QUICK.validation_fraction))
    assert rows["test"] == {"available": n_test, "used": 150}
    assert rows["validation"] == {"available": n_valid, "used": 150}
    assert rows["fit"] == {"available": len(carts) - n_test - n_valid, "used": 400}
    assert result.metrics["rows"]["train"] == 400 and result.metrics["rows"]["test"] == 150
    assert sum(r["carts"] for r in result.metrics["calibration"]) == 150  # the holdout scored is the capped one
    # the holdout sample is drawn from the newest carts only: the split is made before sampling
    assert result.split_at == carts.sort_values("decided_at")["decided_at"].iloc[-n_test]


def test_uncapped_runs_use_every_row(carts):
    result = train(carts, QUICK)
    rows = result.metrics["bounds"]["rows"]
    assert all(part["available"] == part["used"] for part in rows.values())
    assert result.metrics["bounds"]["max_fit_rows"] == TrainingBounds().max_fit_rows


def test_customer_predictions_fit_on_at_most_the_capped_rows():
    events, customers = simulated(seed=11, customers=400, days=90)
    frame = training_frame(events, customers, last_cutoff=END - timedelta(days=7), weeks=5)
    params = PredictionParams(min_positives=20, min_negatives=20, n_estimators=20,
                              evaluation=EvalParams(resamples=20, importance_repeats=1, importance_max_rows=100,
                                                    families=("logistic",)),
                              bounds=TrainingBounds(max_fit_rows=250, max_eval_rows=120))
    result = train_target(frame, "churn_7d", params)
    assert result.eligible, result.reason
    weeks = sorted(frame["time"].unique())
    assert result.metrics["bounds"]["rows"]["fit"] == {"available": int((frame["time"] < weeks[-2]).sum()),
                                                       "used": 250}
    assert result.metrics["rows"]["fit"] == 250 and result.metrics["rows"]["test"] == 120


def test_a_run_past_its_time_bound_stops_with_a_clear_message(carts):
    guard = Guard(TrainingBounds(max_seconds=0.0))
    with pytest.raises(TrainingLimitExceeded, match=r"over ML_TRAIN_MAX_SECONDS \(0 s\)"):
        train(carts, QUICK, guard=guard)


def test_a_run_past_its_memory_bound_stops_with_a_clear_message(carts):
    guard = Guard(TrainingBounds(max_memory_mb=1.0))
    with pytest.raises(TrainingLimitExceeded, match=r"MB resident, over ML_TRAIN_MAX_MB \(1 MB\)"):
        train(carts, QUICK, guard=guard)


def test_the_memory_watcher_stops_a_fit_midway():
    """The bound is passed during the block (not at a check): the watcher's signal stops it there."""
    guard = Guard(TrainingBounds(max_memory_mb=1e9))
    blocks = []
    with pytest.raises(TrainingLimitExceeded, match="ML_TRAIN_MAX_MB"):
        with guard.watching("a fit") as watch:
            guard.bounds = TrainingBounds(max_memory_mb=1.0)
            watch.limit_mb = 1.0
            for _ in range(400):  # about 20 s at most; the watcher samples every 50 ms
                blocks.append(np.ones(1000))
                time.sleep(0.05)
    assert len(blocks) < 400


def test_rss_watch_records_the_peak_of_the_block():
    with RssWatch() as watch:
        block = np.ones(40 * 2**20 // 8)  # 40 MB
        block[::512] = 2.0
        time.sleep(0.2)
    assert watch.peak_mb >= 40


def test_the_nightly_retraining_past_its_bound_is_recorded_as_failed_and_shown(history, settings, client_for):
    from django.urls import reverse

    from accounts.roles import Role
    from ml.models import ModelVersion, RetrainRequest
    from ml.tasks import retrain_model_task

    settings.ML_TRAIN_MAX_MB = 1
    assert retrain_model_task(min_carts=50) is None
    request = RetrainRequest.objects.get()
    assert request.state == RetrainRequest.State.FAILED and not request.is_open
    assert "over ML_TRAIN_MAX_MB (1 MB)" in request.message
    assert not ModelVersion.objects.exists()
    page = client_for(Role.ANALYST).get(reverse("ml:report")).content.decode()
    assert 'id="retrain-failed"' in page and "over ML_TRAIN_MAX_MB (1 MB)" in page


def test_model_page_shows_each_familys_time_memory_and_the_rows_used(carts, db, client_for):
    from django.template.defaultfilters import floatformat
    from django.urls import reverse

    from accounts.roles import Role
    from tests.factories import ModelVersionFactory

    result = train(carts, replace(QUICK, bounds=TrainingBounds(max_fit_rows=400, max_eval_rows=150)))
    ModelVersionFactory(metrics=result.metrics, is_active=True, roc_auc=result.metrics["model"]["roc_auc"])
    page = client_for(Role.ANALYST).get(reverse("ml:report")).content.decode()
    assert "Peak RSS MB" in page and 'class="muted bounds"' in page
    assert "each family fit on 400 of" in page and "scored on 150 of" in page
    for family in ("logistic", "gradient_boosting"):
        r = result.metrics["resources"][family]
        # formatted as the template formats it (floatformat rounds halves up; ``:.0f`` rounds them to even)
        assert r["peak_mb"] > 0 and f'<td class="num">{floatformat(r["peak_mb"], 0)}</td>' in page
