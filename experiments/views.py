"""The Experiments page, its JSON API and CSV (docs/experiments.md): parse, call a selector, render."""

from __future__ import annotations

import csv
import io

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import capability_required
from accounts.roles import EXPORT_DATA, VIEW_DASHBOARD
from experiments import selectors
from experiments.shaping import readout_json, readout_rows


@require_GET
@capability_required(VIEW_DASHBOARD)
def experiments_page(request: HttpRequest) -> HttpResponse:
    """Open to viewers: aggregates only (docs/security.md)."""
    readouts = selectors.experiment_list()
    return render(request, "experiments/experiments.html", {
        "page": "experiments", "readouts": [readout_json(e, r) for e, r in readouts],
        "can_export": request.user.can(EXPORT_DATA)})  # type: ignore[union-attr]


@require_GET
def experiments_api(request: HttpRequest) -> JsonResponse:
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    if not user.can(VIEW_DASHBOARD):  # type: ignore[union-attr]
        return JsonResponse({"error": "your role cannot see dashboards"}, status=403)
    name = request.GET.get("experiment")
    readouts = [(e, r) for e, r in selectors.experiment_list() if name is None or e.name == name]
    if name is not None and not readouts:
        return JsonResponse({"error": f"no experiment named {name!r}"}, status=404)
    return JsonResponse({"experiments": [readout_json(e, r) for e, r in readouts]})


@require_GET
@capability_required(EXPORT_DATA)
def experiments_csv(request: HttpRequest) -> HttpResponse:
    out = io.StringIO()
    csv.writer(out).writerows(readout_rows(selectors.experiment_list()))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="experiments-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response
