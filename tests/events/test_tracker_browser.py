"""The storefront tracker in Debian's Chromium: a store page on another origin loads /tracker.js
with a public key through the admin snippet; its page, add to cart (data-* attributes), identify and
purchase calls are stored with the right anonymous id, customer and UTM context; the snippet asks for
consent by default (nothing is stored or sent before it); the page's batches stay within what a public
key may send, whether sent by fetch or, as the page is left, by sendBeacon."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from events.models import Event, IngestKey
from events.services import ingest_key_create, snippet_for
from tests.insights.test_browser import _free_port, chromium, server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
             "Safari/537.36")  # headless Chromium's own says HeadlessChrome: a bot, rightly

NO_CONSENT_ASKED = "tracker.consentRequired = false;"  # the snippet's one switch (consent collected elsewhere)
SHOP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Lamp · Test shop</title>
<script>{snippet}
{extra}</script></head><body>
<div id="product" data-product-id="sku-1" data-product-name="Desk lamp" data-product-price="40"
     data-product-category="home">
  <button id="add" data-track="add_to_cart" data-product-id="sku-1" data-product-name="Desk lamp"
          data-product-price="40" data-quantity="2">Add to cart</button>
</div>
<script>tracker.track('view');</script>
</body></html>"""


@pytest.fixture(autouse=True)
def orm_beside_playwright(monkeypatch):
    """Playwright's sync API runs an event loop in this thread; the test's ORM calls between its
    steps are still sequential and synchronous."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")


@pytest.fixture
def shop(tmp_path):
    """A second origin (the store) serving files from a temporary folder."""
    root = tmp_path / "shop"
    root.mkdir()
    port = _free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _write_page(root: Path, name: str, key: IngestKey, base: str, extra: str = "") -> None:
    snippet = snippet_for(key, server=base).removeprefix("<script>\n").removesuffix("\n</script>")
    (root / name).write_text(SHOP_PAGE.format(snippet=snippet, extra=extra))


def _wait_for(condition, timeout: float = 15.0, page=None):
    """Poll ``condition`` until it is truthy. With a ``page``, wait through Playwright so that its
    route handlers keep running (the sync API dispatches them only inside its own calls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)
    raise AssertionError("timed out waiting for the events")


@pytest.fixture(scope="module")
def browser(chromium):  # noqa: F811
    """One Chromium for the module (tests/insights/test_browser.py); each test opens its own context."""
    return chromium


def test_page_add_to_cart_identify_and_purchase_are_stored_with_identity_and_utm(server, shop, browser):  # noqa: F811
    root, origin = shop
    key, _ = ingest_key_create(name="web", public=True, origins=[origin])
    _write_page(root, "lamp.html", key, server, extra=NO_CONSENT_ASKED)
    context = browser.new_context(user_agent=CHROME_UA)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{origin}/lamp.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring")
    page.click("#add")
    page.evaluate("""() => {
        tracker.identify('cust-42', {name: 'Ada Lovelace', email: 'ada@example.com', age: 40, city: 'London'});
        tracker.track('purchase', {order_id: 'o-1', products: [{product_id: 'sku-1', price: 40, quantity: 2}]});
        window.dispatchEvent(new Event('pagehide'));  // the page is left: what is queued goes by sendBeacon
    }""")
    rows = _wait_for(lambda: list(Event.objects.select_related("customer", "product").order_by("timestamp", "id"))
                     if Event.objects.filter(action="purchase").exists() else None)
    anonymous_id = page.evaluate("localStorage.getItem('_trk_aid')")
    assert anonymous_id and not errors
    by_action = {e.action: e for e in rows}
    assert set(by_action) == {"page", "view", "add_to_cart", "purchase"}
    for e in rows:
        assert e.anonymous_id == anonymous_id and not e.is_bot
        assert e.context["utm_source"] == "newsletter" and e.context["utm_medium"] == "email"
        assert e.context["utm_campaign"] == "spring" and "utm_source=newsletter" in e.context["landing_page"]
    assert len({e.session_id for e in rows}) == 1 and rows[0].session_id
    # The identify made the visitor the customer: the anonymous events before it are theirs too.
    assert {e.customer.external_id for e in rows} == {"cust-42"}
    assert by_action["page"].context["page_title"] == "Lamp · Test shop"
    cart = by_action["add_to_cart"]
    assert (cart.product.external_id, cart.quantity, cart.price) == ("sku-1", 2, 40)
    assert by_action["view"].product.external_id == "sku-1"
    purchase = by_action["purchase"]
    assert purchase.customer.external_id == "cust-42" and purchase.order_id == "o-1"
    customer = purchase.customer
    customer.refresh_from_db()
    # A browser's traits fill the empty profile, but never set an age (docs/trust.md).
    assert (customer.name, customer.email, customer.age_group, customer.city) == (
        "Ada Lovelace", "ada@example.com", "unknown", "London")
    context.close()


