"""In a real browser: the Subscribe control next to Download PDF subscribes the analyst to the page with its
filters in the browser's time zone, and My reports cancels it (same harness as
tests/insights/test_browser.py: Debian's Chromium via Playwright against a daphne subprocess)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.insights.test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    _login,
    server,
    store,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_subscribe_from_a_page_then_cancel_in_my_reports(store, server):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="America/Chicago")
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            _login(page, server, "analyst")
            page.goto(server + "/funnel/?channel=Email")
            control = page.locator("#subscribe-report")
            expect(control.locator("input[name=time_zone]")).to_have_value("America/Chicago")
            head = {"x": 0, "y": 0, "width": 1280, "height": 240}
            page.screenshot(path=str(ARTIFACTS / "subscribe-control.png"), clip=head)
            control.locator("select[name=frequency]").select_option("daily")
            control.locator("button[type=submit]").click()
            page.wait_for_url(server + "/reports/subscriptions/")
            row = page.locator("#subscriptions tbody tr")
            expect(row).to_have_count(1)
            expect(row).to_contain_text("Funnel")
            expect(row).to_contain_text("channel Email")
            expect(row).to_contain_text("Daily")
            expect(row).to_contain_text("America/Chicago")
            page.screenshot(path=str(ARTIFACTS / "my-reports.png"))
            row.get_by_role("button", name="Cancel").click()
            expect(page.locator("#no-subscriptions")).to_be_visible()
        finally:
            browser.close()
    assert problems == []
