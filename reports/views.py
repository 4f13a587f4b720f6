"""``/reports/<page>.pdf``: a dashboard page as a PDF for its filters (analysts and admins)
(docs/alerts-and-reports.md#pdf-reports)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.decorators import capability_required
from accounts.roles import EXPORT_DATA
from insights.filters import MetricFilter
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
