"""Exposures through a real client reach the readout: Segment's Python library against daphne, and the
storefront tracker's ``experiment()`` in Chromium (a store page on another origin, public key); in both a
visitor who identifies and then buys counts as converted."""

from __future__ import annotations

import pytest

from events.services import ingest_key_create
from experiments.selectors import experiment_readout
from tests.events.test_live import Daphne, free_port
from tests.events.test_tracker_browser import (  # noqa: F401 (fixtures)
    CHROME_UA,
    NO_CONSENT_ASKED,
    _wait_for,
    _write_page,
    browser,
    orm_beside_playwright,
    shop,
)
from tests.insights.test_browser import chromium, server  # noqa: F401 (fixtures)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_segment_library_experiment_viewed_then_identify_and_order_counts_as_converted():
    from segment.analytics.client import Client

    _key, secret = ingest_key_create(name="segment-exp")
    errors: list = []
    daphne = Daphne(free_port())
    try:
        client = Client(write_key=secret, host=f"http://127.0.0.1:{daphne.port}", sync_mode=True,
                        on_error=lambda e, batch: errors.append(e))
        client.track(anonymous_id="visitor-1", event="Experiment Viewed",
                     properties={"experiment_name": "hero", "variation_name": "B"})
        client.track(anonymous_id="visitor-2", event="Experiment Viewed",
                     properties={"experiment_id": "hero", "variation_id": "A"})
        client.identify(user_id="cust-1", anonymous_id="visitor-1")
        client.track(user_id="cust-1", event="Order Completed", properties={
            "order_id": "o-1", "products": [{"product_id": "sku-1", "price": 25.0, "quantity": 2}]})
        client.flush()
    finally:
        daphne.stop()
    assert errors == []
    by = {v.name: v for v in experiment_readout(name="hero").variants}
    assert (by["A"].visitors, by["A"].conversions) == (1, 0)
    assert (by["B"].visitors, by["B"].conversions, by["B"].revenue_per_visitor) == (1, 1, 50.0)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_trackers_experiment_call_lands_in_the_readout(server, shop, browser):  # noqa: F811
    root, origin = shop
    key, _ = ingest_key_create(name="web", public=True, origins=[origin])
    _write_page(root, "lamp.html", key, server, extra=NO_CONSENT_ASKED)
    context = browser.new_context(user_agent=CHROME_UA)
    page = context.new_page()
    page.goto(f"{origin}/lamp.html")
    page.evaluate("""() => {
        tracker.experiment('checkout-button', 'green');
        tracker.identify('cust-7');
        tracker.track('purchase', {order_id: 'o-7', products: [{product_id: 'sku-1', price: 40, quantity: 1}]});
        window.dispatchEvent(new Event('pagehide'));
    }""")
    readout = _wait_for(lambda: (r := experiment_readout(name="checkout-button")) and r.variants
                        and r.variants[0].conversions and r)
    (green,) = readout.variants
    assert (green.name, green.visitors, green.conversions, green.revenue_per_visitor) == ("green", 1, 1, 40.0)
    context.close()
