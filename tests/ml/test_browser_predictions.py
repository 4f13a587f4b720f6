"""The model page and an audience page in a real browser: which model is active and why, the families table,
the versions chart on a date axis, the customer predictions' eligibility, and the link to an audience list.
Same harness as tests/insights/test_browser.py (Debian's Chromium via Playwright, daphne subprocess)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from tests.insights.test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    PASSWORD,
    _charts_rendered,
    _login,
    _no_csp_violations,
    browser_page,
    chromium,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trained(make_user):
    """Two versions trained by the families on a small seeded history, a predictions run and an audience;
    committed before the browser starts."""
    from customers.models import Customer
    from ml.features import build_features
    from ml.models import AudienceMember, CustomerPrediction, PredictionRun
    from ml.training import TrainParams, train
    from tests.factories import ModelVersionFactory
    from tests.ml.sim import END, simulated

    events, customers = simulated(seed=7, customers=300, days=90)
    result = train(build_features(events, customers, as_of=END),
                   TrainParams(seed=1, n_estimators=20, resamples=20, importance_repeats=1, importance_max_rows=200))
    first = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)
    for i, active in enumerate((False, True)):
        ModelVersionFactory(trained_at=first + timedelta(days=i), metrics=result.metrics, is_active=active,
                            roc_auc=result.metrics["model"]["roc_auc"], decision="activated as the first version")
    run = PredictionRun.objects.create(cutoff=END, holdout_cutoff=END - timedelta(days=7), targets={
        "purchase_7d": {"eligible": False, "reason": "not eligible in the last 28 days: 12 customers with purchase",
                        "counts": {"positive": 12, "negative": 50, "min_positive": 1000, "min_negative": 1000}},
        "churn_7d": {"eligible": False, "reason": "not eligible in the last 28 days: 40 customers without it",
                     "counts": {}}})
    buyer = Customer.objects.create(external_id="b1", name="Bea Buyer", email="bea@example.com")
    CustomerPrediction.objects.create(customer=buyer, run=run, purchase_probability=0.8, churn_probability=0.1)
    AudienceMember.objects.create(run=run, audience="likely-buyers", customer=buyer)
    make_user(Role.ANALYST, username="analyst", password=PASSWORD)
    return result.metrics["choice"]["label"]


def test_model_page_tells_which_model_and_why_and_links_an_audience(trained, server, browser_page):  # noqa: F811
    page, errors = browser_page
    base = server
    _login(page, base, "analyst")
    response = page.goto(base + "/model/")
    assert response is not None and response.status == 200
    assert _charts_rendered(page) >= 5
    expect(page.locator("#version-summary h2")).to_contain_text(f"active · {trained}")
    expect(page.locator("#choice")).to_contain_text("Rule: the lowest holdout log loss")
    expect(page.locator("#families-table tbody tr")).to_have_count(4)
    assert page.evaluate("document.getElementById('chart-versions')._fullLayout.xaxis.type") == "date"
    ticks = page.evaluate("[...document.querySelectorAll('#chart-versions .xtick text')].map(t => t.textContent)")
    assert any("Nov" in t or "2026" in t for t in ticks), ticks  # dates, not milliseconds
    expect(page.locator("#target-purchase_7d")).to_contain_text("not eligible in the last 28 days")
    _no_csp_violations(page, "model")
    page.screenshot(path=str(ARTIFACTS / "page-model-families.png"), full_page=True)
    page.click("#audiences-link")
    page.wait_for_url(f"{base}/audiences/")
    expect(page.locator("#audience-likely-buyers")).to_contain_text("1")
    page.click("#audience-likely-buyers a")
    page.wait_for_url(f"{base}/audiences/likely-buyers/")
    expect(page.locator("#audience-members")).to_contain_text("bea@example.com")
    expect(page.locator("#audience-csv")).to_be_visible()
    _no_csp_violations(page, "audience")
    page.screenshot(path=str(ARTIFACTS / "page-audience.png"), full_page=True)
    # the nav has no room for Audiences: the Customers page links them too
    page.goto(base + "/customers/")
    page.click("#customers-audiences-link")
    page.wait_for_url(f"{base}/audiences/")
    expect(page.locator("#audience-likely-buyers")).to_contain_text("1")
    assert not errors
