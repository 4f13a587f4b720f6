"""A report page as HTML with its charts as inline SVG, then as PDF (WeasyPrint)
(docs/alerts-and-reports.md#pdf-reports)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from insights.filters import MetricFilter
from reports.pages import ReportPage
from reports.svg import figure_svg


def report_html(page: ReportPage, f: MetricFilter) -> str:
    context: dict[str, Any] = {
        "page": page, "filter": f, "generated": timezone.now(), "store_time_zone": settings.STORE_TIME_ZONE,
        "figures": [(title, mark_safe(figure_svg(fig))) for title, fig in page.figures.items()],  # noqa: S308
    }
    return render_to_string("reports/report.html", context)


def report_pdf(page: ReportPage, f: MetricFilter) -> bytes:
    from weasyprint import HTML  # imported on first use: it loads Pango

    return HTML(string=report_html(page, f)).write_pdf()
