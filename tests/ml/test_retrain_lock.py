"""At most one retraining queued or running (security review: ten POSTs were ten full trainings)."""

import datetime as dt

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from ml.models import RetrainRequest
from ml.services import RETRAIN_STALE_AFTER, model_retrain_request
from ml.tasks import retrain_model_task

pytestmark = pytest.mark.django_db


def test_ten_clicks_queue_one_training(client_for, django_capture_on_commit_callbacks):
    analyst = client_for(Role.ANALYST)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        responses = [analyst.post(reverse("ml:retrain"), follow=True) for _ in range(10)]
    assert len(callbacks) == 1  # one task queued
    assert RetrainRequest.objects.count() == 1
    request = RetrainRequest.objects.get()
    assert request.is_open and request.state == RetrainRequest.State.QUEUED
    assert request.requested_by.username == "analyst-user"
    assert "Retraining queued" in responses[0].content.decode()
    later = responses[-1].content.decode()
    assert "already queued since" in later and "not queued again" in later
    # The report says so too.
    assert 'id="retrain-open"' in analyst.get(reverse("ml:report")).content.decode()


def test_a_finished_retraining_lets_the_next_one_queue(client_for, django_capture_on_commit_callbacks, model_dir):
    analyst = client_for(Role.ANALYST)
    with django_capture_on_commit_callbacks(execute=False):
        analyst.post(reverse("ml:retrain"))
    request = RetrainRequest.objects.get()
    # The worker runs it (too little data here: it ends as failed, with the reason) and closes it.
    assert retrain_model_task(trigger="web", request_pk=request.pk) is None
    request.refresh_from_db()
    assert not request.is_open and request.state == RetrainRequest.State.FAILED
    assert request.started_at is not None and request.finished_at is not None and request.message
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = model_retrain_request()
    assert answer.queued and len(callbacks) == 1
    assert RetrainRequest.objects.filter(is_open=True).count() == 1


def test_the_schedule_skips_while_a_retraining_is_open(model_dir, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        model_retrain_request()
    assert retrain_model_task() is None  # the nightly run: skipped, the queued one stays
    assert RetrainRequest.objects.count() == 1 and RetrainRequest.objects.get().state == "queued"


def test_a_stale_request_does_not_block_for_ever(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        model_retrain_request()
    RetrainRequest.objects.update(requested_at=timezone.now() - RETRAIN_STALE_AFTER - dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = model_retrain_request()
    assert answer.queued and len(callbacks) == 1
    states = sorted(RetrainRequest.objects.values_list("state", flat=True))
    assert states == ["expired", "queued"]


def test_the_database_refuses_two_open_requests():
    RetrainRequest.objects.create(is_open=True)
    with pytest.raises(IntegrityError):
        RetrainRequest.objects.create(is_open=True)


def test_the_queued_retraining_reaches_its_task_by_name(model_dir, django_capture_on_commit_callbacks, monkeypatch):
    from analytics_site.celery import app as celery_app

    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)  # the task runs here, as a worker would
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert model_retrain_request().queued
    assert len(callbacks) == 1
    request = RetrainRequest.objects.get()  # the task ran (too little data here) and closed the request
    assert not request.is_open and request.state == RetrainRequest.State.FAILED
    assert request.started_at is not None and "at least" in request.message
