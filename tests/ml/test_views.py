"""Model report page and retrain button: analysts and admins only, enforced on the server."""

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from accounts.roles import Role
from ml.admin import ModelVersionAdmin
from ml.models import ModelVersion
from tests.factories import ModelVersionFactory


@pytest.mark.parametrize("role,status", [(Role.VIEWER, 403), (Role.ANALYST, 200), (Role.ADMIN, 200)])
def test_report_is_for_analysts_and_admins(client_for, role, status):
    assert client_for(role).get(reverse("ml:report")).status_code == status


def test_report_without_a_model_says_how_to_train_one(client_for):
    body = client_for(Role.ANALYST).get(reverse("ml:report")).content.decode()
    assert 'id="no-model"' in body and "train_model" in body and 'id="retrain-form"' in body


def test_report_shows_metrics_baselines_calibration_importances_and_versions(client_for):
    old = ModelVersionFactory(roc_auc=0.81, baseline_roc_auc=0.77)
    active = ModelVersionFactory(roc_auc=0.86, baseline_roc_auc=0.79, is_active=True)
    analyst = client_for(Role.ANALYST)
    response = analyst.get(reverse("ml:report"))
    body = response.content.decode()
    assert f"Version v{active.pk}" in body and "0.8600" in body and "0.7900" in body
    assert "logistic regression" in body and "base rate" in body
    assert 'id="calibration"' in body and "checkouts" in body
    assert f"?version={old.pk}" in body
    figures = response.context["figures"]
    assert set(figures) == {"calibration", "importances", "baselines", "versions"}
    assert figures["versions"]["data"][0]["y"] == [0.81, 0.86]
    versions = figures["versions"]
    assert versions["layout"]["xaxis"]["type"] == "date"  # a date axis, one point per training (not milliseconds)
    assert versions["data"][0]["x"] == [v.trained_at.strftime("%Y-%m-%d %H:%M:%S") for v in (old, active)]
    older = client_for(Role.ADMIN).get(reverse("ml:report"), {"version": old.pk})
    assert f"Version v{old.pk}" in older.content.decode()
    assert analyst.get(reverse("ml:report"), {"version": 999999}).status_code == 404


def test_retrain_button_queues_the_task_after_commit(client_for, django_capture_on_commit_callbacks):
    analyst = client_for(Role.ANALYST)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = analyst.post(reverse("ml:retrain"))
    assert response.status_code == 302 and response.url == reverse("ml:report")
    assert len(callbacks) == 1
    assert client_for(Role.VIEWER).post(reverse("ml:retrain")).status_code == 403
    assert analyst.get(reverse("ml:retrain")).status_code == 405


def test_admin_activates_an_older_version(client_for):
    old = ModelVersionFactory(roc_auc=0.8)
    ModelVersionFactory(roc_auc=0.85, is_active=True)
    assert isinstance(site._registry[ModelVersion], ModelVersionAdmin)
    admin = client_for(Role.ADMIN)
    url = reverse("admin:ml_modelversion_changelist")
    assert admin.get(url).status_code == 200
    response = admin.post(url, {"action": "activate", "_selected_action": [old.pk]})
    assert response.status_code == 302
    assert list(ModelVersion.objects.filter(is_active=True)) == [old]
    assert "in admin" in ModelVersion.objects.get(pk=old.pk).decision
