"""Celery tasks: thin wrappers over ml.services."""

from __future__ import annotations

import logging

from celery import shared_task

from ml.bounds import TrainingLimitExceeded
from ml.models import ModelVersion, RetrainRequest
from ml.prediction_services import predictions_refresh
from ml.services import RETRAIN_TASK, cart_scores_refresh, model_retrain_finish, model_retrain_start, model_train
from ml.training import DEFAULT_MIN_CARTS, NotEnoughData

logger = logging.getLogger(__name__)


@shared_task(name=RETRAIN_TASK, ignore_result=True)
def retrain_model_task(min_carts: int = DEFAULT_MIN_CARTS, trigger: str = ModelVersion.Trigger.SCHEDULE,
                       request_pk: int | None = None) -> int | None:
    """Train a new version (nightly by default; the schedule is a PeriodicTask editable in admin).

    At most one retraining is queued or running at a time (``ml.models.RetrainRequest``): a run that
    finds another one open is skipped."""
    request = model_retrain_start(request_pk=request_pk, trigger=trigger)
    if request is None:
        logger.info("retraining skipped: another one is already queued or running")
        return None
    try:
        version = model_train(min_carts=min_carts, trigger=trigger, progress=logger.info)
    except (NotEnoughData, TrainingLimitExceeded) as exc:
        logger.warning("retraining not done: %s", exc)
        model_retrain_finish(request_pk=request.pk, state=RetrainRequest.State.FAILED, message=str(exc))
        return None
    except BaseException as exc:
        model_retrain_finish(request_pk=request.pk, state=RetrainRequest.State.FAILED, message=repr(exc))
        raise
    model_retrain_finish(request_pk=request.pk, state=RetrainRequest.State.DONE, version=version,
                         message=version.decision)
    logger.info("trained model version %s: %s", version.pk, version.decision)
    _refresh_predictions(trigger)
    return version.pk


def _refresh_predictions(trigger: str) -> None:
    """The customer predictions retrain with the cart model; their failure does not undo its version."""
    try:
        predictions_refresh(trigger=trigger, progress=logger.info)
    except Exception:
        logger.exception("refreshing the customer predictions failed")


@shared_task(name="ml.tasks.score_open_carts_task", ignore_result=True)
def score_open_carts_task() -> int:
    """Score open carts with the active model (every minute by default)."""
    return cart_scores_refresh()
