"""The nightly refit: scheduled in django-celery-beat, skips (logged) with too little data."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from insights.clv.models import ClvFit
from insights.tasks import fit_clv_task

pytestmark = pytest.mark.django_db


def test_the_refit_is_scheduled_nightly():
    task = PeriodicTask.objects.get(name="insights: nightly CLV refit")
    assert task.task == "insights.tasks.fit_clv_task" and task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("3", "15")


def test_the_task_with_too_few_customers_stores_nothing(caplog):
    assert fit_clv_task() is None
    assert "CLV refit skipped" in caplog.text
    assert not ClvFit.objects.exists()
