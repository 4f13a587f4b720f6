"""The Experiments page, /api/v1/metrics/experiments and the CSV: roles and content."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from events.services import events_ingest
from tests.experiments.test_exposure import fixture_events
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hero():
    ProductFactory(external_id="lamp", price=40)
    events_ingest(raw_events=fixture_events(), broadcast=False)


def test_viewers_see_the_page_with_sentences_and_the_nav_link(client_for, hero):
    response = client_for(Role.VIEWER).get("/experiments/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/experiments/" class="active"' in html and "hero" in html
    assert "B against A" in html and "counted apart" in html  # the sentences, bots and conflicts
    assert 'id="experiments-csv"' not in html  # viewers export nothing


def test_the_api_answers_every_role_and_refuses_strangers(client, client_for, hero):
    assert client.get("/api/v1/metrics/experiments").status_code == 401
    viewer = client_for(Role.VIEWER)
    body = viewer.get("/api/v1/metrics/experiments?experiment=hero").json()
    (r,) = body["experiments"]
    a, b = r["variants"]
    assert (r["control"], a["visitors"], a["conversions"], b["conversion"], b["bots"]) == ("A", 4, 1, 0.5, 1)
    assert b["difference"] == 0.25 and len(b["difference_ci"]) == 2
    assert viewer.get("/api/v1/metrics/experiments?experiment=nope").status_code == 404


def test_the_csv_is_for_analysts(client_for, hero):
    assert client_for(Role.VIEWER).get("/export/experiments.csv").status_code == 403  # the viewer-user
    response = client_for(Role.ANALYST).get("/export/experiments.csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("experiment,variant,visitors,conversions,conversion")
    assert lines[1].startswith("hero,A,4,1,0.25,") and lines[2].startswith("hero,B,4,2,0.5,")


def test_the_insights_page_carries_the_experiments_sentences_and_recommendation(client_for, hero):
    html = client_for(Role.VIEWER).get("/insights/").content.decode()
    assert 'id="experiment-insights"' in html and "Experiment · hero" in html
    assert "B against A" in html and "Keep the experiment running." in html


def test_the_overview_trend_marks_an_experiments_start(client_for, hero):
    html = client_for(Role.VIEWER).get("/?start=2026-10-25&end=2026-11-10").content.decode()
    assert "hero starts" in html
