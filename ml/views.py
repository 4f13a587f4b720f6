"""Model report page and retrain button: parse input, call a selector or service, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.decorators import capability_required
from customers.models import Customer
from insights.clv.selectors import clv_model_report
from ml import charts, selectors
from ml.models import ModelVersion
from ml.page_extensions import open_cart_lists
from ml.services import model_retrain_request


@capability_required(roles.VIEW_MODEL_REPORTS)
def model_report(request):
    raw = request.GET.get("version")
    try:
        report = selectors.model_report(version_pk=int(raw) if raw else None)
    except (ValueError, ModelVersion.DoesNotExist) as exc:
        raise Http404("No such model version") from exc
    version = report["version"]
    figures = {}
    if version is not None and version.metrics:
        figures = {
            "calibration": charts.calibration_figure(version.metrics["calibration"]),
            "importances": charts.importances_figure(version.metrics["importances"]),
            "baselines": charts.baseline_figure(version.metrics),
        }
        if version.metrics.get("families"):
            figures["families_calibration"] = charts.families_calibration_figure(version.metrics["families"])
    if report["history"]:
        figures["versions"] = charts.versions_figure(report["history"])
    clv = clv_model_report()
    if clv.get("holdout"):
        figures["clv_holdout"] = charts.clv_holdout_figure(clv["holdout"])
    return render(request, "ml/report.html", {
        "page": "model", "report": report, "version": version, "figures": figures,
        "metric_keys": ("roc_auc", "pr_auc", "log_loss", "brier", "log_loss_vs_baseline"),
        "can_retrain": request.user.can(roles.RETRAIN_MODEL),
        "retrain_open": selectors.retrain_request_open(), "retrain_failed": selectors.retrain_request_failed(),
        "clv": clv,
        "predictions_run": selectors.prediction_run_latest(),
        **open_cart_lists(request, limit=10),
    })


@require_POST
@capability_required(roles.RETRAIN_MODEL)
def model_retrain(request):
    answer = model_retrain_request(requested_by=request.user)
    (messages.success if answer.queued else messages.info)(request, answer.text)
    return redirect("ml:report")


@require_GET
def customer_predictions_api(request, pk: int):
    """``GET /api/v1/customers/<pk>/predictions``: analysts and admins (a viewer sees no single customer)."""
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    if not user.can(roles.VIEW_CUSTOMER_DETAIL):
        return JsonResponse({"error": "your role cannot see a single customer"}, status=403)
    try:
        return JsonResponse(selectors.customer_predictions(customer_pk=pk))
    except Customer.DoesNotExist:
        return JsonResponse({"error": "no such customer"}, status=404)
