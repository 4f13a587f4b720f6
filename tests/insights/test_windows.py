"""Queued windows: merged per customer with the union of the client sessions they name (none named by
one of them: every client session), and kept as ``PendingWindow`` JSON (docs/derivation.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from events.services import ingest_key_create
from insights.models import PendingWindow, Session
from insights.services import analytics_process_pending
from insights.session_store import Window, window_widen, windows_from_json, windows_json, windows_merge
from tests.factories import CustomerFactory
from tests.insights.test_derive_engines import NAMED_STREAM, _stored_then_sent
from tests.insights.test_services import BASE, products_create

T = dt.datetime(2024, 5, 6, 8, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return T + dt.timedelta(seconds=seconds)


def test_merged_windows_name_the_union_of_their_sessions_or_none_when_one_names_none():
    named = windows_merge([(1, _at(10), _at(10), frozenset({"s:a"})), (1, _at(0), _at(5), frozenset({"s:b"})),
                           (2, _at(3), _at(3), frozenset())])
    assert named == {1: Window(_at(0), _at(10), frozenset({"s:a", "s:b"})), 2: Window(_at(3), _at(3), frozenset())}
    assert windows_merge([(2, _at(4), _at(4))], into=named)[2] == Window(_at(3), _at(4), None)
    assert windows_merge([(1, _at(20), _at(20), None), (1, _at(1), _at(1), frozenset({"s:c"}))]) == {
        1: Window(_at(1), _at(20), None)}


def test_widening_keeps_the_sessions_named():
    windows = {1: Window(_at(10), _at(20), frozenset({"s:a"}))}
    assert not window_widen(windows, 1, _at(12), _at(18))
    assert window_widen(windows, 1, _at(5), _at(18))
    assert windows == {1: Window(_at(5), _at(20), frozenset({"s:a"}))}


def test_json_keeps_whole_seconds_widened_outwards_and_the_names():
    windows = {7: Window(_at(0.4), _at(9.2), frozenset({"s:b", "s:a"})), 8: Window(_at(3), _at(3))}
    stored = windows_json(windows)
    start = int(T.timestamp())
    assert stored == {"7": [start, start + 10, ["s:a", "s:b"]], "8": [start + 3, start + 3]}
    assert windows_from_json([stored]) == {7: Window(_at(0), _at(10), frozenset({"s:a", "s:b"})),
                                           8: Window(_at(3), _at(3), None)}
    # rows queued before windows named their sessions, merged with a named one: every client session
    assert windows_from_json([{"7": [start, start + 1]}, stored])[7] == Window(_at(0), _at(10), None)


@pytest.mark.django_db
def test_a_window_ingest_queues_reads_only_the_sessions_it_names():
    """Client sessions "a" (minutes 0 to 40) and "b" (10 to 20) stored, then a view of "a" at 41: its
    window names "a", and the reference path reads "a"'s events and replaces "a" only (on either database)."""
    from insights.services import _sessions_reached

    products_create(prefix="e")
    CustomerFactory(external_id="e1", age=30)
    ingest_key_create(name="storefront", public=True, origins=["https://shop.test"])
    customer = _stored_then_sent(NAMED_STREAM, 4)
    late = BASE + dt.timedelta(minutes=41)
    queued = windows_from_json(PendingWindow.objects.values_list("windows", flat=True))
    assert queued == {customer: Window(late, late, frozenset({"s:a"}))}
    reach, events = _sessions_reached(queued)
    assert reach.windows == {customer: Window(BASE, late, frozenset({"s:a"}))}
    assert sorted(s.key for s in reach.stored.values()) == ["s:a"]
    assert [e.session_id for e in events] == ["a", "a", "a"]
    analytics_process_pending()
    assert sorted(Session.objects.values_list("key", "event_count")) == [("s:a", 3), ("s:b", 2)]
