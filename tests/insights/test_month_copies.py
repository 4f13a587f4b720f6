"""The month copies of rollups (insights.month_copies, docs/derivation.md#month-copies-of-the-rollups):
seasonality, carts, the KPIs, products and the insight sentences read with them equal the same panels
read from the rollups alone (the reference), over whole and partial months, every filter, a time zone
with daylight saving whose days straddle UTC's; and the copies stay honest: a late write to a copied
month, a time zone change and a rebuild are seen at once (the copy is not read until refreshed), and
live traffic notes nothing. PostgreSQL (the triggers)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from customers.models import Customer
from events.services import events_ingest
from insights import selectors
from insights.copy_models import EventSlotMonthly, MonthCopy, MonthCopyNote, SessionSlotMonthly
from insights.filters import MetricFilter
from insights.models import CustomerTotals, Session
from insights.month_copies import SOURCES, month_copies_refresh
from insights.rebuild import analytics_rebuild
from insights.selectors import _common, acquisition, channel_people, seasonality
from insights.sentences import insights_list
from insights.services import analytics_process_pending
from tests.insights import test_segment_rollup

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="the note triggers are PostgreSQL's")]

TZ = "Australia/Sydney"  # UTC+11 until 7 April 2024, then +10: the stream's evenings are the next local day
START = dt.datetime(2024, 2, 20, 8, 0, tzinfo=dt.UTC)
FILTERS = (MetricFilter(), MetricFilter(start=dt.date(2024, 3, 15), end=dt.date(2024, 5, 20)),
           MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 4, 30), age_group="26-35"),
           MetricFilter(channel="Direct"), MetricFilter(actions=["purchase"]),
           MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 6, 30), actions=["view", "refund"]),
           MetricFilter(channel="Direct", age_group="36-50"), MetricFilter(channel="Direct", actions=["view"]),
           MetricFilter(channel="Email", start=dt.date(2024, 2, 25), end=dt.date(2024, 6, 2)),
           MetricFilter(category="shoes"), MetricFilter(category="hats", channel="Email", age_group="26-35"))


def views(f: MetricFilter) -> dict:
    return {"seasonality": selectors.seasonality_stats(f),
            "by_slot": sorted(seasonality.events_by_slot(f, revenue=False)), "carts": selectors.carts_stats(f),
            "kpis": selectors.kpis_stats(f), "products": selectors.products_stats(f), "insights": insights_list(f),
            "customers": selectors.customers_stats(f)["age_groups"], "acquisition": selectors.acquisition_stats(f)}


def reference(f: MetricFilter, monkeypatch) -> dict:
    with monkeypatch.context() as m:
        for module in (seasonality, _common, channel_people, acquisition):
            m.setattr(module, "copied_months", lambda source, f: [])
        return views(f)


def copied(f: MetricFilter, source: str = "events") -> list:
    return [month for month, _lo, _hi in _common.copied_months(source, f)]


def assert_same(monkeypatch) -> None:
    for f in FILTERS:
        assert views(f) == reference(f, monkeypatch), f


EMAIL = {"utm_source": "newsletter", "utm_medium": "email"}


def ingest_with_channels(*, raw_events: list[dict], broadcast: bool):
    """``events_ingest``, the even-numbered customers' events from an e-mail campaign (the rest Direct)."""
    return events_ingest(raw_events=[e | {"context": EMAIL} if int(e["customer_id"][1:]) % 2 == 0 else e
                                     for e in raw_events], broadcast=broadcast)


@pytest.fixture
def stream(monkeypatch):
    monkeypatch.setattr(test_segment_rollup, "T0", START)
    monkeypatch.setattr(test_segment_rollup, "events_ingest", ingest_with_channels)
    with override_settings(STORE_TIME_ZONE=TZ):
        test_segment_rollup.load_stream(7, days=110)  # 20 February to 9 June, refunds a day later
        yield


