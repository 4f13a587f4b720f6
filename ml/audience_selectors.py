"""Reads for the predictive audiences (ml/audiences.py): counts for everyone, members for analysts."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from ml.audiences import AUDIENCES
from ml.models import AudienceMember, CustomerPrediction, PredictionRun


def audience_counts() -> dict[str, Any]:
    """Every audience with its rule and size in the latest run."""
    run = PredictionRun.objects.first()
    counts = dict(AudienceMember.objects.values_list("audience").annotate(n=Count("id")).values_list("audience", "n"))
    return {"run": run, "audiences": [
        {"slug": slug, "title": title, "rule": rule, "count": counts.get(slug, 0)}
        for slug, (title, rule) in AUDIENCES.items()]}


def audience_members(*, slug: str) -> list[dict[str, Any]]:
    """The audience's customers with their e-mail and probabilities (real values: only analysts see this)."""
    if slug not in AUDIENCES:
        raise KeyError(slug)
    rows = (AudienceMember.objects.filter(audience=slug).select_related("customer")
            .order_by("customer_id"))
    scores = {p.customer_id: p for p in CustomerPrediction.objects.filter(
        customer_id__in=[r.customer_id for r in rows])}
    return [{"pk": r.customer.pk, "customer_id": r.customer.external_id, "name": r.customer.name,
             "email": r.customer.email,
             "purchase_probability": _round(getattr(scores.get(r.customer_id), "purchase_probability", None)),
             "churn_probability": _round(getattr(scores.get(r.customer_id), "churn_probability", None))}
            for r in rows]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
