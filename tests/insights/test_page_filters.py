"""Each page keeps the filters that make sense for it: the navigation carries the period and the shared
filters, the Cohorts page keeps its own range (and passes the period on), and a page says which of the
filters it was given it does not use."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest

from accounts.roles import Role
from insights import page_filters
from insights.filters import MetricFilter, store_today
from insights.selectors.acquisition import acquisition_stats
from insights.selectors.cohorts import DEFAULT_MONTHS, cohorts_stats

JAN = (dt.date(2024, 1, 1), dt.date(2024, 1, 30))
EVERYTHING = MetricFilter(start=JAN[0], end=JAN[1], actions=("view",), age_group="26-35", category="bags",
                          segment="Champions", channel="Email")


def _nav_href(html: str, path: str) -> str:
    found = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
    assert found
    link = re.search(rf'href="({re.escape(path)}(?:\?[^"]*)?)"', found.group(0))
    assert link, path
    return unescape(link.group(1))


def test_a_link_to_cohorts_carries_the_period_apart_from_its_own_range():
    f = MetricFilter(start=JAN[0], end=JAN[1], category="bags", age_group="26-35")
    period = page_filters.carried_period("overview", f, {})
    query = page_filters.nav_query("cohorts", "overview", f, period)
    assert query == "period_start=2024-01-01&period_end=2024-01-30&age_group=26-35&category=bags"
    assert page_filters.nav_query("funnel", "overview", f, period) == f.to_query()


def test_from_cohorts_the_period_comes_back_and_the_cohort_range_stays_behind():
    own = MetricFilter(start=dt.date(2023, 2, 1), end=dt.date(2024, 1, 30), actions=("view",))
    params = {"period_start": "2024-01-01", "period_end": "2024-01-30"}
    period = page_filters.carried_period("cohorts", own, params)
    assert period == JAN
    assert page_filters.nav_query("funnel", "cohorts", own, period) == "start=2024-01-01&end=2024-01-30&action=view"
    assert page_filters.nav_query("cohorts", "cohorts", own, period) == (
        "start=2023-02-01&end=2024-01-30&period_start=2024-01-01&period_end=2024-01-30&action=view")


@pytest.mark.parametrize("params", [{}, {"period_start": "2024-01-01"}, {"period_start": "x", "period_end": "y"},
                                    {"period_start": "2024-02-01", "period_end": "2024-01-01"}])
def test_a_missing_or_unreadable_period_is_not_carried(params):
    assert page_filters.carried_period("cohorts", MetricFilter.default(), params) is None


def test_the_cohorts_form_shows_what_it_applies_and_keeps_the_rest_hidden():
    assert page_filters.form_fields("cohorts") == ("age_group", "segment")
    hidden = page_filters.hidden_inputs("cohorts", EVERYTHING, JAN)
    assert hidden == [("period_start", "2024-01-01"), ("period_end", "2024-01-30"), ("action", "view"),
                      ("category", "bags"), ("channel", "Email")]
    assert page_filters.hidden_inputs("overview", EVERYTHING, JAN) == [("segment", "Champions")]


@pytest.mark.django_db
def test_the_pages_and_the_api_answers_name_the_same_ignored_filters():
    assert page_filters.ignored_names("cohorts", EVERYTHING) == cohorts_stats(EVERYTHING)["ignored_filters"]
    assert sorted(page_filters.ignored_names("acquisition", EVERYTHING)) == sorted(
        acquisition_stats(EVERYTHING)["ignored_filters"])
    assert page_filters.ignored_names("overview", EVERYTHING) == []


@pytest.mark.django_db
def test_cohorts_reached_from_the_overview_show_their_own_twelve_months(client_for):
    client = client_for(Role.VIEWER)
    overview = client.get("/?start=2024-01-01&end=2024-01-30&category=bags&age_group=26-35").content.decode()
    href = _nav_href(overview, "/cohorts/")
    assert "start=2024" not in href.replace("period_start=2024", "")
    page = client.get(href)
    assert page.status_code == 200
    f = page.context["filter"]
    assert f.end == store_today()
    assert (f.end.year - f.start.year) * 12 + f.end.month - f.start.month == DEFAULT_MONTHS - 1
    text = page.content.decode()
    assert "the other pages&#x27; period, 1 Jan 2024 – 30 Jan 2024, is not used here" in text
    assert "Not used on this page: category (a cohort is about a customer&#x27;s orders of anything)" in text
    assert 'name="category"' in text and '<select id="f-category"' not in text  # kept, not offered
    assert '<select id="f-age"' in text
    assert "· bags" not in text.split("<h1>", 1)[1].split("</p>", 1)[0]  # the heading names only what applies
    # Back to the overview: the period and the filters return.
    back = _nav_href(text, "/")
    assert back == "/?start=2024-01-01&end=2024-01-30&age_group=26-35&category=bags"


@pytest.mark.django_db
def test_pages_say_what_they_ignore(client_for):
    client = client_for(Role.VIEWER)
    text = client.get("/products/?segment=Champions").content.decode()
    assert "Not used on this page: RFM segment" in text
    text = client.get("/acquisition/?category=bags&age_group=26-35").content.decode()
    assert "Not used on this page: age group, category (traffic sources have no such dimension)" in text
    assert "Not used on this page" not in client.get("/?category=bags").content.decode()
