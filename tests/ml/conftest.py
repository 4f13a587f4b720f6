import pytest

from ml.training import TrainParams
from tests.ml.sim import store

FAST = TrainParams(seed=5, n_estimators=40, importance_repeats=1, importance_max_rows=500, resamples=50)


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    return settings.MODEL_DIR


@pytest.fixture
def history(db, model_dir):
    """A seeded simulated 180-day history of 300 customers, stored in the database."""
    return store(seed=7, customers=300, days=180)
