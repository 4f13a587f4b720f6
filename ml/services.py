"""Writes for the purchase-likelihood model: train a version, activate one, score open carts."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from insights.derivation import IDLE
from ml import selectors
from ml.features import build_features, open_cart_features
from ml.models import CartScore, ModelVersion
from ml.training import DEFAULT_MIN_CARTS, TrainParams, predict, train

logger = logging.getLogger(__name__)

# A new version replaces the active one unless its holdout ROC AUC is worse by more than this.
AUC_TOLERANCE = 0.01


def activation_decision(*, new_auc: float | None, active: ModelVersion | None,
                        tolerance: float = AUC_TOLERANCE) -> tuple[bool, str]:
    """Whether a freshly trained version should become active, and why."""
    if new_auc is None:
        return False, "kept inactive: no holdout ROC AUC"
    if active is None:
        return True, f"activated: no active version (holdout ROC AUC {new_auc:.4f})"
    if active.roc_auc is None or new_auc >= active.roc_auc - tolerance:
        return True, (f"activated: holdout ROC AUC {new_auc:.4f} vs active v{active.pk} "
                      f"{active.roc_auc if active.roc_auc is not None else float('nan'):.4f} (tolerance {tolerance})")
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
    payload = joblib.load(path)
    loaded = LoadedModel(version_pk=version.pk, pipeline=payload["pipeline"], features=list(payload["features"]),
                         threshold=float(payload["threshold"]))
    _cache.clear()
    _cache[key] = loaded
    return loaded


def model_train(*, since: date | None = None, min_carts: int = DEFAULT_MIN_CARTS,
                trigger: str = ModelVersion.Trigger.COMMAND, params: TrainParams | None = None,
                progress: Callable[[str], None] | None = None) -> ModelVersion:
    """Train on every cart with a known outcome, evaluate on the newest 20%, save the artifact and record
    the version, activating it by :func:`activation_decision`.

    Not one transaction: reading and fitting take long and must not hold a write lock; the version is
    recorded (and possibly activated) atomically at the end. Raises NotEnoughData."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    params = params or TrainParams()
    params = TrainParams(**{**params.__dict__, "min_carts": min_carts})
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
    result = train(frame, params, progress=say)
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
    probs = predict(loaded.pipeline, frame, loaded.features)
    CartScore.objects.all().delete()
    CartScore.objects.bulk_create([
        CartScore(customer_id=int(r.customer), session_key=r.key, model_version=active, probability=float(p),
                  items=int(r.items), value=Decimal(str(round(float(r.value), 2))),
                  opened_at=r.opened_at.to_pydatetime(), decided_at=r.decided_at.to_pydatetime(), scored_at=as_of)
        for r, p in zip(frame.itertuples(index=False), probs, strict=True)
    ])
    return len(frame)



@transaction.atomic
def model_retrain_request(*, trigger: str = ModelVersion.Trigger.WEB) -> None:
    """Queue a retraining on the Celery worker once the surrounding transaction commits."""
    from ml.tasks import retrain_model_task

    transaction.on_commit(lambda: retrain_model_task.delay(trigger=trigger))
