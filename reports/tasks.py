"""Celery task of reports: thin (docs/operations.md#scheduled-tasks)."""

from __future__ import annotations

from celery import shared_task

from reports.services import reports_send_due


@shared_task(name="reports.tasks.send_report_subscriptions_task")
def send_report_subscriptions_task() -> int:
    return reports_send_due()
