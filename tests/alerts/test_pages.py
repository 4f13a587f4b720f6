"""The Alerts page, its API and the banner on every dashboard page (docs/alerts-and-reports.md)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from accounts.roles import Role
from alerts.models import AlertRule, Evaluation, Incident
from insights.consumers import DashboardConsumer
from insights.extensions import dashboard_notices

pytestmark = pytest.mark.django_db
H = dt.datetime(2026, 3, 5, 14, tzinfo=dt.UTC)


@pytest.fixture
def incident(db):
    rule = AlertRule.objects.create(name="Abandonment up", metric="cart_abandonment", direction="up")
    for i, status in enumerate(["normal", "breach", "breach"]):
        Evaluation.objects.create(rule=rule, hour=H + dt.timedelta(hours=i), status=status, actual=0.7 + 0.1 * i,
                                  expected=0.7, low=0.65, high=0.75, volume=100)
    return Incident.objects.create(rule=rule, started_hour=H + dt.timedelta(hours=1), fired_at=H,
                                   summary="Abandonment up: Cart abandonment rate above its expected band")


def test_viewers_see_the_alerts_page_with_each_rules_chart_and_incidents(client_for, incident, monkeypatch):
    monkeypatch.setattr("alerts.views.timezone.now", lambda: H + dt.timedelta(days=1))
    page = client_for(Role.VIEWER).get("/alerts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="rule-{incident.rule_id}"' in html and 'data-figure="figure-rule_' in html
    assert "ongoing" in html and "Firing" in html
    figure = page.context["charts"][f"rule_{incident.rule_id}"]
    assert '"outside the band"' in figure and '"expected band"' in figure
    assert Client().get("/alerts/").status_code == 302  # sign in first


def test_the_api_lists_rules_and_incidents(client_for, make_user, incident):
    answer = client_for(Role.VIEWER).get("/api/v1/metrics/alerts").json()
    assert answer["rules"][0]["name"] == "Abandonment up" and answer["rules"][0]["open"] is True
    assert answer["incidents"][0]["started_hour"] == (H + dt.timedelta(hours=1)).isoformat()
    assert Client().get("/api/v1/metrics/alerts").status_code == 401
    no_role = Client()
    no_role.force_login(make_user(None))
    assert no_role.get("/api/v1/metrics/alerts").status_code == 403


def test_an_open_incident_is_a_banner_on_every_page_and_in_every_dashboard_push(client_for, incident):
    viewer = client_for(Role.VIEWER)
    html = viewer.get("/funnel/").content.decode()
    banner = html.split('id="alert-banner"')[1]
    assert incident.summary in banner and not banner.startswith(' role="alert" hidden')
    notice = {"id": incident.pk, "text": incident.summary, "href": f"/alerts/#rule-{incident.rule_id}"}
    assert dashboard_notices() == [notice]
    assert "dashboard_notices" in DashboardConsumer._snapshot.__code__.co_names
    incident.ended_at = H
    incident.save()
    html = viewer.get("/funnel/").content.decode()
    assert 'id="alert-banner" role="alert" hidden' in html
