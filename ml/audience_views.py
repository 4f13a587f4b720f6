"""Predictive audience pages and CSV: parse input, call a selector, render."""

from __future__ import annotations

import csv
import io

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts import roles
from accounts.decorators import capability_required
from ml.audience_selectors import audience_counts, audience_members
from ml.audiences import AUDIENCES

CSV_FIELDS = ("customer_id", "name", "email", "purchase_probability", "churn_probability")


@capability_required(roles.VIEW_DASHBOARD)
def audiences(request):
    return render(request, "ml/audiences.html", {"page": "audiences", **audience_counts(),
                                                  "can_list": request.user.can(roles.VIEW_CUSTOMER_DETAIL)})


@capability_required(roles.VIEW_DASHBOARD)
def audience(request, slug: str):
    """Analysts: the members with e-mails; viewers: the count only."""
    if slug not in AUDIENCES:
        raise Http404("No such audience")
    counts = audience_counts()
    current = next(a for a in counts["audiences"] if a["slug"] == slug)
    can_list = request.user.can(roles.VIEW_CUSTOMER_DETAIL)
    return render(request, "ml/audience.html", {
        "page": "audiences", "audience": current, "run": counts["run"], "can_list": can_list,
        "can_export": request.user.can(roles.EXPORT_DATA),
        "members": audience_members(slug=slug) if can_list else None})


@capability_required(roles.EXPORT_DATA)
def audience_csv(request, slug: str):
    if slug not in AUDIENCES:
        raise Http404("No such audience")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(audience_members(slug=slug))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audience-{slug}-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response
