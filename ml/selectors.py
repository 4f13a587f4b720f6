"""Reads for the purchase-likelihood model: training data, open carts, versions, scores."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection

from customers.models import Customer
from events.models import Event
from insights.models import Cart, Session
from ml.features import EVENT_COLUMNS, empty_events
from ml.models import CartScore, CustomerPrediction, ModelVersion, PredictionRun, RetrainRequest
from products.models import Product

CHUNK_ROWS = 100_000


def _event_sql(where: str) -> str:
    e, p = Event._meta.db_table, Product._meta.db_table
    if connection.vendor == "postgresql":
        ts = "(EXTRACT(EPOCH FROM e.timestamp) * 1000000)::bigint"
        price, amount, discount = "e.price::float8", "e.amount::float8", "e.discount::float8"
    else:
        ts = "e.timestamp"
        price, amount, discount = "CAST(e.price AS REAL)", "CAST(e.amount AS REAL)", "CAST(e.discount AS REAL)"
    return (f"SELECT e.id, e.customer_id, COALESCE(e.product_id, -1), e.session_id, e.action, e.quantity, {price}, "
            f"e.order_id, {ts}, COALESCE(p.category, ''), {amount}, {discount}"
            f" FROM {e} e LEFT JOIN {p} p ON p.id = e.product_id {where}")


def _events_frame_from_rows(rows: list[tuple]) -> pd.DataFrame:
    cols = list(zip(*rows, strict=True))
    ts_raw = cols[8]
    if connection.vendor == "postgresql":
        ts = pd.to_datetime(np.asarray(ts_raw, dtype=np.int64), unit="us", utc=True)
    else:
        ts = pd.to_datetime(pd.Series(ts_raw, dtype=object), utc=True, format="ISO8601")
    return pd.DataFrame({
        "pk": np.asarray(cols[0], dtype=np.int64),
        "customer": np.asarray(cols[1], dtype=np.int64),
        "product": np.asarray(cols[2], dtype=np.int64),
        "session_id": pd.Series(cols[3], dtype=object).fillna(""),
        "action": pd.Series(cols[4], dtype=object),
        "quantity": np.asarray(cols[5], dtype=np.int64),
        "price": np.asarray(cols[6], dtype=np.float64),
        "order_id": pd.Series(cols[7], dtype=object),
        "ts": np.asarray(ts),
        "category": pd.Series(cols[9], dtype=object),
        "amount": np.asarray([np.nan if a is None else a for a in cols[10]], dtype=np.float64),
        "discount": np.asarray([np.nan if a is None else a for a in cols[11]], dtype=np.float64),
    })


def events_frame(*, customer_pks: Iterable[int] | None = None,
                 progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Events (optionally of some customers) as the frame ml.features reads, fetched in chunks through a
    server-side cursor on PostgreSQL so memory stays at the frame's own size."""
    params: list[Any] = []
    where = ""
    if customer_pks is not None:
        pks = sorted(set(customer_pks))
        if not pks:
            return empty_events()
        where = f"WHERE e.customer_id IN ({', '.join(['%s'] * len(pks))})"
        params = pks
    if customer_pks is None and connection.vendor == "postgresql":
        return _events_frame_copy(progress)
    parts: list[pd.DataFrame] = []
    with connection.chunked_cursor() as cursor:
        cursor.execute(_event_sql(where), params)
        while True:
            rows = cursor.fetchmany(CHUNK_ROWS)
            if not rows:
                break
            parts.append(_events_frame_from_rows(rows))
            if progress:
                progress(len(rows))
    if not parts:
        return empty_events()
    frame = pd.concat(parts, ignore_index=True)
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    return frame