def test_seasonality_from_the_copies_equals_the_hourly_rows(stream, monkeypatch):
    month_copies_refresh()
    months = [dt.date(2024, m, 1) for m in (2, 3, 4, 5, 6)]
    for source in SOURCES:
        assert sorted(MonthCopy.objects.filter(source=source).values_list("month", flat=True)) == months, source
        assert copied(FILTERS[0], source) == months
        assert copied(FILTERS[1], source) == [dt.date(2024, 4, 1)]  # whole months inside the period only
    assert EventSlotMonthly.objects.filter(action="*", age_group="*").exists()
    assert SessionSlotMonthly.objects.filter(channel="*", age_group="*").exists()
    assert_same(monkeypatch)
    # the first and last months are partial: a period from before the first row to after the last ("all
    # history") reads their copies too; one starting after February's first row or ending before June's
    # last does not
    around = MetricFilter(start=dt.date(2024, 2, 10), end=dt.date(2024, 6, 20))
    inside = MetricFilter(start=dt.date(2024, 2, 21), end=dt.date(2024, 6, 3))
    for source in SOURCES:
        assert copied(around, source) == months, source
    for source in ("events", "sessions", "session_days", "channel_people", "people"):
        assert copied(inside, source) == months[1:4], source
    for f in (around, inside, MetricFilter(start=around.start, end=around.end, channel="Email", age_group="26-35"),
              MetricFilter(start=around.start, end=inside.end, actions=("purchase", "refund"))):
        assert views(f) == reference(f, monkeypatch), f
    grid = selectors.seasonality_stats(FILTERS[0])
    assert sum(r["events"] for r in grid["hour"]) > 250 and sum(r["sessions"] for r in grid["hour"]) > 50
    assert sum(r["revenue"] for r in grid["month"]) > 0  # the comparison compared something
    email = selectors.seasonality_stats(MetricFilter(channel="Email"))
    assert 0 < sum(r["sessions"] for r in email["hour"]) < sum(r["sessions"] for r in grid["hour"])
    carts = selectors.carts_stats(FILTERS[0])
    assert len(carts["by_category"]) == 3 and sum(b["carts"] for b in carts["value_distribution"]) > 10
    kpis, products = selectors.kpis_stats(FILTERS[0]), selectors.products_stats(FILTERS[0])
    assert kpis["orders"] > 10 and kpis["refunds"] > 0 and len(products["top_revenue"]) == 3
    # a channel's people from the month bitmaps: the even customers came by e-mail, the odd ones directly
    assert channel_people.channel_people(MetricFilter(channel="Email")) is not None
    for channel, parity in (("Email", 0), ("Direct", 1)):
        came = set(Session.objects.filter(channel=channel).values_list("customer__external_id", flat=True))
        assert {int(c[1:]) % 2 for c in came} == {parity}
        assert selectors.kpis_stats(MetricFilter(channel=channel))["customers"] == len(came) > 5


def test_a_late_write_is_read_from_the_hourly_rows_until_the_refresh(stream, monkeypatch):
    month_copies_refresh()
    late = {"event_id": "late-1", "customer_id": "c1", "action": "view", "product_id": "q1",
            "timestamp": "2024-04-10T03:00:00+00:00"}
    assert not events_ingest(raw_events=[late], broadcast=False).rejected
    assert set(MonthCopyNote.objects.values_list("source", "day")) == {("events", dt.date(2024, 4, 10)),
                                                                       ("event_days", dt.date(2024, 4, 10))}
    assert dt.date(2024, 4, 1) not in copied(FILTERS[0])
    assert_same(monkeypatch)  # the new view is counted, from the hourly rows
    with monkeypatch.context() as m:  # its session derived, the copies not refreshed yet
        m.setattr("insights.services.month_copies_refresh", lambda: 0)
        analytics_process_pending()
    assert {("sessions", dt.date(2024, 4, 10)), ("session_days", dt.date(2024, 4, 10)),
            ("channel_people", dt.date(2024, 4, 10))} <= set(
        MonthCopyNote.objects.values_list("source", "day"))
    assert dt.date(2024, 4, 1) not in copied(FILTERS[0], "session_days")
    assert dt.date(2024, 4, 1) not in copied(FILTERS[0], "channel_people")
    assert_same(monkeypatch)
    month_copies_refresh()
    assert not MonthCopyNote.objects.exists()
    assert dt.date(2024, 4, 1) in copied(FILTERS[0]) and dt.date(2024, 4, 1) in copied(FILTERS[0], "session_days")
    assert_same(monkeypatch)


