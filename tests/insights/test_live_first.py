"""Live before bulk: a drain transaction takes the smallest queued batches first and stops at an event
budget, so a visitor's window never waits behind a whole backfill (docs/derivation.md#live-before-bulk)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from insights.models import PendingWindow, Session
from insights.services import analytics_process_pending, pending_take
from tests.factories import CustomerFactory, ProductFactory
from tests.insights.store_fixture import ingest
from tests.insights.test_services import snapshot

pytestmark = pytest.mark.django_db


def queued(events: int, customer: int = 1) -> int:
    return PendingWindow.objects.create(windows={str(customer): [0, 1]}, events=events).pk


def test_the_smallest_batches_are_taken_first_within_the_event_budget():
    bulk = [queued(5000, c) for c in range(1, 5)]
    live = [queued(3, 10), queued(1, 11)]
    taken, more = pending_take(timezone.now(), max_rows=20, max_events=12_000)
    # The two live batches (1 and 3 events) first, then the backfill's batches in queue order up to 12,000.
    assert [pk for pk, _, _ in taken] == [live[1], live[0], bulk[0], bulk[1]]
    assert more
    taken, more = pending_take(timezone.now(), max_rows=3, max_events=10**9)
    assert [pk for pk, _, _ in taken] == [live[1], live[0], bulk[0]] and more


def test_one_batch_over_the_budget_is_still_taken_alone():
    big = queued(50_000)
    taken, more = pending_take(timezone.now(), max_rows=20, max_events=1_000)
    assert [pk for pk, _, _ in taken] == [big] and not more
    assert pending_take(timezone.now(), max_rows=20)[0] == taken


def test_a_drain_cut_by_the_budget_goes_on_until_the_queue_is_empty(monkeypatch):
    import insights.services as services

    monkeypatch.setattr(services, "EVENTS_PER_DRAIN_TRANSACTION", 1)
    CustomerFactory(external_id="a")
    CustomerFactory(external_id="b")
    ProductFactory(external_id="p")
    start = dt.datetime(2024, 5, 6, 8, 0, tzinfo=dt.UTC)
    for i in range(6):  # six ingest batches: six queued rows, each over the one-event budget
        ingest([{"event_id": f"e-{i}-{j}", "customer_id": "ab"[j % 2], "action": "view", "product_id": "p",
                 "timestamp": (start + dt.timedelta(minutes=i * 40 + j)).isoformat()} for j in range(2)])
    assert PendingWindow.objects.count() == 6
    assert analytics_process_pending(max_rows=20) == 6
    assert not PendingWindow.objects.exists()
    assert Session.objects.count() == 12  # each customer: six sessions 40 minutes apart
    incremental = snapshot()
    from insights.rebuild import analytics_rebuild

    analytics_rebuild()
    assert snapshot() == incremental
