"""``/reports/<page>.pdf``: a dashboard page as a PDF for its filters; ``/reports/subscriptions/``: the
user's own e-mailed reports, subscribed from each page (analysts and admins)
(docs/alerts-and-reports.md#pdf-reports, #subscriptions)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import capability_required
from accounts.roles import EXPORT_DATA
from insights.filters import MetricFilter
from reports import selectors, services
from reports.pages import PAGES, report_page
from reports.render import report_pdf


@require_GET
@capability_required(EXPORT_DATA)
def report_pdf_view(request: HttpRequest, page: str) -> HttpResponse:
    if page not in PAGES:
        raise Http404("No such page")
    f, _ = MetricFilter.from_query_or_default(request.GET)
    response = HttpResponse(report_pdf(report_page(page, f, request.GET), f), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{page}.pdf"'
    return response


@require_http_methods(["GET", "POST"])
@capability_required(EXPORT_DATA)
def subscriptions_page(request: HttpRequest) -> HttpResponse:
    """GET: the list; POST (the Subscribe control): subscribe to a page with its filters, then the list."""
    if request.method == "POST":
        try:
            sub, created = services.report_subscribe(
                request.user,  # type: ignore[arg-type]
                page=request.POST.get("page", ""), query=request.POST.get("filters", ""),
                frequency=request.POST.get("frequency", ""), time_zone=request.POST.get("time_zone", ""))
        except services.SubscriptionError as exc:
            return HttpResponseBadRequest(str(exc))
        messages.success(request, f"{'Subscribed' if created else 'Already subscribed'}: the {sub.page} report, "
                                  f"{sub.frequency}, in {sub.time_zone}.")
        return redirect("reports:subscriptions")
    return render(request, "reports/subscriptions.html", {
        "page": "subscriptions", "subscriptions": selectors.subscriptions_of(request.user),  # type: ignore[arg-type]
        "email": request.user.email})  # type: ignore[union-attr]


@require_POST
@capability_required(EXPORT_DATA)
def unsubscribe(request: HttpRequest, pk: int) -> HttpResponse:
    if not services.report_unsubscribe(request.user, pk):  # type: ignore[arg-type]
        raise Http404("No such subscription of yours")
    messages.success(request, "Subscription cancelled.")
    return redirect("reports:subscriptions")
