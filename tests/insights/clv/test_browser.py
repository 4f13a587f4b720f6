"""The slipping-away list in a real browser (Chromium via Playwright against daphne): an analyst sees it
with its export; a viewer sees no per-customer prediction (no list, no drill-down, none in the API)."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.roles import Role
from customers.models import Customer
from insights.clv.models import ClvFit
from insights.clv.services import clv_fit_create
from tests.insights.test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    _login,
    _logout,
    _no_csp_violations,
    browser_page,
    chromium,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PERIOD = "start=2024-01-01&end=2025-06-30"


@pytest.fixture
def fitted_store(make_user, cdnow_recent) -> int:
    """A fit, an analyst and a viewer, committed before the browser starts (no ORM calls after that:
    Playwright's sync API runs an event loop in the test's thread). Returns a buyer's pk."""
    clv_fit_create(until=dt.date(2025, 6, 30), trigger=ClvFit.Trigger.TEST)
    make_user(Role.ANALYST, "analyst")
    make_user(Role.VIEWER, "viewer")
    return Customer.objects.get(external_id="00004").pk


def test_slipping_away_for_the_analyst_and_nothing_per_customer_for_the_viewer(fitted_store, server, browser_page):  # noqa: F811, E501
    buyer = fitted_store
    page, errors = browser_page

    _login(page, server, "analyst")
    page.goto(f"{server}/customers/?{PERIOD}")
    section = page.locator("#slipping-away")
    section.wait_for()
    assert section.locator("tbody tr").count() > 0
    assert section.locator("a.export").get_attribute("href").startswith("/export/slipping_away.csv")
    assert section.locator("th", has_text="Value at risk").count() == 1
    page.screenshot(path=str(ARTIFACTS / "clv-slipping-away.png"), full_page=True)
    _no_csp_violations(page, "customers (analyst)")
    page.goto(f"{server}/customers/{buyer}/")
    assert page.locator("#predicted-clv dt", has_text="P(alive)").count() == 1
    _logout(page, server)

    _login(page, server, "viewer")
    page.goto(f"{server}/customers/?{PERIOD}")
    page.locator("#rfm-predicted").wait_for()  # per segment: an aggregate
    assert page.locator("#slipping-away").count() == 0
    assert page.locator("text=Predicted 12-month value").count() == 0
    assert page.request.get(f"{server}/customers/{buyer}/").status == 403
    assert page.request.get(f"{server}/export/slipping_away.csv?{PERIOD}").status == 403
    top = page.request.get(f"{server}/api/v1/metrics/customers?{PERIOD}").json()["top_customers"]
    assert top and not any("predicted_clv_12m" in r or "tier" in r for r in top)
    assert errors == []
