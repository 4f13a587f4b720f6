"""``insights.catch_up``: a bulk load's command derives what was queued when it finished, and only
that (docs/derivation.md): windows queued meanwhile by live traffic are left to the worker."""

from __future__ import annotations

import pytest

from events.services import events_ingest
from insights.catch_up import derivation_catch_up
from insights.models import PendingWindow, Session


def _batch(customer: str, prefix: str, n: int = 3) -> list[dict]:
    return [{"event_id": f"{prefix}-{i}", "customer_id": customer, "action": "view", "product_id": "p-1",
             "product_price": 5, "timestamp": f"2024-03-01T10:0{i}:00Z"} for i in range(n)]


@pytest.mark.django_db
def test_catch_up_derives_what_was_queued_and_leaves_what_came_after():
    events_ingest(raw_events=_batch("old-1", "a"), broadcast=False)
    events_ingest(raw_events=_batch("old-2", "b"), broadcast=False)
    queued_before = set(PendingWindow.objects.values_list("id", flat=True))
    assert len(queued_before) == 2
    reports: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:  # live traffic arrives while the command derives
        reports.append((done, total))
        if len(reports) == 1:
            events_ingest(raw_events=_batch("live-1", "c"), broadcast=False)

    assert derivation_catch_up(progress=progress) == 6
    left = list(PendingWindow.objects.values_list("id", flat=True))
    assert len(left) == 1 and left[0] not in queued_before  # the live window waits for the worker
    assert set(Session.objects.values_list("customer__external_id", flat=True)) == {"old-1", "old-2"}
    assert reports[0] == (6, 6)


@pytest.mark.django_db
def test_catch_up_with_nothing_queued_does_nothing():
    assert derivation_catch_up() == 0
    assert not Session.objects.exists()
