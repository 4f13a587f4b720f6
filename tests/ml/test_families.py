"""ml.families: the fast metrics equal scikit-learn's, the written choice rule, and the simulator's ground
truth: on the nonlinear behaviour a nonlinear family wins with non-overlapping 95% intervals; on the linear
one the rule keeps the logistic baseline."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from ml.families import average_precision, bootstrap, choose, metric_values, roc_auc
from ml.features import build_features
from ml.training import TrainParams, train
from tests.ml.sim import END, simulated

SMALL = TrainParams(seed=3, n_estimators=40, importance_repeats=1, importance_max_rows=300, resamples=100,
                    families=("logistic", "random_forest", "gradient_boosting"))


def test_fast_metrics_equal_scikit_learns():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 2, 400)
        p = np.round(rng.random(400), 2)  # ties on purpose
        assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert average_precision(y, p) == pytest.approx(average_precision_score(y, p), abs=1e-12)
        m = metric_values(y, p)
        assert m["log_loss"] == pytest.approx(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)), abs=1e-9)
        assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-6)  # p is clipped to [1e-6, 1 - 1e-6]


def _compared(diffs: dict[str, tuple[float, float, float]], losses: dict[str, float]) -> dict:
    return {f: {"log_loss": {"value": losses[f]},
                "log_loss_vs_baseline": dict(zip(("value", "low", "high"), diffs[f], strict=True))}
            for f in diffs}


def test_rule_picks_the_best_log_loss_among_those_surely_better_than_the_baseline():
    compared = _compared({"logistic": (0, 0, 0), "random_forest": (-0.05, -0.08, -0.02),
                          "gradient_boosting": (-0.07, -0.12, 0.01), "mlp": (-0.03, -0.05, -0.01)},
                         {"logistic": 0.40, "random_forest": 0.35, "gradient_boosting": 0.33, "mlp": 0.37})
    assert choose(compared)[0] == "random_forest"  # gradient boosting's interval includes 0
    compared["random_forest"]["log_loss_vs_baseline"]["high"] = 0.001
    compared["mlp"]["log_loss_vs_baseline"]["high"] = 0.0  # touching 0 is not excluding it
    family, reason = choose(compared)
    assert family == "logistic" and "no other family" in reason


def test_bootstrap_difference_of_a_model_with_itself_is_zero():
    y = np.array([0, 1] * 50)
    p = np.linspace(0.1, 0.9, 100)
    out = bootstrap(y, {"logistic": p, "mlp": p.copy()}, resamples=50, seed=1)
    assert out["mlp"]["log_loss_vs_baseline"] == {"value": 0.0, "low": 0.0, "high": 0.0}
    assert out["mlp"]["log_loss"]["low"] <= out["mlp"]["log_loss"]["value"] <= out["mlp"]["log_loss"]["high"]


@pytest.fixture(scope="module")
def nonlinear():
    events, customers = simulated(seed=7, customers=1200, days=120, behaviour="nonlinear")
    return train(build_features(events, customers, as_of=END), SMALL)


def test_on_the_nonlinear_simulator_a_nonlinear_family_wins_with_separate_intervals(nonlinear):
    m = nonlinear.metrics
    chosen = m["choice"]["family"]
    assert chosen != "logistic", m["choice"]["reason"]
    ours, baseline = m["families"][chosen]["metrics"]["log_loss"], m["families"]["logistic"]["metrics"]["log_loss"]
    assert ours["high"] < baseline["low"]  # non-overlapping 95% bootstrap intervals
    assert m["families"][chosen]["metrics"]["log_loss_vs_baseline"]["high"] < 0
    assert m["families"][chosen]["calibration_method"] == "sigmoid"  # under 1,000 validation carts


def test_on_the_linear_simulator_the_rule_keeps_the_baseline():
    events, customers = simulated(seed=7, customers=1200, days=120, behaviour="linear")
    result = train(build_features(events, customers, as_of=END), SMALL)
    assert result.metrics["choice"]["family"] == "logistic", result.metrics["choice"]["reason"]


def test_the_first_version_says_it_is_active_because_it_is_the_first():
    from ml.services import activation_decision

    activate, reason = activation_decision(new_auc=0.84, active=None)
    assert activate and reason.startswith("activated as the first version") and "no active version" not in reason
