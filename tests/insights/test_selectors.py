"""Every DESIGN §4 metric pinned on the hand-built store (tests/insights/store_fixture.py), through the
real ingest path. The expected figures are worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from insights import selectors, sentences
from insights.filters import MetricFilter
from insights.models import Cart, Session
from insights.shaping import carts_shaped, customer_detail_shaped, customers_shaped
from insights.stats import wilson_interval
from tests.insights.store_fixture import DAY, LATE, build_store, ingest

F = MetricFilter(start=DAY, end=DAY)
pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return build_store()


def by(rows, key):
    return {r[key]: r for r in rows}


def test_sessions_and_carts_derived(store):
    # A1 A2 B1 B2 C1 C2 D1; A's 31-minute gap split A1 from A2.
    assert Session.objects.count() == 7
    a = store["customers"]["A"]
    counts = Session.objects.filter(customer=a).order_by("started_at").values_list("event_count", flat=True)
    assert list(counts) == [5, 2]
    states = sorted(Cart.objects.values_list("state", flat=True))
    assert states == ["abandoned", "abandoned", "converted", "converted", "emptied"]
    b2 = Cart.objects.get(session__key="s:b-2")
    assert b2.state == "abandoned" and b2.items == 2 and float(b2.value) == 200.0
    assert b2.closed_at == dt.datetime(2024, 3, 4, 12, 3, tzinfo=dt.UTC)  # the explicit abandon


def test_late_event_rederives_its_session(db):
    build_store(late=False)
    c2 = Session.objects.get(customer__external_id="C", started_at__hour=15)
    assert c2.funnel_step == 0  # add, checkout, purchase with no view before them
    ingest([LATE])
    from insights.services import analytics_process_pending

    analytics_process_pending()
    c2 = Session.objects.get(customer__external_id="C", started_at__hour=14)
    assert c2.funnel_step == 4 and c2.event_count == 4
    assert Session.objects.count() == 7


def test_kpis(store):
    k = selectors.kpis_stats(F)
    assert k["events"] == 23  # 22 distinct + 1 late; the duplicate is stored once
    assert k["customers"] == 4
    assert k["sessions"] == 7
    assert k["revenue"] == 210.0  # 100 + 2×20 (o-1) + 50 (C2) + 20 (o-2)
    assert k["orders"] == 3  # o-1, C2's order without id, o-2
    assert k["aov"] == 70.0  # 210 / 3
    assert k["cart_conversion_rate"] == pytest.approx(2 / 5)  # A1, C2 of A1 A2 B1 B2 C2
    assert k["cart_abandonment_rate"] == pytest.approx(2 / 5)  # A2 (idle), B2 (abandon event)
    assert k["session_conversion_rate"] == pytest.approx(3 / 7)  # A1, C2, D1
    assert k["avg_clv"] == 70.0  # 210 / 3 purchasing customers
    assert k["previous"]["events"] == 0 and k["previous"]["cart_conversion_rate"] is None


def test_active_customers_from_the_people_bitmaps_match_a_distinct_count(store):
    """The KPI row's active customers and buyers come from the per-day people bitmaps (insights.people):
    the same customers as a distinct count over the day × customer rows, idle customers never counted,
    with or without an age group, over one day or many."""
    from customers.models import Customer
    from insights.models import CustomerDaily

    Customer.objects.create(external_id="idle", name="Never Here", age=30)  # 26-35, no events
    for extra in ({}, {"age_group": "26-35"}):
        for f in (MetricFilter(start=DAY, end=DAY, **extra),
                  MetricFilter(start=DAY - dt.timedelta(days=60), end=DAY + dt.timedelta(days=2), **extra)):
            rows = CustomerDaily.objects.filter(day__gte=f.start, day__lte=f.end)
            if f.age_group:
                rows = rows.filter(customer_id__in=Customer.objects.filter(age_group=f.age_group).values("pk"))
            k = selectors.kpis_stats(f)
            assert k["customers"] == rows.filter(events__gt=0).values("customer_id").distinct().count()
            assert round(k["revenue"] / k["avg_clv"]) == rows.filter(revenue__gt=0).values(
                "customer_id").distinct().count()
    assert selectors.kpis_stats(MetricFilter(start=DAY, end=DAY))["customers"] == 4
    assert selectors.kpis_stats(MetricFilter(start=DAY, end=DAY, age_group="26-35"))["customers"] == 1


def test_kpis_filtered(store):
    k = selectors.kpis_stats(MetricFilter(start=DAY, end=DAY, category="clothing"))
    # p2 events: A1 purchase, A2 view+add, B1 add+remove, C1 view, D1 view+purchase.
    assert k["events"] == 8 and k["revenue"] == 60.0
    assert k["sessions"] == 5  # A1 A2 B1 C1 D1 touched clothing
    assert k["orders"] == 2  # o-1 and o-2 hold a clothing line
    k = selectors.kpis_stats(MetricFilter(start=DAY, end=DAY, age_group="26-35", actions=("view",)))
    assert k["events"] == 2 and k["sessions"] == 2 and k["revenue"] == 140.0
    k = selectors.kpis_stats(MetricFilter(start=DAY, end=DAY, segment="New"))  # D only
    assert (k["customers"], k["sessions"], k["revenue"], k["orders"]) == (1, 1, 20.0, 1)


def test_funnel(store):
    fu = selectors.funnel_stats(F)
    steps = by(fu["steps"], "step")
    assert [s["sessions"] for s in fu["steps"]] == [7, 5, 2, 2]
    assert steps["add_to_cart"]["rate_from_previous"] == pytest.approx(5 / 7)
    assert steps["checkout"]["rate_from_previous"] == pytest.approx(2 / 5)
    assert steps["purchase"]["rate_from_previous"] == 1.0
    assert steps["purchase"]["rate_from_first"] == pytest.approx(2 / 7)
    assert steps["view"]["rate_from_previous"] is None
    # Drop-off at add_to_cart: A2's 20 + B2's 200 still in unconverted carts (B1 was emptied).
    assert steps["add_to_cart"]["dropoff_revenue"] == 220.0 and steps["checkout"]["dropoff_revenue"] == 0.0
    fb = selectors.funnel_stats(F, breakdown="age_group")
    groups = {g["group"]: [s["sessions"] for s in g["steps"]] for g in fb["breakdown"]["groups"]}
    assert groups == {"18-25": [2, 1, 1, 1], "26-35": [2, 2, 1, 1], "36-45": [2, 2, 0, 0], "unknown": [1, 0, 0, 0]}
    fc = selectors.funnel_stats(F, breakdown="category")
    groups = {g["group"]: g["steps"][0]["sessions"] for g in fc["breakdown"]["groups"]}
    assert groups == {"clothing": 5, "electronics": 2, "jewelery": 3}


def test_seasonality(store):
    s = selectors.seasonality_stats(F)
    hours = by(s["hour"], "hour")
    assert [hours[h]["events"] for h in range(10, 17)] == [7, 5, 3, 2, 1, 4, 1]
    assert [hours[h]["sessions"] for h in range(10, 17)] == [2, 1, 1, 1, 1, 1, 0]
    assert hours[10]["orders"] == 1 and hours[10]["revenue"] == 140.0 and hours[10]["conversion"] == 0.5
    assert hours[15]["revenue"] == 50.0 and hours[16]["revenue"] == 20.0 and hours[14]["conversion"] == 1.0
    monday = s["weekday"][0]
    assert monday["label"] == "Mon" and (monday["events"], monday["sessions"], monday["orders"]) == (23, 7, 3)
    assert monday["revenue"] == 210.0 and monday["conversion"] == pytest.approx(3 / 7)
    assert s["month"][2]["events"] == 23 and s["month"][3]["events"] == 0
    wh = {(r["weekday"], r["hour"]): r["events"] for r in s["weekday_hour"]}
    assert wh[(0, 10)] == 7 and sum(wh.values()) == 23


def test_seasonality_in_store_time_zone(store):
    with override_settings(STORE_TIME_ZONE="America/New_York"):  # UTC−5 in early March
        s = selectors.seasonality_stats(MetricFilter(start=DAY, end=DAY))
        assert s["time_zone"] == "America/New_York"
        hours = by(s["hour"], "hour")
        assert hours[5]["events"] == 7 and hours[11]["events"] == 1


def test_customers(store):
    c = selectors.customers_stats(F)
    ages = by(c["age_groups"], "age_group")
    assert (ages["26-35"]["customers"], ages["26-35"]["sessions"], ages["26-35"]["purchasing_sessions"]) == (1, 2, 1)
    assert ages["26-35"]["conversion"] == 0.5 and ages["26-35"]["revenue"] == 140.0
    assert ages["36-45"]["conversion"] == 0.0 and ages["unknown"]["conversion"] == 1.0
    assert (ages["26-35"]["ci_low"], ages["26-35"]["ci_high"]) == wilson_interval(1, 2)
    assert ages["66+"]["conversion"] is None and ages["66+"]["ci_low"] is None
    top = c["top_customers"]
    assert [t["customer_id"] for t in top] == ["A", "C", "D"]
    assert top[0]["name"] == "Alice Archer" and top[0]["revenue"] == 140.0 and top[0]["orders"] == 1
    clv = {b["bucket_low"]: b["customers"] for b in c["clv_distribution"]}
    assert clv[0] == 1 and clv[50] == 1 and clv[100] == 1 and sum(clv.values()) == 3
    # RFM: recency A<C<D, orders all 1, revenue D<C<A → A "At risk", C "Hibernating", D "New".
    rfm = {r["segment"]: (r["customers"], r["revenue"]) for r in c["rfm"]}
    assert rfm["At risk"] == (1, 140.0) and rfm["Hibernating"] == (1, 50.0) and rfm["New"] == (1, 20.0)
    assert rfm["Champions"] == (0, 0.0)
    masked = customers_shaped(selectors.customers_stats(F), masked=True)["top_customers"][0]
    assert masked["name"] == "A*** A***" and masked["email"] == "a***@example.com"


def test_customer_detail(store):
    a = store["customers"]["A"]
    d = customer_detail_shaped(selectors.customer_detail(a.pk), masked=True)
    assert d["profile"]["name"] == "A*** A***" and d["profile"]["revenue"] == 140.0
    assert [k["state"] for k in d["carts"]] == ["abandoned", "converted"]
    assert [o["order"] for o in d["orders"]] == ["o-1"]
    assert len(d["timeline"]) == 7 and d["timeline"][0]["action"] == "add_to_cart"
    assert selectors.customer_detail(a.pk)["profile"]["email"] == "alice@example.com"


def test_products(store):
    p = selectors.products_stats(F)
    views = {r["product_id"]: r["views"] for r in p["most_viewed"]}
    assert views == {"p1": 2, "p2": 3, "p3": 3}
    rev = {r["product_id"]: (r["revenue"], r["units"]) for r in p["top_revenue"]}
    assert rev == {"p1": (100.0, 1), "p2": (60.0, 3), "p3": (50.0, 1)}
    assert p["top_revenue"][0]["product_id"] == "p1"
    assert {r["product_id"]: r["abandoned_carts"] for r in p["most_abandoned"]} == {"p1": 1, "p2": 1}
    ab = {r["product_id"]: (r["carts"], r["abandoned_carts"], r["rate"]) for r in p["abandonment_rate"]}
    assert ab == {"p1": (2, 1, 0.5), "p2": (2, 1, 0.5), "p3": (2, 0, 0.0)}
    conv = {r["product_id"]: r for r in p["conversion"]}
    assert (conv["p1"]["cart_to_view"], conv["p1"]["purchase_to_view"]) == (1.0, 0.5)
    assert conv["p2"]["cart_to_view"] == pytest.approx(2 / 3) and conv["p2"]["purchase_to_view"] == pytest.approx(2 / 3)
    assert conv["p3"]["cart_to_view"] == pytest.approx(2 / 3) and conv["p3"]["purchase_to_view"] == pytest.approx(1 / 3)


def test_carts(store):
    c = selectors.carts_stats(F)
    assert c["over_time"] == [{"t": "2024-03-04", "converted": 2, "abandoned": 2, "emptied": 1,
                               "abandonment_rate": 0.4}]
    assert c["revenue_left"] == 220.0
    dist = {b["bucket_low"]: b["carts"] for b in c["value_distribution"]}
    assert dist == {0: 2, 25: 0, 50: 1, 100: 1, 200: 1, 500: 0, 1000: 0}
    ages = {r["age_group"]: (r["carts"], r["abandoned"], r["rate"]) for r in c["by_age_group"]}
    assert ages == {"18-25": (1, 0, 0.0), "26-35": (2, 1, 0.5), "36-45": (2, 1, 0.5)}
    cats = {r["category"]: (r["carts"], r["abandoned"]) for r in c["by_category"]}
    assert cats == {"clothing": (2, 1), "electronics": (2, 1), "jewelery": (2, 0)}
    recent = c["recent_abandoned"]
    assert [(r["customer_id"], r["value"], r["items"]) for r in recent] == [("B", 200.0, 2), ("A", 20.0, 1)]
    assert recent[0]["abandoned_at"].startswith("2024-03-04T12:03")
    masked = carts_shaped(selectors.carts_stats(F), masked=True)["recent_abandoned"][0]
    assert masked["customer_name"] == "B*** B***" and masked["customer_email"] == "b***@example.com"


def test_timeseries(store):
    ts = selectors.events_timeseries(F)
    assert ts["grain"] == "hour" and len(ts["points"]) == 24
    assert ts["points"][10] == {"t": "2024-03-04T10:00:00+00:00", "events": 7, "orders": 1, "revenue": 140.0,
                                "gross_revenue": 140.0}
    week = selectors.events_timeseries(MetricFilter(start=DAY - dt.timedelta(days=6), end=DAY))
    assert week["grain"] == "day" and len(week["points"]) == 7
    assert week["points"][-1] == {"t": "2024-03-04", "events": 23, "orders": 3, "revenue": 210.0,
                                  "gross_revenue": 210.0}


def test_events_latest_and_choices(store):
    latest = selectors.events_latest(5)
    assert latest[0]["event_id"] == "fx-023" and len(latest) == 5
    choices = selectors.filter_choices()
    assert choices["categories"] == ["clothing", "electronics", "jewelery"] and "Champions" in choices["segments"]


def test_insights_say_nothing_from_too_little_data(store):
    assert sentences.insights_list(F) == []


# --- honest comparisons (issue 10) ---------------------------------------------------------------

NEXT = MetricFilter(start=DAY + dt.timedelta(days=1), end=DAY + dt.timedelta(days=1))


def test_no_comparison_with_a_period_before_the_data_starts(store):
    # F's previous period is 3 March; the history starts on 4 March.
    k = selectors.kpis_stats(F)
    assert k["previous"]["comparison"] == {"available": False, "reason": "data starts 2024-03-04",
                                           "data_starts": "2024-03-04"}
    assert k["previous"]["events"] == 0  # the previous figures are still given, as they are
    from insights import charts

    for card in charts.kpi_cards(k):
        assert card["change"] is None and card["change_text"] == ""
        assert card["note"] == "no comparison: data starts 4 Mar 2024"


def test_comparison_with_a_covered_previous_period(store):
    # 5 March against 4 March: covered from its first day. Nothing happened on the 5th.
    k = selectors.kpis_stats(NEXT)
    assert k["previous"]["comparison"] == {"available": True, "reason": None, "data_starts": "2024-03-04"}
    from insights import charts

    cards = {c["key"]: c for c in charts.kpi_cards(k)}
    assert cards["events"]["change_text"] == "-100%" and cards["events"]["good"] is False
    assert cards["aov"]["note"] == "$70.00 in prev. period"  # no orders now: no AOV to compare
    assert cards["cart_abandonment_rate"]["note"] == "40.0% in prev. period"


def test_a_zero_previous_value_gives_no_percentage(store):
    # One view on 2 March moves the start of the data before F's previous period (3 March, empty).
    ingest([{"event_id": "early-1", "customer_id": "D", "action": "view", "product_id": "p2",
             "timestamp": "2024-03-02T09:00:00Z"}])
    from insights import charts
    from insights.services import analytics_process_pending

    analytics_process_pending()
    k = selectors.kpis_stats(F)
    assert k["previous"]["comparison"]["available"] is True
    cards = {c["key"]: c for c in charts.kpi_cards(k)}
    assert cards["events"]["value"] == 23 and cards["events"]["note"] == "0 in prev. period"
    assert cards["events"]["change"] is None and cards["events"]["change_text"] == ""
    assert cards["revenue"]["note"] == "$0.00 in prev. period"
    assert cards["cart_conversion_rate"]["note"] == "none in prev. period"  # no closed carts on 3 March


def test_open_range_and_empty_store_have_no_comparison(db):
    assert selectors.previous_period_comparison(F) == {"available": False, "reason": "no data yet",
                                                       "data_starts": None}
    assert selectors.previous_period_comparison(MetricFilter())["available"] is False


def _orders(day: dt.date, n: int, prefix: str) -> list[dict]:
    return [{"event_id": f"{prefix}-{i}", "customer_id": f"{prefix}{i}", "action": "purchase", "product_id": "p1",
             "product_price": "10.00", "order_id": f"{prefix}-o{i}", "timestamp": f"{day.isoformat()}T12:{i:02d}:00Z"}
            for i in range(n)]


def test_cards_and_revenue_trend_follow_the_same_rule(db):
    """One rule for the cards and the insights sentence: 20 orders on day 1, 30 on day 2."""
    from insights import charts
    from insights.services import analytics_process_pending
    from tests.insights.store_fixture import make_catalogue

    make_catalogue()
    day1, day2 = DAY, DAY + dt.timedelta(days=1)
    ingest(_orders(day1, 20, "a") + _orders(day2, 30, "b"))
    analytics_process_pending()

    covered = MetricFilter(start=day2, end=day2)  # previous: day 1, where the data starts
    revenue = {c["key"]: c for c in charts.kpi_cards(selectors.kpis_stats(covered))}["revenue"]
    assert revenue["change_text"] == "+50%"
    trend = {i["kind"]: i for i in sentences.insights_list(covered)}["revenue_trend"]
    assert trend["figure"] == "50%" and "up 50%" in trend["text"]

    partly = MetricFilter(start=day2, end=day2 + dt.timedelta(days=1))  # previous: the day before day 1 and day 1
    revenue = {c["key"]: c for c in charts.kpi_cards(selectors.kpis_stats(partly))}["revenue"]
    assert revenue["change"] is None and revenue["note"] == "no comparison: data starts 4 Mar 2024"
    assert "revenue_trend" not in {i["kind"] for i in sentences.insights_list(partly)}


# --- freshness (issue 10) ------------------------------------------------------------------------


def test_nothing_waiting_says_nothing(store):
    assert selectors.derivation_status() == {"pending_events": 0, "pending_batches": 0, "derived_through": None,
                                             "lag_seconds": 0, "set_aside_windows": 0, "message": None}


def test_events_waiting_to_be_derived_are_counted(db):
    from insights.models import PendingWindow
    from insights.services import analytics_process_pending
    from tests.insights.store_fixture import DUPLICATE, MAIN, make_catalogue

    make_catalogue()
    ingest(MAIN)  # 22 new events: one queued batch
    ingest([DUPLICATE])  # nothing new: nothing queued
    ingest([LATE])
    # Just queued: counted exactly, but the live path derives within seconds, so no message yet.
    fresh = selectors.derivation_status()
    assert (fresh["pending_events"], fresh["pending_batches"], fresh["message"]) == (23, 2, None)
    assert fresh["lag_seconds"] < selectors.FRESHNESS_GRACE_SECONDS
    first = PendingWindow.objects.order_by("id").first()
    at = dt.datetime(2026, 11, 20, 14, 2, 31, tzinfo=dt.UTC)
    PendingWindow.objects.filter(pk=first.pk).update(created_at=at)
    status = selectors.derivation_status()
    assert (status["pending_events"], status["pending_batches"]) == (23, 2)
    assert status["derived_through"] == at.isoformat()
    assert status["message"] == ("Sessions, carts and orders include events received up to 20 Nov 14:02 UTC; "
                                 "23 events being processed.")
    with override_settings(STORE_TIME_ZONE="America/New_York"):
        assert "up to 20 Nov 09:02 EST;" in selectors.derivation_status()["message"]
    # Received today: the time alone.
    from django.utils import timezone

    earlier = timezone.now() - dt.timedelta(seconds=30)
    PendingWindow.objects.filter(pk=first.pk).update(created_at=earlier)
    status = selectors.derivation_status()
    assert 30 <= status["lag_seconds"] < 60
    if earlier.date() == timezone.now().date():  # not across midnight
        assert f"up to {earlier:%H:%M} UTC; 23 events being processed." in status["message"]

    analytics_process_pending()
    assert selectors.derivation_status()["pending_batches"] == 0
