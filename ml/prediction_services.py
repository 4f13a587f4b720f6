"""Writes for the customer predictions: train both targets, score the active customers, store the run.

Runs after each retraining of the cart model (nightly and on demand: ``ml.tasks.retrain_model_task``) and
from ``manage.py train_predictions``. Bounded: the training frame holds ``ML_PREDICTION_WEEKS`` weekly
cut-offs of customers active in the 28 days before each, and families fit one at a time on one thread.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime

import joblib
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from insights.clv.selectors import clv_predictions_for
from ml import selectors
from ml.audiences import members as audience_members
from ml.bounds import Guard, TrainingBounds
from ml.customer_features import HORIZON, features_at, training_frame
from ml.customer_training import PredictionParams, TargetResult, predict, train_all
from ml.models import AudienceMember, CustomerPrediction, ModelVersion, PredictionRun
from ml.services import _model_dir, _sha256


def default_params() -> PredictionParams:
    return PredictionParams(min_positives=settings.ML_PREDICTION_MIN_POSITIVES,
                            min_negatives=settings.ML_PREDICTION_MIN_NEGATIVES, bounds=TrainingBounds.from_settings())


def _target_state(result: TargetResult) -> dict:
    return {"eligible": result.eligible, "reason": result.reason, "counts": result.counts,
            "chosen": result.chosen, **result.metrics}


def predictions_refresh(*, as_of: datetime | None = None, params: PredictionParams | None = None,
                        trigger: str = ModelVersion.Trigger.COMMAND,
                        progress: Callable[[str], None] | None = None, guard: Guard | None = None) -> PredictionRun:
    """Train both targets on weekly cut-offs up to ``as_of`` − 7 days, score every customer active in the
    28 days before ``as_of``, and replace the stored predictions with this run's. Bounded like the cart model
    (:mod:`ml.bounds`): row caps, and ``guard`` (by default one started now) stops it past its bounds."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    as_of = as_of or timezone.now()
    params = params or default_params()
    guard = guard or Guard(params.bounds)
    say("reading events")
    events, customers = selectors.events_frame(), selectors.customers_frame()
    sessions = selectors.sessions_frame()
    holdout_cutoff = as_of - HORIZON
    frame = training_frame(events, customers, last_cutoff=holdout_cutoff, weeks=settings.ML_PREDICTION_WEEKS,
                           sessions=sessions)
    say(f"{len(frame):,} customer-weeks from {len(events):,} events")
    guard.check("after building the customer-weeks")
    results = train_all(frame, params, say, guard)
    rows = features_at(events, customers, as_of, sessions)
    probabilities = {t: pd.Series(predict(r.model, rows), index=rows.index) for t, r in results.items() if r.eligible}
    artifact, digest = "", ""
    if probabilities:
        artifact = f"predictions-{as_of:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.joblib"
        joblib.dump({t: r.model for t, r in results.items() if r.eligible}, _model_dir() / artifact, compress=3)
        digest = _sha256(_model_dir() / artifact)
    run = PredictionRun(
        trained_at=timezone.now(), trigger=trigger, cutoff=as_of, holdout_cutoff=holdout_cutoff,
        events_count=len(events), rows_count=len(frame), scored_count=len(rows),
        targets={t: _target_state(r) for t, r in results.items()}, artifact=artifact, sha256=digest,
        duration_seconds=round(time.perf_counter() - started, 2))
    _store(run, rows.index, probabilities, as_of)
    say("; ".join(f"{t}: {r.reason}" for t, r in results.items()))
    return run


@transaction.atomic
def _store(run: PredictionRun, customers: pd.Index, probabilities: dict[str, pd.Series], as_of: datetime) -> None:
    """Record the run and replace every stored prediction with its scores (one transaction)."""
    run.save()
    CustomerPrediction.objects.all().delete()
    AudienceMember.objects.all().delete()
    purchase, churn = probabilities.get("purchase_7d"), probabilities.get("churn_7d")
    scores = [(int(pk), None if purchase is None else float(purchase[pk]), None if churn is None else float(churn[pk]))
              for pk in customers]
    CustomerPrediction.objects.bulk_create([
        CustomerPrediction(customer_id=pk, run=run, scored_at=as_of, purchase_probability=p, churn_probability=c)
        for pk, p, c in scores], batch_size=2000)
    tiers = {pk: row["tier"] for pk, row in clv_predictions_for(customer_pks=[pk for pk, _p, _c in scores]).items()}
    AudienceMember.objects.bulk_create([
        AudienceMember(run=run, audience=slug, customer_id=pk)
        for slug, pks in audience_members(scores, tiers).items() for pk in pks], batch_size=2000)


