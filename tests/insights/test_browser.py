"""The dashboard in a real browser: Playwright (sync API) driving Debian's Chromium against a real
daphne subprocess that shares the test database.

Needs /usr/bin/chromium (`apt-get install chromium`; `make test` installs it when it can). Without
it the module skips, except under CI (env CI set), where it fails. Screenshots of every page go to
artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.roles import Role
from events.services import ingest_key_create
from tests.insights.pages_data import store_history

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "pw-Secret-123"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: CI must install Debian's chromium for the browser tests")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped outside CI",
                allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAGES = [("overview", "/"), ("funnel", "/funnel/?breakdown=age_group"), ("seasonality", "/seasonality/"),
         ("customers", "/customers/"), ("customer", "/customers/{buyer}/"), ("products", "/products/"),
         ("carts", "/carts/"), ("insights", "/insights/")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(local_dir: Path) -> dict[str, str]:
    """The subprocess reads and writes the test database this test writes to."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    env.update({"TESTING": "1", "DEBUG": "0", "LOCAL_DIR": str(local_dir), "DJANGO_SETTINGS_MODULE":
                "analytics_site.settings", "PYTHONUNBUFFERED": "1"})
    db = connection.settings_dict
    if settings.IS_POSTGRES:
        url = os.environ["DATABASE_URL"]
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + db["NAME"]
    else:
        env["SQLITE_PATH"] = str(db["NAME"])
    return env


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    log = (tmp_path / "daphne.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "analytics_site.asgi:application"],
        cwd=ROOT, env=_server_env(tmp_path / "local"), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("daphne did not start: " + (tmp_path / "daphne.log").read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser_page():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page, errors
        finally:
            context.close()
            browser.close()


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def _charts_rendered(page) -> int:
    """Wait until every chart container holds Plotly's SVG; return how many there are."""
    count = page.locator(".chart").count()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('.main-svg'))", timeout=15000)
    return count


def _post_events(base: str, secret: str, events: list[dict]) -> dict:
    request = urllib.request.Request(base + "/api/v1/events", data=json.dumps({"events": events}).encode(),
                                     headers={"Authorization": f"Bearer {secret}",
                                              "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def store(make_user):
    """Data, the viewer and an ingest key, all committed before the browser starts (Playwright's
    sync API runs an event loop in this thread, so no ORM calls after that)."""
    history = store_history()
    make_user(Role.VIEWER, username="viewer", password=PASSWORD)
    _key, secret = ingest_key_create(name="browser test")
    return history, secret


def test_viewer_uses_every_page_live_updates_and_the_explorer(store, server, browser_page):
    page, errors = browser_page
    history, secret = store
    base = server
    _login(page, base, "viewer")

    # Every page renders every chart (Plotly's SVG is present) and is screenshotted.
    for name, path in PAGES:
        page.goto(base + path.format(**history))
        charts = _charts_rendered(page)
        if name != "insights":
            assert charts >= 1, name
        assert page.locator(".who .role").inner_text().lower() == "viewer"
        page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)

    # Viewers get masked personal data and no export buttons.
    page.goto(base + "/customers/")
    assert "Alice Smith" not in page.content()
    assert page.locator("a.export").count() == 0

    # Filters change the URL and the charts.
    page.goto(base + "/products/")
    _charts_rendered(page)
    viewed = page.locator("#chart-most_viewed")
    expect(viewed).to_contain_text("Cotton shirt")
    page.select_option("#f-category", "bags")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r".*category=bags.*"))
    _charts_rendered(page)
    expect(page.locator("#chart-most_viewed")).to_contain_text("Canvas backpack")
    expect(page.locator("#chart-most_viewed")).not_to_contain_text("Cotton shirt")
    page.goto(base + "/seasonality/")
    page.click("nav.tabs >> text=Revenue")
    page.wait_for_url(re.compile(r".*metric=revenue.*"))
    _charts_rendered(page)
    expect(page.locator("#chart-hour .ytitle")).to_have_text("Revenue")

    # Live: an event sent through the API changes the overview's event count without a reload.
    page.goto(base + "/")
    _charts_rendered(page)
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=5000)
    before = page.locator("#kpi-events").inner_text()
    page.evaluate("window.__marker = 'same document'")
    from django.utils import timezone

    ack = _post_events(base, secret, [{
        "event_id": "browser-live-1", "customer_id": "99", "session_id": "s-b", "action": "view",
        "product_id": "p1", "product_title": "Canvas backpack", "product_price": 40.0, "quantity": 1,
        "timestamp": timezone.now().isoformat()}])
    assert ack["accepted"] == 1
    expect(page.locator("#kpi-events")).not_to_have_text(before, timeout=2000)
    assert page.evaluate("window.__marker") == "same document"  # no reload happened
    expect(page.locator("#feed")).to_contain_text("customer 99")
    page.screenshot(path=str(ARTIFACTS / "page-overview-live.png"), full_page=True)

    # Explorer: the Dash app renders its charts and follows a filter change.
    page.goto(base + "/explorer/")
    page.wait_for_function("() => document.querySelectorAll('#x-timeseries .main-svg').length > 0", timeout=20000)
    expect(page.locator("#x-status")).to_contain_text("Showing")
    page.click("#x-category")
    page.get_by_role("option", name="bags").click()
    expect(page.locator("#x-status")).to_contain_text("bags", timeout=10000)
    expect(page.locator("#x-products")).to_contain_text("Canvas backpack")
    expect(page.locator("#x-products")).not_to_contain_text("Cotton shirt")
    page.screenshot(path=str(ARTIFACTS / "page-explorer.png"), full_page=True)

    assert errors == []


@pytest.fixture
def behind(store):
    """Three events the worker has not derived yet, queued a minute ago (committed before the browser starts)."""
    import datetime as dt

    from django.utils import timezone

    from events.services import events_ingest
    from insights.models import PendingWindow

    events = [{"event_id": f"browser-wait-{i}", "customer_id": "1", "action": "view", "product_id": "p1",
               "timestamp": timezone.now().isoformat()} for i in range(3)]
    assert events_ingest(raw_events=events, broadcast=False).accepted == 3
    PendingWindow.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    return store


def test_freshness_banner_shows_and_clears_by_itself(behind, server, browser_page):
    """Issue 10: while events wait to be derived the page says so; when the worker catches up, the
    banner goes away without a reload (pushed over /ws/dashboard/)."""
    import threading

    page, errors = browser_page
    _login(page, server, "viewer")
    page.goto(server + "/carts/")
    banner = page.locator("#freshness")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("3 events being processed")
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=5000)
    page.evaluate("window.__marker = 'same document'")

    def derive() -> None:  # the worker's beat task, in its own thread (the browser's loop owns this one)
        from django.db import connection as thread_connection

        from insights.services import analytics_process_pending

        try:
            analytics_process_pending()
        finally:
            thread_connection.close()

    worker = threading.Thread(target=derive)
    worker.start()
    worker.join(timeout=30)
    expect(banner).to_be_hidden(timeout=5000)
    assert page.evaluate("window.__marker") == "same document"
    assert errors == []
