"""PDF reports hold the page's figures (pdftotext), analysts and admins only; a subscription sends one
e-mail per period even when two beat processes run it or a sender dies mid-send
(docs/alerts-and-reports.md#pdf-reports, #subscriptions)."""

from __future__ import annotations

import datetime as dt
import subprocess
import threading

import pytest
from django.core import mail
from django.db import connection
from django.http import QueryDict

from accounts.roles import Role
from insights.filters import MetricFilter
from reports.models import ReportSend, ReportSubscription
from reports.pages import report_page
from reports.periods import due_period
from reports.render import report_html
from reports.services import reports_send_due
from tests.insights.store_fixture import build_store

pytestmark = pytest.mark.django_db
QUERY = "start=2024-03-04&end=2024-03-04"


def _text(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode()


def test_the_overview_pdf_holds_the_pages_kpi_figures(client_for):
    build_store()
    analyst = client_for(Role.ANALYST)
    for query in (QUERY, "start=2024-03-01&end=2024-03-04&channel=Email&age_group=26-35"):
        page = analyst.get(f"/?{query}")
        cards = {c["key"]: c["display"] for c in page.context["cards"]}
        assert 'href="/reports/overview.pdf?' in page.content.decode()
        answer = analyst.get(f"/reports/overview.pdf?{query}")
        assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
        text = _text(answer.content)
        assert len(cards) >= 6
        for key, display in cards.items():  # every KPI card of the page, as the page shows it
            assert display in text, (query, key, display)
    assert "Events over time" in text and "1 Mar 2024" in text


def test_every_dashboard_page_has_a_report(client_for):
    """Each page's report from its selectors and chart builders, charts as SVG (the HTML WeasyPrint prints);
    one of them printed through the route."""
    build_store()
    f = MetricFilter.from_query(QueryDict(QUERY))
    for page, words in (("funnel", "Steps"), ("seasonality", "Seasonality"), ("customers", "Customers"),
                        ("products", "Products"), ("cohorts", "Cohorts"), ("carts", "Abandoned carts"),
                        ("acquisition", "Acquisition"), ("insights", "Insights")):
        html = report_html(report_page(page, f, QueryDict(QUERY)), f)
        assert words in html and (page == "insights" or "<svg" in html), page
    answer = client_for(Role.ADMIN).get(f"/reports/carts.pdf?{QUERY}")
    assert answer.status_code == 200 and "Abandoned carts" in _text(answer.content)


def test_viewers_get_no_pdf(client_for):
    viewer = client_for(Role.VIEWER)
    for page in ("overview", "funnel", "seasonality", "customers", "products", "cohorts", "carts", "acquisition",
                 "insights"):
        assert viewer.get(f"/reports/{page}.pdf?{QUERY}").status_code == 403, page
    assert 'href="/reports/' not in viewer.get(f"/?{QUERY}").content.decode()
    assert client_for(Role.ANALYST).get("/reports/nope.pdf").status_code == 404


def test_periods_in_the_users_time_zone():
    now = dt.datetime(2024, 3, 6, 6, 30, tzinfo=dt.UTC)  # Wednesday; 07:30 in Berlin, 01:30 in New York
    assert due_period("daily", "Europe/Berlin", 7, now) == (dt.date(2024, 3, 5), dt.date(2024, 3, 5))
    assert due_period("daily", "America/New_York", 7, now) is None
    assert due_period("weekly", "Europe/Berlin", 7, now) == (dt.date(2024, 2, 26), dt.date(2024, 3, 3))


def test_a_subscription_sends_exactly_one_email_per_period(make_user, settings):
    build_store()
    user = make_user(Role.ANALYST)
    user.email = "analyst@example.com"
    user.save()
    sub = ReportSubscription.objects.create(user=user, page="overview", frequency="daily", time_zone="UTC",
                                            send_hour=7)
    morning = dt.datetime(2024, 3, 5, 7, 5, tzinfo=dt.UTC)
    assert reports_send_due(morning) == 1
    assert reports_send_due(morning) == 0  # a second beat process in the same period
    assert reports_send_due(morning + dt.timedelta(hours=5)) == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["analyst@example.com"] and "2024-03-04" in message.subject
    name, pdf, kind = message.attachments[0]
    assert kind == "application/pdf" and "Events" in _text(pdf)
    # A sender that died after claiming the next day: its claim is taken over once the lease has passed.
    ReportSend.objects.create(subscription=sub, period_start=dt.date(2024, 3, 5),
                              claimed_at=morning + dt.timedelta(days=1))
    assert reports_send_due(morning + dt.timedelta(days=1, minutes=5)) == 0  # still within the lease
    late = morning + dt.timedelta(days=1, minutes=settings.REPORTS_CLAIM_LEASE_MINUTES + 1)
    assert reports_send_due(late) == 1 and reports_send_due(late) == 0
    assert len(mail.outbox) == 2
    assert list(sub.sends.values_list("period_start", "attempts")) == [(dt.date(2024, 3, 5), 2),
                                                                       (dt.date(2024, 3, 4), 1)]


@pytest.mark.django_db(transaction=True)
def test_two_beat_processes_at_the_same_moment_send_one_email(make_user):
    """Two senders started together (two beat processes by mistake), each on its own database connection."""
    build_store()
    user = make_user(Role.ANALYST)
    user.email = "analyst@example.com"
    user.save()
    ReportSubscription.objects.create(user=user, page="insights", frequency="daily", time_zone="UTC", send_hour=7)
    morning = dt.datetime(2024, 3, 5, 7, 5, tzinfo=dt.UTC)
    start = threading.Barrier(2)
    sent: list[int] = []

    def beat() -> None:
        try:
            start.wait()
            sent.append(reports_send_due(morning))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent) == [0, 1] and len(mail.outbox) == 1
    assert ReportSend.objects.get().sent_at is not None
