"""Writes for the purchase-likelihood model: train a version, activate one, score open carts."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import pandas as pd
from celery import signature
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from insights.derivation import IDLE
from ml import selectors
from ml.bounds import DEFAULT_MIN_CARTS, Guard, TrainingBounds
from ml.features import build_features, open_cart_features
from ml.models import CartScore, ModelVersion, RetrainRequest

if TYPE_CHECKING:  # ml.training imports scikit-learn, seconds a process: imported where a model is fit or used
    from ml.training import TrainParams

logger = logging.getLogger(__name__)

# A new version replaces the active one unless its holdout ROC AUC is worse by more than this.
AUC_TOLERANCE = 0.01


def activation_decision(*, new_auc: float | None, active: ModelVersion | None,
                        tolerance: float = AUC_TOLERANCE) -> tuple[bool, str]:
    """Whether a freshly trained version should replace the active one, and why (in words a reader of the
    page can check: docs/retention-and-predictions.md#which-model-is-active)."""
    if new_auc is None:
        return False, "kept inactive: no holdout ROC AUC"
    if active is None:
        return True, f"activated as the first version (nothing to compare with); holdout ROC AUC {new_auc:.4f}"
    if active.roc_auc is None or new_auc >= active.roc_auc - tolerance:
        old = "n/a" if active.roc_auc is None else f"{active.roc_auc:.4f}"
        return True, (f"activated: holdout ROC AUC {new_auc:.4f} against the then active v{active.pk}'s {old} "
                      f"(replaced unless worse by more than {tolerance})")
    return False, (f"kept inactive: holdout ROC AUC {new_auc:.4f} is worse than active v{active.pk}'s "
                   f"{active.roc_auc:.4f} by more than {tolerance}")


def _model_dir() -> Path:
    path = Path(settings.MODEL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedModel:
    version_pk: int
    pipeline: Any
    features: list[str]
    threshold: float


_cache: dict[tuple[str, str], LoadedModel] = {}


class ArtifactError(RuntimeError):
    """The artifact file is missing or does not match its recorded SHA-256."""


def model_load(*, version: ModelVersion) -> LoadedModel:
    """The version's pipeline, checked against its SHA-256 (cached per process)."""
    key = (version.artifact, version.sha256)
    if key in _cache:
        return _cache[key]
    path = _model_dir() / version.artifact
    if not path.exists():
        raise ArtifactError(f"artifact {path} of v{version.pk} is missing")
    if _sha256(path) != version.sha256:
        raise ArtifactError(f"artifact {path} of v{version.pk} does not match its SHA-256")
    from ml.training import single_process

    payload = joblib.load(path)
    # Scoring runs every minute in a Celery worker process: one job, no loky children (ml.training).
    loaded = LoadedModel(version_pk=version.pk, pipeline=single_process(payload["pipeline"]),
                         features=list(payload["features"]), threshold=float(payload["threshold"]))
    _cache.clear()
    _cache[key] = loaded
    return loaded


def model_train(*, since: date | None = None, min_carts: int = DEFAULT_MIN_CARTS,
                trigger: str = ModelVersion.Trigger.COMMAND, params: TrainParams | None = None,
                progress: Callable[[str], None] | None = None, guard: Guard | None = None) -> ModelVersion:
    """Train on every cart with a known outcome, evaluate on the newest 20%, save the artifact and record
    the version, activating it by :func:`activation_decision`.

    Bounded (:mod:`ml.bounds`, settings ML_TRAIN_*): row caps per family, and ``guard`` (by default one from
    the settings, started now) stops the run with TrainingLimitExceeded past its time or memory bound.
    Not one transaction: reading and fitting take long and must not hold a write lock; the version is
    recorded (and possibly activated) atomically at the end. Raises NotEnoughData."""
    from ml.training import TrainParams, train

    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    params = params or TrainParams(bounds=TrainingBounds.from_settings())
    params = TrainParams(**{**params.__dict__, "min_carts": min_carts,
                            "resamples": getattr(settings, "ML_BOOTSTRAP_RESAMPLES", params.resamples)})
    guard = guard or Guard(params.bounds)
    as_of = timezone.now()
    say("reading events")
    events = selectors.events_frame()
    customers = selectors.customers_frame()
    say(f"deriving sessions and carts from {len(events):,} events")
    frame = build_features(events, customers, as_of=as_of, time_zone=settings.STORE_TIME_ZONE)
    n_events = len(events)
    del events
    if since is not None:
        frame = frame[frame["opened_at"] >= pd.Timestamp(since, tz="UTC")]
    say(f"{len(frame):,} carts with a known outcome")
    guard.check("after building the cart rows")
    result = train(frame, params, progress=say, guard=guard)
    name = f"model-{as_of:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.joblib"
    path = _model_dir() / name
    joblib.dump({"pipeline": result.pipeline, "features": result.features, "threshold": result.threshold,
                 "metrics": result.metrics}, path, compress=3)
    version = model_version_record(
        trained_at=as_of, trigger=trigger, since=since, events_count=n_events, carts_count=len(frame),
        result_fields={
            "data_start": result.data_start.to_pydatetime(), "data_end": result.data_end.to_pydatetime(),
            "split_at": result.split_at.to_pydatetime(), "train_rows": result.n_train, "test_rows": result.n_test,
            "roc_auc": result.metrics["model"]["roc_auc"],
            "baseline_roc_auc": result.metrics["baselines"]["logistic_regression"]["roc_auc"],
            "threshold": result.threshold, "metrics": result.metrics, "features": result.features,
            "params": result.params,
        },
        artifact=name, sha256=_sha256(path), duration_seconds=round(time.perf_counter() - started, 2))
    say(version.decision)
    return version


@transaction.atomic
def model_version_record(*, trained_at: datetime, trigger: str, since: date | None, events_count: int,
                         carts_count: int, result_fields: dict[str, Any], artifact: str, sha256: str,
                         duration_seconds: float) -> ModelVersion:
    """Record a trained version and activate it if it is not worse than the active one."""
    active = ModelVersion.objects.select_for_update().filter(is_active=True).first()
    activate, reason = activation_decision(new_auc=result_fields.get("roc_auc"), active=active)
    version = ModelVersion.objects.create(
        trained_at=trained_at, trigger=trigger, since=since, events_count=events_count, carts_count=carts_count,
        artifact=artifact, sha256=sha256, duration_seconds=duration_seconds, decision=reason, **result_fields)
    if activate:
        model_activate(version=version, reason=reason)
    return version


@transaction.atomic
def model_activate(*, version: ModelVersion, reason: str = "") -> ModelVersion:
    """Make ``version`` the one scoring uses (also a rollback to an older one). Open-cart scores of other
    versions are dropped; the next scoring pass uses this one."""
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    if reason:
        version.decision = reason
    version.save(update_fields=["is_active", "activated_at", "decision"])
    CartScore.objects.exclude(model_version=version).delete()
    return version


@transaction.atomic
def cart_scores_refresh(*, as_of: datetime | None = None) -> int:
    """Score every open cart with the active model; replaces the previous scores. Returns carts scored."""
    as_of = as_of or timezone.now()
    active = selectors.model_version_active()
    if active is None:
        CartScore.objects.all().delete()
        return 0
    loaded = model_load(version=active)
    pks = selectors.active_customer_pks(as_of=as_of, idle=IDLE)
    events = selectors.events_frame(customer_pks=pks)
    frame = open_cart_features(events, selectors.customers_frame(customer_pks=pks), as_of=as_of,
                               time_zone=settings.STORE_TIME_ZONE)
    frame = frame[frame["items"] > 0]
    from ml.training import predict

    probs = predict(loaded.pipeline, frame, loaded.features)
    CartScore.objects.all().delete()
    CartScore.objects.bulk_create([
        CartScore(customer_id=int(r.customer), session_key=r.key, model_version=active, probability=float(p),
                  items=int(r.items), value=Decimal(str(round(float(r.value), 2))),
                  opened_at=r.opened_at.to_pydatetime(), decided_at=r.decided_at.to_pydatetime(), scored_at=as_of)
        for r, p in zip(frame.itertuples(index=False), probs, strict=True)
    ])
    return len(frame)


# The Celery task that runs a retraining (ml.tasks.retrain_model_task), sent by name.
RETRAIN_TASK = "ml.tasks.retrain_model_task"
# An open retraining older than this is taken for dead (its worker was killed) and no longer blocks a new one.
RETRAIN_STALE_AFTER = timedelta(hours=1)


def _retrain_open_locked() -> RetrainRequest | None:
    """The open (queued or running) request, locked; a stale one is closed as expired first."""
    current = RetrainRequest.objects.select_for_update().filter(is_open=True).first()
    if current is None:
        return None
    since = current.started_at or current.requested_at
    if since < timezone.now() - RETRAIN_STALE_AFTER:
        current.is_open = False
        current.state = RetrainRequest.State.EXPIRED
        current.finished_at = timezone.now()
        current.message = f"no word from the worker for {RETRAIN_STALE_AFTER}; taken for dead"
        current.save(update_fields=["is_open", "state", "finished_at", "message"])
        return None
    return current


def _retrain_open_create(**fields: Any) -> RetrainRequest | None:
    """A new open request, or None when a concurrent one won the race (the unique constraint)."""
    try:
        with transaction.atomic():
            return RetrainRequest.objects.create(is_open=True, **fields)
    except IntegrityError:
        return None


@dataclass(frozen=True)
class RetrainAnswer:
    request: RetrainRequest
    queued: bool  # False: an earlier request is still queued or running

    @property
    def text(self) -> str:
        r = self.request
        if self.queued:
            return "Retraining queued; the new version appears here when it is done."
        if r.state == RetrainRequest.State.RUNNING and r.started_at:
            what = f"already running since {r.started_at:%Y-%m-%d %H:%M} UTC"
        else:
            what = f"already queued since {r.requested_at:%Y-%m-%d %H:%M} UTC"
        who = f" (asked by {r.requested_by})" if r.requested_by else ""
        return f"A retraining is {what}{who}; this request was not queued again."


@transaction.atomic
def model_retrain_request(*, trigger: str = ModelVersion.Trigger.WEB, requested_by: Any = None) -> RetrainAnswer:
    """Queue a retraining on the Celery worker once the surrounding transaction commits, unless one is
    already queued or running: at most one at a time, so ten clicks are one training."""
    current = _retrain_open_locked()
    if current is not None:
        return RetrainAnswer(request=current, queued=False)
    created = _retrain_open_create(trigger=trigger, requested_by=requested_by, state=RetrainRequest.State.QUEUED)
    if created is None:
        raced = RetrainRequest.objects.filter(is_open=True).first()
        if raced is not None:
            return RetrainAnswer(request=raced, queued=False)
        raise RuntimeError("could not record the retraining request")
    request = created

    def enqueue() -> None:
        try:
            # By name: ml.tasks imports this module, so importing the task here would close a circle.
            signature(RETRAIN_TASK, kwargs={"trigger": trigger, "request_pk": request.pk}).delay()
        except Exception as exc:  # the broker is down: do not leave a request that blocks every other
            logger.exception("queueing the retraining failed")
            model_retrain_finish(request_pk=request.pk, state=RetrainRequest.State.FAILED,
                                 message=f"could not be queued: {exc}")

    transaction.on_commit(enqueue)
    return RetrainAnswer(request=request, queued=True)


@transaction.atomic
def model_retrain_start(*, request_pk: int | None, trigger: str) -> RetrainRequest | None:
    """Mark a queued request running (the worker picked it up); without one (the nightly schedule), open
    one. None when another retraining is already queued or running: the caller skips this one."""
    if request_pk is not None:
        request = RetrainRequest.objects.select_for_update().filter(pk=request_pk, is_open=True).first()
        if request is not None:
            request.state = RetrainRequest.State.RUNNING
            request.started_at = timezone.now()
            request.save(update_fields=["state", "started_at"])
            return request
    if _retrain_open_locked() is not None:
        return None
    return _retrain_open_create(trigger=trigger, state=RetrainRequest.State.RUNNING, started_at=timezone.now())


@transaction.atomic
def model_retrain_finish(*, request_pk: int, state: str, version: ModelVersion | None = None,
                         message: str = "") -> None:
    """Close a request (done or failed), so the next one may be queued."""
    RetrainRequest.objects.filter(pk=request_pk).update(
        is_open=False, state=state, finished_at=timezone.now(), version=version, message=message[:2000])
