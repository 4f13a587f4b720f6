"""Report subscriptions from the UI: the Subscribe control next to each page's Download PDF (the page, its
filters, daily or weekly, the browser's time zone), the My reports list where a user cancels them;
analysts and admins only (docs/alerts-and-reports.md#subscriptions)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import Client

from accounts.roles import Role
from reports.models import ReportSubscription
from reports.services import reports_send_due
from tests.insights.store_fixture import build_store

pytestmark = pytest.mark.django_db
FORM = {"page": "carts", "filters": "start=2024-03-01&end=2024-03-04&channel=Email&age_group=26-35",
        "frequency": "daily", "time_zone": "Europe/Paris"}


@pytest.fixture
def analyst(make_user) -> tuple[Client, object]:
    user = make_user(Role.ANALYST)
    user.email = "analyst@example.com"
    user.save()
    client = Client()
    client.force_login(user)
    return client, user


def test_each_page_has_a_subscribe_control_with_its_filters(analyst, client_for):
    client, _ = analyst
    html = client.get("/carts/?start=2024-03-01&end=2024-03-04&channel=Email").content.decode()
    assert 'id="subscribe-report"' in html and 'name="page" value="carts"' in html
    assert 'name="filters" value="start=2024-03-01&amp;end=2024-03-04&amp;channel=Email"' in html
    assert 'href="/reports/subscriptions/"' in html and "js/subscribe.js" in html
    assert 'id="subscribe-report"' not in client_for(Role.VIEWER).get("/carts/").content.decode()


def test_subscribing_keeps_the_filters_without_the_dates_and_the_time_zone(analyst):
    client, user = analyst
    answer = client.post("/reports/subscriptions/", FORM)
    assert answer.status_code == 302 and answer["Location"] == "/reports/subscriptions/"
    sub = ReportSubscription.objects.get(user=user)
    assert (sub.page, sub.filters, sub.frequency, sub.time_zone) == ("carts", "age_group=26-35&channel=Email", "daily",
                                                                    "Europe/Paris")
    client.post("/reports/subscriptions/", FORM)  # the same again: still one
    client.post("/reports/subscriptions/", {**FORM, "frequency": "weekly", "time_zone": "Not/AZone"})
    weekly = ReportSubscription.objects.get(user=user, frequency="weekly")
    assert ReportSubscription.objects.filter(user=user).count() == 2 and weekly.time_zone == "UTC"  # store's
    page = client.get("/reports/subscriptions/")
    html = page.content.decode()
    assert f'id="subscription-{sub.pk}"' in html and "age group 26-35, channel Email" in html
    assert 'href="/carts/?age_group=26-35&amp;channel=Email"' in html and "Europe/Paris" in html
    assert "Subscribed: the carts report, daily, in Europe/Paris." in html and "Already subscribed" in html


def test_bad_requests_say_why(analyst):
    client, _ = analyst
    assert client.post("/reports/subscriptions/", {**FORM, "page": "explorer"}).status_code == 400
    assert client.post("/reports/subscriptions/", {**FORM, "frequency": "hourly"}).status_code == 400
    bad = client.post("/reports/subscriptions/", {**FORM, "filters": "channel=Nowhere"})
    assert bad.status_code == 400 and "Unknown channel" in bad.content.decode()
    assert not ReportSubscription.objects.exists()


def test_a_user_cancels_their_own_subscriptions_only(analyst, make_user):
    client, user = analyst
    client.post("/reports/subscriptions/", FORM)
    mine = ReportSubscription.objects.get(user=user)
    other = ReportSubscription.objects.create(user=make_user(Role.ADMIN), page="overview", frequency="weekly")
    assert client.post(f"/reports/subscriptions/{other.pk}/cancel/").status_code == 404
    assert client.get(f"/reports/subscriptions/{mine.pk}/cancel/").status_code == 405
    answer = client.post(f"/reports/subscriptions/{mine.pk}/cancel/")
    assert answer.status_code == 302 and not ReportSubscription.objects.filter(pk=mine.pk).exists()
    assert ReportSubscription.objects.filter(pk=other.pk).exists()
    assert "No subscription yet." in client.get("/reports/subscriptions/").content.decode()


def test_viewers_get_403(client_for):
    viewer = client_for(Role.VIEWER)
    assert viewer.get("/reports/subscriptions/").status_code == 403
    assert viewer.post("/reports/subscriptions/", FORM).status_code == 403
    assert not ReportSubscription.objects.exists()
    assert client_for(Role.ADMIN).get("/reports/subscriptions/").status_code == 200


def test_a_subscription_made_in_the_ui_is_sent_once_a_day_in_its_time_zone(analyst):
    build_store()
    client, _ = analyst
    client.post("/reports/subscriptions/", {**FORM, "page": "overview", "filters": "start=2024-01-01&end=2024-01-02",
                                            "time_zone": "Asia/Tokyo"})
    tokyo_morning = dt.datetime(2024, 3, 4, 22, 30, tzinfo=dt.UTC)  # 07:30 on 5 March in Tokyo
    assert reports_send_due(tokyo_morning - dt.timedelta(hours=1)) == 0  # 06:30 there: not yet
    assert reports_send_due(tokyo_morning) == 1 and reports_send_due(tokyo_morning) == 0
    assert len(mail.outbox) == 1 and "2024-03-04" in mail.outbox[0].subject
