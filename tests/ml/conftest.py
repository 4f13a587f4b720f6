from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from ml.training import TrainParams
from tests.kept import kept
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


@pytest.fixture(scope="module")
def _history_for_the_module(django_db_setup, django_db_blocker) -> Iterator[int]:
    with kept(django_db_blocker):
        with django_db_blocker.unblock():
            count = store(seed=7, customers=300, days=180)
        yield count


@pytest.fixture
def history_shared(_history_for_the_module, db) -> int:
    """``history`` stored once for the module (each test's writes are rolled back), for non-transactional
    tests; every later test of the module sees it, so a test that needs an empty store goes elsewhere.
    Without ``model_dir``: a test that trains asks for it, or for ``model_dir_for_the_class``."""
    return _history_for_the_module


@pytest.fixture(scope="class")
def model_dir_for_the_class(tmp_path_factory) -> Iterator[Path]:
    """MODEL_DIR for every test of a class, so a version trained once for the class loads in each."""
    path = tmp_path_factory.mktemp("models")
    with override_settings(MODEL_DIR=path):
        yield path
