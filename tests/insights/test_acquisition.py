"""The Acquisition page and API (issue 12): figures by channel, source / medium and campaign with
Wilson intervals, first- and last-touch revenue, people counts, the channel filter and the channel
sentence (only when the best and worst channels' intervals separate)."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.roles import Role
from insights.filters import FilterError, MetricFilter
from insights.selectors.acquisition import acquisition_stats
from insights.sentences import channels_compared, insights_list
from insights.services import analytics_process_pending
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import ingest

pytestmark = pytest.mark.django_db
DAY = dt.date(2024, 5, 6)
Q = f"?start={DAY}&end={DAY}"
EMAIL = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"}
SOCIAL = {"utm_source": "facebook", "utm_medium": "paid_social"}


def _visits(prefix: str, context: dict | None, *, n: int, buyers: int, start_hour: int = 8) -> None:
    """``n`` customers with one visit each from ``context``; the first ``buyers`` of them buy a lamp."""
    events = []
    for i in range(n):
        at = dt.datetime(2024, 5, 6, start_hour, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
        base = {"customer_id": f"{prefix}{i}", "product_id": "lamp", "timestamp": at.isoformat()}
        if context:
            base["context"] = context
        events.append({**base, "event_id": f"{prefix}{i}-v", "action": "add_to_cart", "product_price": "40.00"})
        if i < buyers:
            events.append({**base, "event_id": f"{prefix}{i}-p", "action": "purchase", "order_id": f"{prefix}o{i}"})
    ingest(events)


@pytest.fixture
def traffic():
    ProductFactory(external_id="lamp", price=40)
    _visits("e", EMAIL, n=60, buyers=30)
    _visits("s", SOCIAL, n=60, buyers=3, start_hour=10)
    _visits("d", None, n=10, buyers=2, start_hour=12)
    analytics_process_pending()


def test_figures_by_channel_source_medium_and_campaign(traffic):
    stats = acquisition_stats(MetricFilter(start=DAY, end=DAY))
    by = {r["channel"]: r for r in stats["channels"]}
    assert set(by) == {"Email", "Paid Social", "Direct"}
    email = by["Email"]
    assert (email["sessions"], email["purchasing_sessions"], email["orders"], email["net_revenue"]) == (60, 30, 30,
                                                                                                      1200.0)
    assert email["conversion"] == 0.5 and email["conversion_low"] < 0.5 < email["conversion_high"]
    assert email["aov"] == 40.0
    assert by["Paid Social"]["conversion"] == 0.05
    assert stats["campaigns"] == [r for r in stats["campaigns"] if r["campaign"] == "spring"]
    assert {(r["source"], r["medium"]) for r in stats["source_medium"]} == {
        ("newsletter", "email"), ("facebook", "paid_social"), ("(direct)", "(none)")}
    touch = {r["channel"]: r for r in stats["attribution"]}
    assert touch["Email"]["first_touch_revenue"] == touch["Email"]["last_touch_revenue"] == 1200.0
    assert touch["Paid Social"]["first_touch_buyers"] == 3
    assert stats["people"] == {"visitors": 130, "customers": 130, "buyers": 35}
    by_age = acquisition_stats(MetricFilter(start=DAY, end=DAY, age_group="26-35"))  # ignored here, like the page
    assert by_age["people"] == stats["people"] and "age_group" in by_age["ignored_filters"]


def test_first_touch_follows_the_first_session_and_last_touch_the_orders_own():
    ProductFactory(external_id="lamp", price=40)
    ingest([{"event_id": "a", "customer_id": "x", "action": "view", "product_id": "lamp",
             "timestamp": "2024-05-06T08:00:00Z", "context": SOCIAL},
            {"event_id": "b", "customer_id": "x", "action": "purchase", "product_id": "lamp", "order_id": "o",
             "timestamp": "2024-05-06T12:00:00Z", "context": EMAIL}])
    analytics_process_pending()
    touch = {r["channel"]: r for r in acquisition_stats(MetricFilter(start=DAY, end=DAY))["attribution"]}
    assert touch["Paid Social"]["first_touch_revenue"] == 40.0 and touch["Paid Social"]["last_touch_revenue"] == 0
    assert touch["Email"]["last_touch_revenue"] == 40.0 and touch["Email"]["first_touch_revenue"] == 0


def test_anonymous_visitors_count_as_visitors_not_customers():
    CustomerFactory(external_id="anon:a-1")
    CustomerFactory(external_id="c-1")
    ingest([{"event_id": "1", "customer_id": "anon:a-1", "action": "page", "timestamp": "2024-05-06T08:00:00Z"},
            {"event_id": "2", "customer_id": "c-1", "action": "page", "timestamp": "2024-05-06T08:00:00Z"}])
    analytics_process_pending()
    assert acquisition_stats(MetricFilter(start=DAY, end=DAY))["people"] == {
        "visitors": 2, "customers": 1, "buyers": 0}


def test_the_channel_filter_narrows_every_table(traffic):
    stats = acquisition_stats(MetricFilter(start=DAY, end=DAY, channel="Email"))
    assert [r["channel"] for r in stats["channels"]] == ["Email"]
    assert [r["channel"] for r in stats["attribution"]] == ["Email"]
    assert {r["source"] for r in stats["source_medium"]} == {"newsletter"}
    assert stats["people_ignore_channel"] is True
    with pytest.raises(FilterError):
        MetricFilter.from_query({"channel": "Carrier pigeon"})
    assert MetricFilter.from_query({"channel": "Email"}).to_query().endswith("channel=Email")


def test_channel_sentence_only_when_intervals_separate(traffic):
    assert channels_compared([("A", 10, 20), ("B", 9, 20)]) is None  # overlapping intervals: nothing said
    items = [i for i in insights_list(MetricFilter(start=DAY, end=DAY)) if i["kind"] == "channel_conversion"]
    assert len(items) == 1
    assert items[0]["text"].startswith("Email visits convert best (50%") and "Paid Social visits worst" in items[0][
        "text"]
    assert "budget" in items[0]["recommendation"] and "/acquisition/" in items[0]["link"]


def test_api_page_and_csv(traffic, client_for):
    viewer = client_for(Role.VIEWER)
    data = viewer.get("/api/v1/metrics/acquisition" + Q + "&channel=Email").json()
    assert [r["channel"] for r in data["channels"]] == ["Email"] and "freshness" in data
    assert viewer.get("/api/v1/metrics/acquisition?channel=nope").status_code == 400
    assert data["channel_ignored"] is False and "people have no single channel" in data["channel_note"]
    assert viewer.get("/api/v1/metrics/carts" + Q + "&channel=Email").json()["channel_ignored"] is False
    assert viewer.get("/api/v1/metrics/cohorts" + Q + "&channel=Email").json()["channel_ignored"] is True
    assert "channel_ignored" not in viewer.get("/api/v1/metrics/carts" + Q).json()
    page = viewer.get("/acquisition/" + Q).content.decode()
    assert 'data-channel="Email"' in page and "Acquisition" in page and "Email visits convert best" in page
    other = viewer.get("/cohorts/" + Q + "&channel=Email").content.decode()
    assert "they are not cut by channel" in other
    analyst = client_for(Role.ANALYST)
    csv = b"".join(analyst.get("/export/acquisition_channels.csv" + Q).streaming_content).decode()
    assert csv.splitlines()[0].startswith("channel,sessions") and "Email,60,30" in csv
