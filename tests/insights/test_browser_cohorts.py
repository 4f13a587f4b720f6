"""The cohorts page in a real browser (issue 14): the retention heatmap renders under the
Content-Security-Policy, and a viewer sees it with aggregates only. Same harness as test_browser.py
(Debian's Chromium via Playwright against a daphne subprocess sharing the test database)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from tests.insights.retention_fixture import build_retention_store
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
def retention(make_user):
    """Committed before the browser starts (no ORM calls inside Playwright's loop)."""
    objs = build_retention_store()
    make_user(Role.VIEWER, username="viewer", password=PASSWORD)
    return {"emails": [c.email for c in objs["customers"].values()],
            "names": [c.name for c in objs["customers"].values()], "phone": objs["products"]["p1"].pk}


def test_viewer_sees_the_cohort_heatmap_with_aggregates_only(retention, server, browser_page):  # noqa: F811
    page, errors = browser_page
    base = server
    _login(page, base, "viewer")
    page.click("nav.mainnav a[href^='/cohorts/']")
    page.wait_for_url(f"{base}/cohorts/**")
    response = page.goto(base + "/cohorts/?start=2024-01-01&end=2024-12-31")
    assert response is not None and response.status == 200
    assert _charts_rendered(page) == 3
    heatmap = page.locator("#chart-retention")
    expect(heatmap.locator(".hm")).to_have_count(1)  # Plotly's heatmap layer
    expect(heatmap).to_contain_text("2024-01 (2)")
    expect(heatmap).to_contain_text("50%")
    expect(page.locator("#repeat-rate .value")).to_have_text("75.0%")
    expect(page.locator("#cohort-table tbody tr")).to_have_count(2)
    box = heatmap.locator(".nsewdrag").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 4, box["y"] + box["height"] / 4)
    _no_csp_violations(page, "cohorts")
    page.screenshot(path=str(ARTIFACTS / "page-cohorts.png"), full_page=True)
    # A viewer: aggregates only (no customer, no link to one, no export).
    assert page.locator(".who .role").inner_text().lower() == "viewer"
    content = page.content()
    assert not any(e in content for e in retention["emails"]) and not any(n in content for n in retention["names"])
    assert page.evaluate("() => [...document.querySelectorAll('a')].filter(a => "
                         "/^\\/customers\\/\\d/.test(a.getAttribute('href') || '')).length") == 0
    assert page.locator("a.export").count() == 0
    # A product's own page: its figures and what is bought with it.
    page.goto(base + f"/products/{retention['phone']}/?start=2024-01-01&end=2024-12-31&min_orders=1")
    expect(page.locator("#bought-together tbody tr")).to_have_count(2)
    expect(page.locator("#product-figures")).to_contain_text("$500.00")
    _no_csp_violations(page, "product page")
    page.screenshot(path=str(ARTIFACTS / "page-product.png"), full_page=True)
    assert errors == []
