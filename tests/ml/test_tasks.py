"""Celery tasks: the schedule, and the retrain task run by a real worker process."""

import importlib
import time
from pathlib import Path

import pytest
from django.apps import apps

from analytics_site.celery import app as celery_app
from ml.models import ModelVersion
from ml.tasks import retrain_model_task, score_open_carts_task
from tests.celery_worker import celery_worker
from tests.factories import ModelVersionFactory
from tests.ml.sim import store

schedule = importlib.import_module("ml.migrations.0002_schedule")


def test_schedule_is_created_idempotently_and_keeps_admin_edits(db):
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(name__in=[schedule.RETRAIN, schedule.SCORE]).delete()
    schedule.create(apps, None)
    retrain = PeriodicTask.objects.get(name=schedule.RETRAIN)
    assert retrain.task == "ml.tasks.retrain_model_task" and retrain.crontab.hour == "2" and retrain.enabled
    scoring = PeriodicTask.objects.get(name=schedule.SCORE)
    assert scoring.task == "ml.tasks.score_open_carts_task" and scoring.interval.every == 1
    retrain.crontab.hour = "4"
    retrain.crontab.save()
    schedule.create(apps, None)  # running the migration again changes nothing an admin edited
    assert PeriodicTask.objects.filter(name=schedule.RETRAIN).count() == 1
    assert PeriodicTask.objects.get(name=schedule.RETRAIN).crontab.hour == "4"
    assert {"ml.tasks.retrain_model_task", "ml.tasks.score_open_carts_task"} <= set(celery_app.tasks)


def test_tasks_skip_quietly_without_data_or_model(db, model_dir):
    assert retrain_model_task() is None  # too little data: logged, no version
    assert score_open_carts_task() == 0
    assert not ModelVersion.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_retrain_task_in_a_real_worker_creates_a_version_and_a_worse_one_stays_inactive(model_dir):
    store(seed=7, customers=300, days=180)
    forced_best = ModelVersionFactory(roc_auc=0.99, is_active=True)  # no real model can beat this
    with celery_worker("ml-test", MODEL_DIR=str(model_dir)) as worker:
        retrain_model_task.apply_async(kwargs={"trigger": ModelVersion.Trigger.TEST}, queue=worker.queue)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and ModelVersion.objects.count() < 2:
            assert worker.process.poll() is None, worker.tail()
            time.sleep(0.5)
        assert ModelVersion.objects.count() == 2, "worker made no version:\n" + worker.tail()
        made = ModelVersion.objects.exclude(pk=forced_best.pk).get()
        assert made.trigger == "test" and made.carts_count > 1000 and 0.5 < made.roc_auc < 0.99
        assert not made.is_active and made.decision.startswith("kept inactive")
        assert ModelVersion.objects.get(is_active=True) == forced_best
        assert (Path(model_dir) / made.artifact).exists()