def test_the_snippet_stores_and_sends_nothing_before_consent(server, shop, browser):  # noqa: F811
    root, origin = shop
    key, _ = ingest_key_create(name="web", public=True, origins=[origin])
    _write_page(root, "consent.html", key, server)  # the snippet as admin shows it: consent asked by default
    context = browser.new_context(user_agent=CHROME_UA)
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/v1/" in r.url else None)
    page.goto(f"{origin}/consent.html")
    page.click("#add")
    page.evaluate("window.dispatchEvent(new Event('pagehide'))")
    page.wait_for_timeout(1500)  # past the tracker's 1 s batching delay
    assert sent == [] and Event.objects.count() == 0
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('_trk_'))") == []
    assert context.cookies() == []
    page.evaluate("tracker.consent(true)")
    rows = _wait_for(lambda: list(Event.objects.all()) if Event.objects.count() >= 3 else None)
    assert sorted(e.action for e in rows) == ["add_to_cart", "page", "view"]
    assert page.evaluate("localStorage.getItem('_trk_aid')") == rows[0].anonymous_id
    # The consent is remembered: the next page sends without asking again.
    page.goto(f"{origin}/consent.html?again=1")
    _wait_for(lambda: Event.objects.filter(action="page").count() == 2)
    page.evaluate("tracker.consent(false)")  # withdrawn: everything the tracker stored goes
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('_trk_'))") == []
    context.close()


def test_a_refused_batch_is_sent_again_after_retry_after(server, shop, browser):  # noqa: F811
    root, origin = shop
    key, _ = ingest_key_create(name="web", public=True, origins=[origin])
    _write_page(root, "retry.html", key, server, extra=NO_CONSENT_ASKED)
    context = browser.new_context(user_agent=CHROME_UA)
    page = context.new_page()
    attempts: list[int] = []

    def first_refused(route):
        attempts.append(len(attempts))
        if len(attempts) == 1:  # the server is over its limit once: 429 with Retry-After
            route.fulfill(status=429, headers={"Retry-After": "1", "Access-Control-Allow-Origin": origin,
                                               "Access-Control-Expose-Headers": "Retry-After"}, body="{}")
        else:
            route.continue_()

    page.route(f"{server}/v1/b", first_refused)
    page.goto(f"{origin}/retry.html")
    rows = _wait_for(lambda: list(Event.objects.all()) if Event.objects.count() >= 2 else None, page=page)
    assert sorted(e.action for e in rows) == ["page", "view"]  # the refused batch, resent whole
    assert len(attempts) >= 2
    context.close()


def test_batches_stay_within_a_public_keys_cap_even_by_beacon(server, shop, browser):  # noqa: F811
    root, origin = shop
    key, _ = ingest_key_create(name="web", public=True, origins=[origin])
    _write_page(root, "many.html", key, server, extra=NO_CONSENT_ASKED)
    context = browser.new_context(user_agent=CHROME_UA)
    page = context.new_page()
    sizes: list[int] = []
    page.on("request", lambda r: sizes.append(len(json.loads(r.post_data)["batch"]))
            if r.url.endswith("/v1/b") and r.post_data else None)
    page.route(f"{server}/v1/b", lambda route: route.abort())  # offline: everything stays queued
    page.goto(f"{origin}/many.html")
    page.evaluate("() => { for (var i = 0; i < 45; i++) tracker.page({n: i}); }")
    page.wait_for_timeout(500)
    page.unroute(f"{server}/v1/b")
    page.evaluate("window.dispatchEvent(new Event('pagehide'))")  # left: the queue goes by sendBeacon
    _wait_for(lambda: Event.objects.filter(action="page").count() >= 46, page=page)
    assert sizes and max(sizes) <= 20
    assert Event.objects.filter(action="page").count() == 46 and Event.objects.filter(action="view").count() == 1
    context.close()
