"""Issue 12 acceptance, in Debian's Chromium: a shopper lands on the demo store from a campaign link,
browses anonymously, adds to cart, logs in and buys; the dashboard's live feed (another browser
context) shows the events; the order is that customer's; the anonymous views before the login are in
the same session and customer; the session's channel is Email; the Acquisition page counts it."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from accounts.roles import Role
from events.models import Event
from insights.models import Session
from insights.services import analytics_process_pending
from tests.events.test_tracker_browser import CHROME_UA, _wait_for, orm_beside_playwright  # noqa: F401
from tests.factories import ProductFactory
from tests.insights.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, _login, server  # noqa: F401

pytest.importorskip("playwright")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_campaign_visit_browsed_anonymously_then_bought_after_login(server, make_user):  # noqa: F811
    ProductFactory(external_id="lamp-1", title="Desk lamp", price=40, category="home")
    ProductFactory(external_id="mug-2", title="Tea mug", price=12, category="kitchen")
    call_command("demo_store_key", "--origin", server)
    make_user(Role.VIEWER, username="viewer", password=PASSWORD)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            dashboard = browser.new_context().new_page()
            _login(dashboard, server, "viewer")
            expect(dashboard.locator("#live")).to_have_attribute("data-state", "live", timeout=10000)

            shop_context = browser.new_context(user_agent=CHROME_UA)  # headless Chromium's own UA is a bot's
            shop = shop_context.new_page()
            errors: list[str] = []
            shop.on("pageerror", lambda exc: errors.append(str(exc)))
            shop.goto(f"{server}/demo-store/?utm_source=newsletter&utm_medium=email&utm_campaign=spring")
            shop.click("a.product-link[data-id=mug-2]")
            shop.wait_for_url(re.compile(r".*/demo-store/p/mug-2/"))
            shop.goto(f"{server}/demo-store/")
            shop.click("a.product-link[data-id=lamp-1]")
            shop.wait_for_url(re.compile(r".*/demo-store/p/lamp-1/"))
            shop.click("#add")
            expect(shop.locator("#cart-count")).to_have_text("1")
            anonymous_id = shop.evaluate("localStorage.getItem('_trk_aid')")
            # The anonymous browsing reaches the server (and the dashboard's feed) before the log-in.
            _wait_for(lambda: Event.objects.filter(action="add_to_cart").exists(), page=shop)
            expect(dashboard.locator("#feed")).to_contain_text(f"anon:{anonymous_id}", timeout=10000)

            shop.goto(f"{server}/demo-store/login/?next=/demo-store/checkout/")
            shop.fill("#customer-id", "shopper-7")
            shop.click("#login-submit")
            shop.wait_for_url(re.compile(r".*/demo-store/checkout/"))
            shop.click("#place-order")
            expect(shop.locator("#thanks")).to_be_visible()
            order_id = shop.locator("#order-id").inner_text()
            _wait_for(lambda: Event.objects.filter(action="purchase", namespace="browser").exists(), page=shop)
            expect(dashboard.locator("#feed")).to_contain_text("shopper-7", timeout=10000)
            assert not errors

            purchase = Event.objects.select_related("customer").get(action="purchase", namespace="browser")
            assert (purchase.customer.external_id, purchase.order_id) == ("shopper-7", order_id)
            # the shop's server placed and reported the order (verified), in the same visit
            verified = Event.objects.get(action="purchase", namespace="server")
            assert (verified.order_id, verified.session_id) == (order_id, purchase.session_id)
            rows = list(Event.objects.select_related("customer").order_by("timestamp", "id"))
            assert {e.customer.external_id for e in rows} == {"shopper-7"}  # the anonymous views moved too
            assert {"page", "view", "add_to_cart", "checkout", "purchase"} <= {e.action for e in rows}
            assert {e.anonymous_id for e in rows if e.namespace == "browser"} == {anonymous_id}
            assert len({e.session_id for e in rows}) == 1

            analytics_process_pending()
            session = Session.objects.select_related("customer").get()
            assert session.customer.external_id == "shopper-7" and session.purchased
            assert (session.channel, session.source, session.medium, session.campaign) == (
                "Email", "newsletter", "email", "spring")
            assert "utm_source=newsletter" in session.landing_page
            assert session.event_count == len(rows)

            dashboard.goto(f"{server}/acquisition/")
            email = dashboard.locator("#channels tr[data-channel=Email]")
            expect(email).to_contain_text("Email")
            cells = email.locator("td").all_inner_texts()
            assert cells[0] == "1" and cells[1] == "100.0%"  # one session, and it bought
            shop_context.close()
        finally:
            browser.close()
