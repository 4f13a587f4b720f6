"""Segment's analytics.js (@segment/analytics-next from the npm registry, vendored in
tests/events/vendor/analytics-next) on a store page, configured with this server as its API host
and its settings inline: its page, track, identify and alias calls reach /v1/p, /v1/t, /v1/i, /v1/a
with a public key (text/plain, the write key in the body, CORS) and are stored. Nothing is fetched
from Segment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from customers.models import Customer
from events.models import Event, IdentityLink
from events.services import ingest_key_create
from tests.events.test_tracker_browser import CHROME_UA, _wait_for, browser, orm_beside_playwright, shop  # noqa: F401
from tests.insights.test_browser import chromium, server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
VENDOR = Path(__file__).parent / "vendor" / "analytics-next"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Segment test shop</title>
<script src="ajs/index.js"></script>
<script>
var settings = {{integrations: {{"Segment.io": {{apiKey: {key}, apiHost: {api_host}, protocol: "http"}}}}}};
window.ready = AnalyticsNext.AnalyticsBrowser.load(
  {{writeKey: {key}, cdnSettings: settings, cdnURL: location.origin + "/ajs"}},
  {{integrations: {{"Segment.io": {{apiHost: {api_host}, protocol: "http"}}}}}}
).then(function (loaded) {{ window.analytics = loaded[0]; return true; }});
</script></head><body><h1>Shop</h1></body></html>"""


def test_analytics_js_page_track_identify_and_alias_are_stored(server, shop, browser):  # noqa: F811
    root, origin = shop
    key, secret = ingest_key_create(name="segment-web", public=True, origins=[origin])
    shutil.copytree(VENDOR, root / "ajs")
    api_host = server.removeprefix("http://") + "/v1"
    (root / "shop.html").write_text(PAGE.format(key=json.dumps(secret), api_host=json.dumps(api_host)))
    context = browser.new_context(user_agent=CHROME_UA)
    page = context.new_page()
    foreign: list[str] = []

    def refuse_segment(route):
        foreign.append(route.request.url)
        route.abort()

    page.route("**/*segment.com/**", refuse_segment)
    page.route("**/*segment.io/**", refuse_segment)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.startswith(server) else None)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{origin}/shop.html?utm_source=newsletter&utm_medium=email&utm_campaign=winter")
    assert page.evaluate("window.ready") is True
    page.evaluate("""async () => {
        await analytics.page();
        await analytics.track('Product Viewed', {product_id: 'sku-9', name: 'Kettle', price: 25});
        await analytics.track('Coupon Applied', {coupon: 'WINTER'});
        await analytics.identify('cust-7', {email: 'grace@example.com', name: 'Grace Hopper', age: 58});
        await analytics.track('Product Added', {product_id: 'sku-9', price: 25, quantity: 1});
        await analytics.alias('cust-7-new', 'cust-7');
    }""")
    # Until the identify's merge commits (a failure times out here): every event is cust-7's.
    _wait_for(lambda: Event.objects.filter(action="add_to_cart").exists() and any("/v1/a" in u for u in sent)
              and not Event.objects.exclude(customer__external_id="cust-7").exists())
    anonymous_id = page.evaluate("analytics.user().anonymousId()")
    rows = {e.action: e for e in Event.objects.select_related("customer", "product")}
    assert set(rows) == {"page", "view", "add_to_cart"}  # Coupon Applied: acknowledged, ignored
    page_event = rows["page"]
    # identify made the visitor cust-7: the page and view sent before it are cust-7's too
    assert page_event.anonymous_id == anonymous_id
    assert {e.customer.external_id for e in rows.values()} == {"cust-7"}
    assert page_event.context["page_url"].startswith(f"{origin}/shop.html")
    assert (page_event.context["utm_source"], page_event.context["utm_medium"],
            page_event.context["utm_campaign"]) == ("newsletter", "email", "winter")
    assert page_event.context["library"].startswith("analytics.js")
    assert rows["view"].product.external_id == "sku-9" and rows["view"].product.title == "Kettle"
    customer = Customer.objects.get(external_id="cust-7")
    # A browser's traits fill empty fields and never set an age (docs/trust.md).
    assert (customer.email, customer.name, customer.age_group) == ("grace@example.com", "Grace Hopper", "unknown")
    assert Customer.objects.get(external_id=f"anon:{anonymous_id}").merged_into_id == customer.pk
    identify = IdentityLink.objects.get(kind="identify")
    assert identify.anonymous_id == anonymous_id and identify.customer_id == customer.pk
    # alias merges two ids: refused from a public key (docs/trust.md), nothing recorded or merged.
    assert not IdentityLink.objects.filter(kind="alias").exists()
    assert not Customer.objects.filter(external_id="cust-7-new").exists()
    paths = {url.removeprefix(server).split("?")[0] for url in sent}
    assert {"/v1/p", "/v1/t", "/v1/i", "/v1/a"} <= paths  # the short paths browser SDKs use
    assert foreign == [] and not errors
    context.close()
