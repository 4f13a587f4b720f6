"""Celery tasks of alerts: thin, each calls one service (docs/operations.md#scheduled-tasks)."""

from __future__ import annotations

from celery import shared_task

from alerts.delivery import alert_deliver
from alerts.services import alerts_evaluate, deliveries_to_send


@shared_task(name="alerts.tasks.evaluate_alerts_task")
def evaluate_alerts_task() -> dict[str, int]:
    """Every 5 minutes (beat): judge the rules, then send the deliveries never attempted."""
    totals = alerts_evaluate()
    pending = deliveries_to_send()
    for pk in pending:
        deliver_alert_task.delay(pk, 0)
    return {**totals, "sent": len(pending)}


@shared_task(bind=True, name="alerts.tasks.deliver_alert_task", max_retries=None)
def deliver_alert_task(self, delivery_pk: int, attempt: int = 0) -> None:
    """Attempt ``attempt + 1`` of a delivery; on failure, again after the backoff."""
    retry_in = alert_deliver(delivery_pk, attempt)
    if retry_in is not None:
        raise self.retry(args=(delivery_pk, attempt + 1), countdown=retry_in)
