"""Celery tasks: the schedule, and the retrain task run by a real worker process."""

import importlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

from analytics_site.celery import app as celery_app
from ml.models import ModelVersion
from ml.tasks import retrain_model_task, score_open_carts_task
from tests.factories import ModelVersionFactory
from tests.ml.sim import store

BASE_DIR = Path(__file__).resolve().parents[2]
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


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(TESTING="1", LOCAL_DIR=str(settings.LOCAL_DIR), DJANGO_SETTINGS_MODULE="analytics_site.settings",
               CELERY_TASK_ALWAYS_EAGER="0", MODEL_DIR=str(settings.MODEL_DIR))
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(db["NAME"])  # the file test database (settings TEST NAME)
    else:
        user = db.get("USER") or "postgres"
        auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
        env["DATABASE_URL"] = f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return env


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_retrain_task_in_a_real_worker_creates_a_version_and_a_worse_one_stays_inactive(model_dir):
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        assert name != ":memory:" and "mode=memory" not in name  # the worker must reach this file
    store(seed=7, customers=300, days=180)
    forced_best = ModelVersionFactory(roc_auc=0.99, is_active=True)  # no real model can beat this
    queue = f"ml-test-{uuid.uuid4().hex[:8]}"  # our own queue: no other worker takes the task
    log = Path(settings.LOCAL_DIR) / f"{queue}.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "analytics_site", "worker", "--pool", "solo", "-Q", queue,
             "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=BASE_DIR, env=_worker_env(), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        retrain_model_task.apply_async(kwargs={"trigger": ModelVersion.Trigger.TEST}, queue=queue)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and ModelVersion.objects.count() < 2:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        assert ModelVersion.objects.count() == 2, "worker made no version:\n" + log.read_text()[-3000:]
        made = ModelVersion.objects.exclude(pk=forced_best.pk).get()
        assert made.trigger == "test" and made.carts_count > 1000 and 0.5 < made.roc_auc < 0.99
        assert not made.is_active and made.decision.startswith("kept inactive")
        assert ModelVersion.objects.get(is_active=True) == forced_best
        assert (Path(model_dir) / made.artifact).exists()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.unlink(missing_ok=True)
