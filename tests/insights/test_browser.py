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
from tests.insights.pages_data import HOSTILE, hostile_product_history, store_history

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
         ("customers", "/customers/"), ("products", "/products/"), ("carts", "/carts/"), ("insights", "/insights/"),
         ("funnel-by-category", "/funnel/?breakdown=category")]
# Pages of the analyst role (a viewer sees no single customer and no model report).
ANALYST_PAGES = [("customer", "/customers/{buyer}/"), ("model", "/model/")]
# Collects Content-Security-Policy violations of each document (the event fires for report-only too).
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push([e.violatedDirective, e.blockedURI, (e.sourceFile || '') + ':' + e.lineNumber, e.sample].join(' '));
}, true);
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(local_dir: Path) -> dict[str, str]:
    """The subprocess reads and writes the test database the tests write to."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update({"TESTING": "1", "DEBUG": "0", "LOCAL_DIR": str(local_dir), "DJANGO_SETTINGS_MODULE":
                "analytics_site.settings", "PYTHONUNBUFFERED": "1", "DEMO_STORE_ENABLED": "1"})
    db = connection.settings_dict
    if settings.IS_POSTGRES:
        url = os.environ["DATABASE_URL"]
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + db["NAME"]
    else:
        env["SQLITE_PATH"] = str(db["NAME"])
    return env


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """A daphne subprocess on the test database, started once for the module: its tests are transactional,
    so each sees the database as it leaves it (flushed after each test); the server reads it per request."""
    tmp_path = tmp_path_factory.mktemp("daphne")
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


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the module; each test opens the contexts it needs (own cookies, storage, viewport).
    While Playwright's sync API is open it marks an event loop running in this thread, so the module's ORM
    calls (fixtures, the flush after each test) run with DJANGO_ALLOW_ASYNC_UNSAFE; the servers under test
    never get it (_server_env)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Chromium reports a blocked script, style, eval or connection on the console as well.
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield page, errors
    finally:
        context.close()


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def _logout(page, base: str) -> None:
    page.click("#account-toggle")  # Log out is in the account menu
    page.click(".who form button[type=submit]")
    page.wait_for_url(re.compile(r".*/accounts/login/.*"))


def _no_csp_violations(page, name: str) -> None:
    """Nothing on the current document was blocked by the Content-Security-Policy."""
    page.wait_for_timeout(200)  # violations are reported asynchronously
    assert page.evaluate("window.__csp") == [], name


def _links_to_evil(page) -> int:
    """Links (HTML or SVG, any namespace) inside charts whose target mentions the hostile URL."""
    return page.evaluate("""() => [...document.querySelectorAll('.chart a, .dash-graph a, svg a')].filter(a =>
        [...a.attributes].some(attr => attr.value.includes('evil'))).length""")


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
    """Data, a user per role, a model version and an ingest key, all committed before the browser starts
    (Playwright's sync API runs an event loop in this thread, so no ORM calls after that)."""
    from tests.factories import ModelVersionFactory

    history = store_history()
    hostile_product_history()
    ModelVersionFactory(is_active=True)
    make_user(Role.VIEWER, username="viewer", password=PASSWORD)
    make_user(Role.ANALYST, username="analyst", password=PASSWORD)
    make_user(Role.ADMIN, username="admin", password=PASSWORD)
    _key, secret = ingest_key_create(name="browser test")
    return history, secret


def test_viewer_uses_every_page_live_updates_and_the_explorer(store, server, browser_page):
    page, errors = browser_page
    history, secret = store
    base = server
    _login(page, base, "viewer")

    # Every page renders every chart (Plotly's SVG is present) under the Content-Security-Policy, with
    # no violation, with Cache-Control: no-store, and is screenshotted. No chart draws the hostile
    # product's title or category as a link.
    for name, path in PAGES:
        response = page.goto(base + path.format(**history))
        assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
        assert "no-store" in response.headers["cache-control"]
        charts = _charts_rendered(page)
        if name != "insights":
            assert charts >= 1, name
        assert page.locator(".who .role").inner_text().lower() == "viewer"
        assert _links_to_evil(page) == 0, name
        _no_csp_violations(page, name)
        page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)
    # The hostile title is drawn as the text it is, in the axis and in the hover label; hovering (Plotly
    # draws the label then) and the heatmap's hover break no policy either.
    page.goto(base + "/products/")
    _charts_rendered(page)
    expect(page.locator("#chart-most_viewed")).to_contain_text(HOSTILE)
    box = page.locator("#chart-most_viewed .point path").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#chart-most_viewed .hoverlayer .hovertext")).to_have_count(1)
    assert _links_to_evil(page) == 0
    _no_csp_violations(page, "products hover")
    page.goto(base + "/seasonality/")
    _charts_rendered(page)
    box = page.locator("#chart-heatmap .nsewdrag").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    _no_csp_violations(page, "heatmap hover")

    # A viewer sees no single customer: the drill-down is refused and nothing links to it.
    assert page.goto(base + f"/customers/{history['buyer']}/").status == 403
    page.goto(base + "/customers/")
    assert page.evaluate("() => [...document.querySelectorAll('a')].filter(a => "
                         "/^\\/customers\\/\\d/.test(a.getAttribute('href') || '')).length") == 0

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
    expect(page.locator("#chart-hour .ytitle")).to_have_text("Net revenue")

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
    # Each chart keeps its height (the graphs once collapsed to their 25 px title row).
    assert page.evaluate("() => Math.min(...[...document.querySelectorAll('.explorer-grid .svg-container')]"
                         ".map(e => e.getBoundingClientRect().height))") >= 200
    assert _links_to_evil(page) == 0
    _no_csp_violations(page, "explorer")
    page.screenshot(path=str(ARTIFACTS / "page-explorer.png"), full_page=True)
    assert errors == []

    # The analyst's pages: a customer's drill-down and the model report (Plotly there too).
    _logout(page, base)
    _login(page, base, "analyst")
    for name, path in ANALYST_PAGES:
        response = page.goto(base + path.format(**history))
        assert response is not None and response.status == 200, name
        assert _charts_rendered(page) >= 1 if name == "customer" else True
        if name == "model":
            page.wait_for_function("() => document.querySelector('#chart-calibration .main-svg')", timeout=15000)
        _no_csp_violations(page, name)
        page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)

    # Django admin under the same policy; a new ingest key's secret is shown once, on its own page.
    _logout(page, base)
    _login(page, base, "admin")
    page.goto(base + "/admin/")
    _no_csp_violations(page, "admin")
    page.goto(base + "/admin/events/ingestkey/add/")
    page.fill("#id_name", "from the browser")
    page.click("input[name=_save]")
    secret = page.locator("#ingest-key-secret").input_value()
    assert secret.startswith("ak_")
    assert all(secret not in c["value"] for c in page.context.cookies())
    _no_csp_violations(page, "admin key created")
    assert _post_events(base, secret, [{
        "event_id": "browser-key-1", "customer_id": "98", "session_id": "s-k", "action": "view",
        "product_id": "p1", "product_title": "Canvas backpack", "product_price": 40.0, "quantity": 1,
        "timestamp": timezone.now().isoformat()}])["accepted"] == 1

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