def test_a_buyers_new_first_touch_is_read_from_the_buyer_days_until_the_refresh(stream, monkeypatch):
    """A late visit from an e-mail before a Direct buyer's first session makes e-mail their first touch:
    their buyer days' month copies are noted, and first-touch revenue moves with them."""
    month_copies_refresh()
    before = {r["channel"]: r for r in selectors.acquisition_stats(FILTERS[0])["attribution"]}
    buyer = Customer.objects.get(pk=CustomerTotals.objects.filter(revenue__gt=0, first_channel="Direct")
                                 .order_by("customer_id").values_list("customer_id", flat=True)[0])
    first = {"event_id": "first-1", "customer_id": buyer.external_id, "action": "view", "product_id": "q1",
             "timestamp": "2024-02-19T03:00:00+00:00", "context": EMAIL}
    assert not events_ingest(raw_events=[first], broadcast=False).rejected
    with monkeypatch.context() as m:
        m.setattr("insights.services.month_copies_refresh", lambda: 0)
        analytics_process_pending()
    assert CustomerTotals.objects.get(customer_id=buyer.pk).first_channel == "Email"
    assert "first_touch" in set(MonthCopyNote.objects.values_list("source", flat=True))
    assert_same(monkeypatch)
    after = {r["channel"]: r for r in selectors.acquisition_stats(FILTERS[0])["attribution"]}
    assert after["Email"]["first_touch_buyers"] == before["Email"]["first_touch_buyers"] + 1
    assert after["Email"]["first_touch_revenue"] > before["Email"]["first_touch_revenue"]
    month_copies_refresh()
    assert not MonthCopyNote.objects.exists()
    assert_same(monkeypatch)


def test_a_time_zone_change_leaves_the_copies_unread_until_recopied(stream, monkeypatch):
    month_copies_refresh()
    with override_settings(STORE_TIME_ZONE="America/New_York"):
        assert copied(FILTERS[0]) == []
        assert_same(monkeypatch)
        month_copies_refresh()
        assert set(MonthCopy.objects.values_list("time_zone", flat=True)) == {"America/New_York", ""}
        assert copied(FILTERS[0])
        assert_same(monkeypatch)


def test_a_rebuild_recopies_and_live_traffic_notes_nothing(stream, monkeypatch):
    analytics_rebuild()
    assert not MonthCopyNote.objects.exists() and copied(FILTERS[0])
    assert_same(monkeypatch)
    now = timezone.now()
    live = {"event_id": "live-1", "customer_id": "c2", "action": "view", "product_id": "q1",
            "timestamp": now.isoformat()}
    assert not events_ingest(raw_events=[live], broadcast=False).rejected
    assert not MonthCopyNote.objects.exists()


def test_notes_of_months_not_copied_are_dropped_by_the_refresh(stream, monkeypatch):
    """Three days late, this month: noted (more than a day old), but no copy of its month exists, so the
    refresh drops the notes instead of keeping them (and reading the rollups' span) until the month closes."""
    def late(n: int) -> dict:
        return {"event_id": f"late-{n}", "customer_id": "c3", "action": "view", "product_id": "q2",
                "timestamp": (timezone.now() - dt.timedelta(days=3)).isoformat()}

    assert not events_ingest(raw_events=[late(1)], broadcast=False).rejected
    month_copies_refresh()  # the months up to the last closed one copied (those without rows too)
    copies = set(MonthCopy.objects.values_list("source", "month"))
    assert not events_ingest(raw_events=[late(2)], broadcast=False).rejected
    assert {"events", "event_days"} <= set(MonthCopyNote.objects.values_list("source", flat=True))
    assert month_copies_refresh() == 0
    assert not MonthCopyNote.objects.exists() and set(MonthCopy.objects.values_list("source", "month")) == copies
    assert_same(monkeypatch)