def _events_frame_copy(progress: Callable[[int], None] | None) -> pd.DataFrame:
    """PostgreSQL: every event through ``COPY ... TO STDOUT`` (CSV) into pandas — several times faster than
    fetching rows as Python tuples, and no bigger in memory."""
    import io

    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY ({_event_sql('')}) TO STDOUT WITH (FORMAT csv)", buffer)  # type: ignore[attr-defined]
    buffer.seek(0)
    frame = pd.read_csv(
        buffer, header=None, names=list(EVENT_COLUMNS),
        dtype={"pk": "int64", "customer": "int64", "product": "int64", "session_id": object, "action": object,
               "quantity": "int64", "price": "float64", "order_id": object, "ts": "int64", "category": object,
               "amount": "float64", "discount": "float64"},
        keep_default_na=False, na_values={"order_id": [""], "amount": [""], "discount": [""]})
    del buffer
    frame["ts"] = pd.to_datetime(frame["ts"], unit="us", utc=True).astype("datetime64[us, UTC]")
    frame["order_id"] = frame["order_id"].astype(object).where(frame["order_id"].notna(), None)
    if progress:
        progress(len(frame))
    return frame


def sessions_frame() -> pd.DataFrame:
    """The derived sessions' customer, start and traffic channel (the customer predictions' channel mix)."""
    rows = list(Session.objects.values_list("customer_id", "started_at", "channel").iterator(chunk_size=CHUNK_ROWS))
    frame = pd.DataFrame(rows, columns=["customer", "started_at", "channel"])
    frame["customer"] = frame["customer"].astype("int64")
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    return frame


def customers_frame(*, customer_pks: Iterable[int] | None = None) -> pd.DataFrame:
    qs = Customer.objects.all()
    if customer_pks is not None:
        qs = qs.filter(pk__in=list(customer_pks))
    rows = list(qs.values_list("pk", "age_group", "signed_up_at"))
    frame = pd.DataFrame(rows, columns=["pk", "age_group", "signed_up_at"]).set_index("pk")
    frame["signed_up_at"] = pd.to_datetime(frame["signed_up_at"], utc=True)
    return frame


def active_customer_pks(*, as_of: datetime, idle: timedelta) -> list[int]:
    """Customers with an event inside the idle window: only they can have an open cart."""
    return list(Event.objects.filter(timestamp__gt=as_of - idle, timestamp__lte=as_of)
                .values_list("customer_id", flat=True).distinct())


# --- versions ---------------------------------------------------------------------------------

def retrain_request_open() -> RetrainRequest | None:
    """The retraining queued or running now, if any (at most one)."""
    return RetrainRequest.objects.filter(is_open=True).select_related("requested_by").first()


def retrain_request_failed() -> RetrainRequest | None:
    """The latest retraining when it failed (stopped by its bounds, too little data, an error), else None."""
    last = RetrainRequest.objects.filter(is_open=False).order_by("-finished_at", "-pk").first()
    return last if last is not None and last.state == RetrainRequest.State.FAILED else None


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def model_report(*, version_pk: int | None = None) -> dict[str, Any]:
    """What the model report page shows: every version over time, and one version's full report."""
    versions = list(ModelVersion.objects.order_by("trained_at", "id"))
    chosen: ModelVersion | None
    if version_pk is not None:
        chosen = next((v for v in versions if v.pk == version_pk), None)
        if chosen is None:
            raise ModelVersion.DoesNotExist(version_pk)
    else:
        chosen = next((v for v in versions if v.is_active), versions[-1] if versions else None)
    history = [{
        "pk": v.pk, "trained_at": v.trained_at.isoformat(), "trigger": v.trigger, "is_active": v.is_active,
        "roc_auc": v.roc_auc, "baseline_roc_auc": v.baseline_roc_auc,
        "pr_auc": (v.metrics.get("model") or {}).get("pr_auc"),
        "brier": (v.metrics.get("model") or {}).get("brier"),
        "carts": v.carts_count, "events": v.events_count, "decision": v.decision,
        "family_label": (v.metrics.get("choice") or {}).get("label", "random forest"),
        "data_start": v.data_start.isoformat() if v.data_start else None,
        "data_end": v.data_end.isoformat() if v.data_end else None,
    } for v in versions]
    return {"versions": list(reversed(history)), "history": history, "version": chosen}


