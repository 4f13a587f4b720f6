"""ml.services on a store without enough data (test_services.py shares one simulated history across its
tests, so a test that needs an empty store lives here)."""

import pytest

from ml.models import ModelVersion
from ml.services import model_train
from ml.training import NotEnoughData
from tests.factories import EventFactory
from tests.ml.conftest import FAST


def test_too_little_data_is_refused(db, model_dir):
    EventFactory(action="add_to_cart")
    with pytest.raises(NotEnoughData, match="at least 200"):
        model_train(trigger=ModelVersion.Trigger.TEST, params=FAST)
    assert not ModelVersion.objects.exists()

