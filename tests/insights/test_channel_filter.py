"""The channel filter on every page (issue 12, DESIGN §4 Channel; insights.selectors.channel_scope).

Hand-built, all on Monday 2024-05-06 (UTC); lamp 40.00 (home), mug 10.00 (kitchen):

e0  Email        view lamp, add lamp, checkout, purchase lamp (a 5.00 discount)     4 events, 40 gross
e1  Email        view mug, add mug ×2, checkout, purchase mug ×2                    4 events, 20 gross
e2  Email        view lamp, add lamp (abandoned: idle)                              2 events
e3  Email        view lamp                                                          1 event
s0  Paid Social  view lamp, add lamp, checkout, purchase lamp                       4 events, 40 gross
s1  Paid Social  view mug                                                           1 event
d0  Direct       view lamp                                                          1 event

Email alone: 4 sessions, 2 purchasing, 2 orders, 11 events, gross 60, discounts 5, 55 before refunds
(refunds are not attributed to a channel: None), AOV 27.50, 4 customers, 2 buyers, carts 2 converted
and 1 abandoned, funnel 4 → 3 → 2 → 2; top customers e0 (35) then e1 (20). Every figure below is
also checked against the whole store, so a filter that did nothing would fail.
"""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.roles import Role
from insights import selectors
from insights.filters import MetricFilter
from insights.selectors.channel_scope import page_channel_notes, panel_channel_flags
from insights.services import analytics_process_pending
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import ingest

pytestmark = pytest.mark.django_db
DAY = dt.date(2024, 5, 6)
EMAIL = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"}
SOCIAL = {"utm_source": "facebook", "utm_medium": "paid_social"}
PRICES = {"lamp": "40.00", "mug": "10.00"}


def _visit(customer: str, context: dict | None, hour: int, steps: list[tuple[str, str, int]],
           discount: str | None = None) -> list[dict]:
    events = []
    for i, (action, product, quantity) in enumerate(steps):
        at = dt.datetime(2024, 5, 6, hour, i, tzinfo=dt.UTC)
        e = {"event_id": f"{customer}-{i}", "customer_id": customer, "action": action, "product_id": product,
             "product_price": PRICES[product], "quantity": quantity, "timestamp": at.isoformat()}
        if context:
            e["context"] = context
        if action == "purchase":
            e["order_id"] = f"o-{customer}"
            if discount:
                e["order"] = {"discount": discount, "coupon": "SPRING"}
        events.append(e)
    return events


@pytest.fixture
def store():
    ProductFactory(external_id="lamp", price=40, category="home")
    ProductFactory(external_id="mug", price=10, category="kitchen")
    for name, age in (("e0", 30), ("e1", 40), ("e2", 30), ("e3", 22), ("s0", 30), ("s1", 40), ("d0", 30)):
        CustomerFactory(external_id=name, age=age, email=f"{name}@example.com")
    buy_lamp = [("view", "lamp", 1), ("add_to_cart", "lamp", 1), ("checkout", "lamp", 1), ("purchase", "lamp", 1)]
    ingest(_visit("e0", EMAIL, 8, buy_lamp, discount="5.00")
           + _visit("e1", EMAIL, 9, [("view", "mug", 1), ("add_to_cart", "mug", 2), ("checkout", "mug", 1),
                                        ("purchase", "mug", 2)])
           + _visit("e2", EMAIL, 10, [("view", "lamp", 1), ("add_to_cart", "lamp", 1)])
           + _visit("e3", EMAIL, 11, [("view", "lamp", 1)])
           + _visit("s0", SOCIAL, 12, buy_lamp)
           + _visit("s1", SOCIAL, 13, [("view", "mug", 1)])
           + _visit("d0", None, 14, [("view", "lamp", 1)]))
    analytics_process_pending()


def _f(**kw) -> MetricFilter:
    return MetricFilter(start=DAY, end=DAY, **kw)


def test_kpis_are_those_of_the_channels_sessions(store):
    email = selectors.kpis_stats(_f(channel="Email"))
    assert (email["sessions"], email["orders"], email["events"], email["customers"]) == (4, 2, 11, 4)
    assert (email["gross_revenue"], email["discounts"], email["refunds"], email["revenue"]) == (60.0, 5.0, None, 55.0)
    assert email["aov"] == 27.5 and email["avg_clv"] == 27.5
    assert email["session_conversion_rate"] == 0.5
    assert email["cart_abandonment_rate"] == pytest.approx(1 / 3)
    social = selectors.kpis_stats(_f(channel="Paid Social"))
    assert (social["sessions"], social["orders"], social["revenue"], social["customers"]) == (2, 1, 40.0, 2)
    everyone = selectors.kpis_stats(_f())
    assert (everyone["sessions"], everyone["orders"], everyone["events"], everyone["refunds"]) == (7, 3, 17, 0.0)


def test_what_a_channel_cannot_say_is_none_not_zero(store):
    by_category = selectors.kpis_stats(_f(channel="Email", category="kitchen"))
    assert (by_category["sessions"], by_category["orders"], by_category["gross_revenue"]) == (1, 1, 20.0)
    assert by_category["events"] is None and by_category["revenue"] is None and by_category["discounts"] is None
    assert selectors.kpis_stats(_f(channel="Email", actions=("view",)))["events"] is None
    series = selectors.events_timeseries(_f(channel="Email", actions=("view",)))["points"]
    assert series and all(p["events"] is None for p in series)