# --- scores -----------------------------------------------------------------------------------

def _score_rows(qs) -> list[dict[str, Any]]:
    """Score rows with the customer's real name and email (masking is the caller's, at the edge)."""
    return [{
        "customer_pk": s.customer.pk, "customer_id": s.customer.external_id,
        "customer_name": s.customer.name, "customer_email": s.customer.email,
        "session_key": s.session_key, "probability": round(s.probability, 4),
        "items": s.items, "value": round(float(s.value), 2),
        "opened_at": s.opened_at.isoformat(), "decided_at": s.decided_at.isoformat(),
        "scored_at": s.scored_at.isoformat(), "model_version": s.model_version_id,
    } for s in qs.select_related("customer")]


def cart_scores_at_risk(*, limit: int = 10, max_probability: float | None = None) -> list[dict[str, Any]]:
    """Open carts worth recovering: high value, low purchase probability (value × (1 − p), highest first).

    ``max_probability`` defaults to the active version's threshold."""
    if max_probability is None:
        active = model_version_active()
        max_probability = active.threshold if active else 0.5
    rows = _score_rows(CartScore.objects.filter(probability__lt=max_probability))
    rows.sort(key=lambda r: (-(r["value"] * (1 - r["probability"])), r["session_key"]))
    return rows[:limit]


def cart_scores_likely_buyers(*, limit: int = 10) -> list[dict[str, Any]]:
    """Open carts most likely to convert."""
    return _score_rows(CartScore.objects.order_by("-probability", "-value", "session_key")[:limit])


def cart_scores_for_customer(*, customer_pk: int) -> list[dict[str, Any]]:
    """The customer's open carts with their purchase probability."""
    return _score_rows(CartScore.objects.filter(customer_id=customer_pk).order_by("-opened_at"))


def cart_predictions_for_customer(*, customer_pk: int) -> list[dict[str, Any]]:
    """``[{"cart_pk", "probability", "model_version"}]`` for the customer's open carts, keyed by the metrics
    engine's Cart rows (what the customer drill-down template reads as ``cart_predictions``)."""
    scores = {s.session_key: s for s in CartScore.objects.filter(customer_id=customer_pk)}
    if not scores:
        return []
    carts = Cart.objects.filter(customer_id=customer_pk, session__key__in=list(scores)).values_list(
        "pk", "session__key")
    return [{"cart_pk": pk, "probability": round(scores[key].probability, 4),
             "model_version": scores[key].model_version_id} for pk, key in carts]


# --- customer predictions -----------------------------------------------------------------------

def prediction_run_latest() -> PredictionRun | None:
    return PredictionRun.objects.first()


def customer_predictions(*, customer_pk: int) -> dict[str, Any]:
    """The customer's latest predictions with what each means and whether it is shown (eligibility).
    Raises Customer.DoesNotExist for an unknown customer."""
    customer = Customer.objects.get(pk=customer_pk)
    run = prediction_run_latest()
    row = CustomerPrediction.objects.filter(customer=customer).first()
    out: dict[str, Any] = {"customer": customer.pk, "run": run.pk if run else None,
                           "cutoff": run.cutoff.isoformat() if run else None, "predictions": {}}
    for target, field, meaning in (("purchase_7d", "purchase_probability", "purchases in the next 7 days"),
                                   ("churn_7d", "churn_probability", "is not seen in the next 7 days")):
        state = (run.targets.get(target) if run else None) or {}
        value = getattr(row, field) if row is not None else None
        if run is None:
            reason = "no predictions run yet"
        elif not state.get("eligible"):
            reason = state.get("reason", "not eligible")
        elif row is None:
            reason = "not active in the 28 days before the cut-off"
        else:
            reason = state.get("reason", "")
        out["predictions"][target] = {
            "probability": None if value is None else round(value, 4), "meaning": f"probability the customer {meaning}",
            "model": (state.get("choice") or {}).get("label"), "shown": value is not None, "reason": reason}
    return out
