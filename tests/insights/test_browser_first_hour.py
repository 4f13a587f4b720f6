"""The first hour in a real browser: the navigation at a phone's and a laptop's width, the Cohorts page
reached from the overview, and every dashboard page of the navigation without a console error or a
failed request (the favicon included). Same harness as test_browser.py (Debian's Chromium via
Playwright against a daphne subprocess sharing the test database)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.insights.test_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    _charts_rendered,
    _login,
    chromium,
    server,
    store,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


class Problems:
    """Console errors, uncaught exceptions, failed requests and 4xx/5xx answers of one page."""

    def __init__(self, page) -> None:
        self.items: list[str] = []
        page.on("console", lambda m: self.items.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.items.append(f"exception: {exc}"))
        # a request the page's own navigation cancelled (the favicon of a page left at once) is aborted,
        # not failed; an answer with an error status is caught below
        page.on("requestfailed", lambda r: self.items.append(f"failed: {r.url} {r.failure}")
                if "ERR_ABORTED" not in (r.failure or "") else None)
        page.on("response", lambda r: self.items.append(f"{r.status}: {r.url}") if r.status >= 400 else None)


def _open(browser, viewport: dict, base: str, username: str):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    problems = Problems(page)
    _login(page, base, username)
    return context, page, problems


def _rows(page, selector: str) -> list[int]:
    """The distinct top edges of the visible elements matching ``selector`` (one value: one row)."""
    return page.evaluate("""(sel) => [...new Set([...document.querySelectorAll(sel)].filter(e => e.offsetParent)
        .map(e => Math.round(e.getBoundingClientRect().top)))]""", selector)


def test_on_a_phone_the_nav_is_a_closed_menu_and_the_first_kpi_is_in_the_first_screen(store, server, chromium):  # noqa: F811
    context, page, problems = _open(chromium, PHONE, server, "admin")
    toggle = page.locator("#navtoggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("nav.mainnav")).to_be_hidden()
    header = page.locator(".topbar").bounding_box()
    assert header is not None and header["height"] < 80
    kpi = page.locator(".kpi").first.bounding_box()
    assert kpi is not None and kpi["y"] + kpi["height"] <= PHONE["height"], kpi
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing sticks out sideways
    page.screenshot(path=str(ARTIFACTS / "first-hour-phone-closed.png"))

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("nav.mainnav a", has_text="Cohorts")).to_be_visible()
    expect(page.locator(".account-menu a", has_text="Admin")).to_be_visible()
    expect(page.locator(".who form button[type=submit]")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "first-hour-phone-open.png"))
    page.keyboard.press("Escape")
    expect(page.locator("nav.mainnav")).to_be_hidden()
    toggle.click()
    page.locator("nav.mainnav a", has_text="Funnel").click()
    page.wait_for_url(re.compile(r".*/funnel/.*"))
    expect(page.locator("nav.mainnav")).to_be_hidden()  # a new page starts with the menu closed
    assert problems.items == []
    context.close()


def test_on_a_laptop_the_nav_is_one_row(store, server, chromium):  # noqa: F811
    context, page, problems = _open(chromium, LAPTOP, server, "admin")  # the admin has the most links
    expect(page.locator("#navtoggle")).to_be_hidden()
    links = page.locator("nav.mainnav a")
    assert links.count() == 13  # ten dashboards, experiments, alerts and the model report
    assert len(_rows(page, "nav.mainnav a")) == 1
    bar, nav = page.locator(".topbar").bounding_box(), page.locator("nav.mainnav").bounding_box()
    assert bar is not None and nav is not None
    assert bar["height"] < 60 and nav["height"] < 40, (bar, nav)
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    # Simulator, Admin, Demo store and Log out: in the account menu, behind the role.
    expect(page.locator(".account-menu")).to_be_hidden()
    page.click("#account-toggle")
    expect(page.locator(".account-menu a", has_text="Simulator")).to_be_visible()
    page.mouse.click(5, 300)  # a click elsewhere closes it
    expect(page.locator(".account-menu")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "first-hour-laptop.png"))
    assert problems.items == []
    context.close()


def test_cohorts_reached_from_the_overview_show_their_own_range(store, server, chromium):  # noqa: F811
    context, page, problems = _open(chromium, LAPTOP, server, "viewer")
    page.goto(server + "/?start=2024-03-01&end=2024-03-30&category=clothing")
    page.click("nav.mainnav a:has-text('Cohorts')")
    page.wait_for_url(re.compile(r".*/cohorts/.*"))
    assert "start=2024-03-01" not in page.url.replace("period_start=2024-03-01", "")
    start = page.locator("#f-start").input_value()
    end = page.locator("#f-end").input_value()
    months = (int(end[:4]) - int(start[:4])) * 12 + int(end[5:7]) - int(start[5:7])
    assert start.endswith("-01") and months == 11, (start, end)  # the last 12 months, not the overview's 30 days
    notes = page.locator("[data-ignored]")
    expect(notes.first).to_contain_text("the other pages' period, 1 Mar 2024 – 30 Mar 2024, is not used here")
    expect(notes.nth(1)).to_contain_text("Not used on this page: category")
    _charts_rendered(page)
    page.screenshot(path=str(ARTIFACTS / "first-hour-cohorts-from-overview.png"), full_page=True)
    # Applying the cohorts' own filter keeps the period for the way back.
    page.select_option("#f-age", "26-35")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r".*age_group=26-35.*"))
    page.click("nav.mainnav a:has-text('Overview')")
    page.wait_for_url(re.compile(r".*start=2024-03-01&end=2024-03-30.*"))
    expect(page.locator(".pagehead .sub")).to_contain_text("1 Mar 2024 – 30 Mar 2024")
    expect(page.locator(".pagehead .sub")).to_contain_text("clothing")
    assert problems.items == []
    context.close()


def test_no_console_error_or_failed_request_on_any_page_of_the_nav(store, server, chromium):  # noqa: F811
    context = chromium.new_context(viewport=LAPTOP)
    page = context.new_page()
    problems = Problems(page)
    page.goto(server + "/accounts/login/")
    page.wait_for_load_state("networkidle")
    assert problems.items == [], "login page"
    _login(page, server, "admin")
    hrefs = page.evaluate("() => [...document.querySelectorAll('nav.mainnav a')].map(a => a.getAttribute('href'))")
    assert len(hrefs) == 13
    for href in hrefs:
        page.goto(server + href)
        if "/explorer/" in href:
            page.wait_for_function("() => document.querySelectorAll('#x-timeseries .main-svg').length > 0",
                                   timeout=20000)
        else:
            _charts_rendered(page)
        page.wait_for_load_state("networkidle")
        expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=5000)
        assert problems.items == [], href
    context.close()