def test_funnel_and_carts(store):
    steps = {s["step"]: s["sessions"] for s in selectors.funnel_stats(_f(channel="Email"))["steps"]}
    assert steps == {"view": 4, "add_to_cart": 3, "checkout": 2, "purchase": 2}
    assert selectors.funnel_stats(_f())["steps"][0]["sessions"] == 7
    ages = {g["group"] for g in selectors.funnel_stats(_f(channel="Email"), "age_group")["breakdown"]["groups"]}
    assert ages == {"26-35", "36-45", "18-25"}
    carts = selectors.carts_stats(_f(channel="Email"))
    assert [c["customer_id"] for c in carts["recent_abandoned"]] == ["e2"]
    assert sum(b["carts"] for b in carts["value_distribution"]) == 3
    assert selectors.carts_stats(_f(channel="Paid Social"))["recent_abandoned"] == []
    assert sum(b["carts"] for b in selectors.carts_stats(_f())["value_distribution"]) == 4


def test_timeseries_and_seasonality_by_the_sessions_start(store):
    daily = selectors.events_timeseries(_f(channel="Email"))
    assert daily["grain"] == "hour"
    assert sum(p["events"] for p in daily["points"]) == 11 and sum(p["orders"] for p in daily["points"]) == 2
    assert sum(p["revenue"] for p in daily["points"]) == 55.0
    week = selectors.events_timeseries(MetricFilter(start=DAY, end=DAY + dt.timedelta(days=6), channel="Email"))
    assert week["grain"] == "day" and week["points"][0]["events"] == 11 and week["points"][0]["revenue"] == 55.0
    season = selectors.seasonality_stats(_f(channel="Email"))
    assert [h["sessions"] for h in season["hour"] if h["sessions"]] == [1, 1, 1, 1]
    assert sum(h["events"] for h in season["hour"]) == 11
    assert sum(h["sessions"] for h in selectors.seasonality_stats(_f())["hour"]) == 7


def test_customers_page(store):
    stats = selectors.customers_stats(_f(channel="Email"))
    assert [(c["customer_id"], c["revenue"]) for c in stats["top_customers"]] == [("e0", 35.0), ("e1", 20.0)]
    ages = {g["age_group"]: g for g in stats["age_groups"]}
    assert (ages["26-35"]["sessions"], ages["26-35"]["customers"], ages["26-35"]["revenue"]) == (2, 2, 35.0)
    all_ages = {g["age_group"]: g for g in selectors.customers_stats(_f())["age_groups"]}
    assert all_ages["26-35"]["sessions"] == 4


def test_products_of_the_channels_sessions(store):
    email = selectors.products_stats(_f(channel="Email"))
    views = {r["product_id"]: r["views"] for r in email["most_viewed"]}
    assert views == {"lamp": 3, "mug": 1}
    assert [(r["product_id"], r["revenue"], r["units"]) for r in email["top_revenue"]] == [
        ("lamp", 40.0, 1), ("mug", 20.0, 2)]
    assert [(r["product_id"], r["abandoned_carts"]) for r in email["most_abandoned"]] == [("lamp", 1)]
    assert email["refund_rate"] == []
    assert {r["product_id"]: r["views"] for r in selectors.products_stats(_f())["most_viewed"]} == {
        "lamp": 5, "mug": 2}
    lamp = ProductFactory._meta.model.objects.get(external_id="lamp").pk
    social = selectors.product_figures(_f(channel="Paid Social"), lamp)
    assert (social["views"], social["units"], social["revenue"]) == (1, 1, 40.0)
    assert selectors.product_figures(_f(), lamp)["views"] == 5


def test_api_and_pages_say_what_is_not_cut(store, client_for):
    viewer = client_for(Role.VIEWER)
    q = f"?start={DAY}&end={DAY}&channel=Email"
    kpis = viewer.get("/api/v1/metrics/kpis" + q).json()
    assert kpis["sessions"] == 4 and kpis["channel_ignored"] is False and "before refunds" in kpis["channel_note"]
    assert viewer.get("/api/v1/metrics/funnel" + q).json()["channel_ignored"] is False
    assert viewer.get("/api/v1/metrics/cohorts" + q).json()["channel_ignored"] is True
    segment = viewer.get("/api/v1/metrics/kpis" + q + "&segment=Champions").json()
    assert segment["channel_ignored"] is True and "segment" in segment["channel_note"]
    assert "channel_ignored" not in viewer.get(f"/api/v1/metrics/kpis?start={DAY}&end={DAY}").json()
    page = viewer.get("/" + q).content.decode()
    assert "Refunds are not attributed to a channel" in page and 'id="kpi-sessions">4<' in page
    assert "refund-rate list is empty" in viewer.get("/products/" + q).content.decode()
    assert "they are not cut by channel" in viewer.get("/cohorts/" + q).content.decode()
    assert "not cut by channel" not in viewer.get("/funnel/" + q).content.decode()


def test_scope_table_covers_every_panel_and_page():
    from insights.panels import PANEL_READERS
    from insights.selectors.channel_scope import PAGES, PANELS

    assert set(PANEL_READERS) <= set(PANELS) | {"timeseries"}
    assert all(set(panels) <= set(PANELS) for panels in PAGES.values())
    assert panel_channel_flags("funnel", MetricFilter()) == {}
    assert page_channel_notes("funnel", _f(channel="Email")) == []
    assert page_channel_notes("cohorts", _f(channel="Email"))


def test_experiment_filter_drops_the_channel_where_it_takes_visitors_like_a_segment():
    both = _f(channel="Email", experiment="checkout", variant="B")
    assert panel_channel_flags("funnel", both)["channel_ignored"] is True
    assert "experiment" in panel_channel_flags("carts", both)["channel_note"]
    assert any("experiment" in note for note in page_channel_notes("funnel", both))
    assert panel_channel_flags("kpis", both)["channel_ignored"] is False  # the overview has no experiment filter
    assert panel_channel_flags("funnel", _f(channel="Email"))["channel_ignored"] is False
