"""A set-based rebuild and a drain with helper connections (insights.derive_helpers,
docs/derivation.md#helper-connections) leave the same sessions, carts, rollups and people bitmaps as one
connection alone, whichever connection derived a batch, and when a helper fails. The helpers are real
PostgreSQL connections, so the store is committed (a test transaction's rows are invisible to them)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from django.db import connection, transaction
from django.test import override_settings

from customers.models import Customer
from events.models import Event
from insights import derive_helpers, derive_sql_delta, rebuild_sql
from insights.services import analytics_process_pending
from tests.insights.store_fixture import DUPLICATE, LATE, MAIN, _e, build_store, ingest, make_catalogue
from tests.insights.test_rebuild_sql import _rebuilt as rebuilt_by
from tests.insights.test_services import derived_and_events_clear, snapshot

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL rebuild runs on PostgreSQL")]

AS_OF = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _rebuilt(workers: int) -> dict:
    with override_settings(DERIVATION_WORKERS=workers):
        return rebuilt_by("sql", AS_OF)


def _both_derive(monkeypatch, module, name: str) -> tuple[list[int], list[int]]:
    """Spies: the batches handed over by helpers, and the derivation's own (``module.name`` called in
    this thread), which waits until a helper has handed one over, so that both derive some."""
    taken: list[int] = []
    mine: list[int] = []
    handed = threading.Event()
    take, derive, own = derive_helpers.Helpers.take, derive_helpers.Helpers._derive, getattr(module, name)
    tester = threading.get_ident()  # a rebuild's helpers derive by the same function, in their threads
    monkeypatch.setattr(derive_helpers.Helpers, "take",
                        lambda self, cur, batch: (taken.append(batch.number), take(self, cur, batch))[1])
    monkeypatch.setattr(derive_helpers.Helpers, "_derive",
                        lambda self, batch: (derive(self, batch), handed.set())[0])

    def own_waiting(*args, **kwargs):
        if threading.get_ident() == tester:
            handed.wait(30)
            mine.append(1)
        return own(*args, **kwargs)

    monkeypatch.setattr(module, name, own_waiting)
    return taken, mine


def _stage_tables() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s", [derive_helpers.STAGE + "%"])
        return [r[0] for r in cur.fetchall()]


def test_helpers_derive_the_same_store(monkeypatch, caplog):
    build_store()
    monkeypatch.setattr("insights.rebuild_sql.BATCH_EVENTS", 3)  # many batches of whole customers
    alone = _rebuilt(0)
    assert alone["counts"]["sessions"] > 0 and alone["sessions"] and alone["carts"]

    taken, mine = _both_derive(monkeypatch, rebuild_sql, "derive_batch")
    assert _rebuilt(2) == alone
    assert taken and mine, "both the helpers and the rebuild's connection derive batches"
    assert _stage_tables() == []

    # A helper that fails hands its batch back: the rebuild's connection derives it.
    monkeypatch.undo()
    monkeypatch.setattr("insights.rebuild_sql.BATCH_EVENTS", 3)
    failed: list[int] = []
    derive = derive_helpers.Helpers._derive

    def failing(self, batch):
        if not failed:
            failed.append(batch.number)
            raise RuntimeError("helper lost")
        derive(self, batch)

    monkeypatch.setattr(derive_helpers.Helpers, "_derive", failing)
    with caplog.at_level(logging.WARNING, logger="insights.derive_helpers"):
        assert _rebuilt(1) == alone
    assert failed and "a derivation helper failed" in caplog.text
    assert _stage_tables() == []


def test_a_failed_rebuilds_hand_over_tables_are_dropped():
    """Committed by a helper, left when the rebuild's transaction rolled back: the next rebuild drops them."""
    with connection.cursor() as cur:
        cur.execute(f"CREATE UNLOGGED TABLE {derive_helpers.STAGE}_0dead_s (batch int)")
    assert _stage_tables()
    derive_helpers.stage_leftovers_drop()
    assert _stage_tables() == []


def test_a_rebuild_inside_a_larger_transaction_has_no_helper(monkeypatch):
    """Helpers would not see what the transaction around it changed (the demo's reset deletes events and
    rebuilds in one): the rebuild's connection derives every batch."""
    build_store()
    monkeypatch.setattr("insights.rebuild_sql.BATCH_EVENTS", 3)
    alone = _rebuilt(0)

    def refused(*args, **kwargs):
        raise AssertionError("a helper was started inside a larger transaction")

    monkeypatch.setattr(derive_helpers.Helpers, "__init__", refused)
    with transaction.atomic():
        Event.objects.filter(customer__external_id="B").delete()
        gone = _rebuilt(2)
        assert gone["sessions"] and gone["sessions"] != alone["sessions"]
        assert all(s[0] != Customer.objects.get(external_id="B").pk for s in gone["sessions"])


# Late events for every customer of the fixture store, each reaching a stored session: the second drain
# replaces sessions of four customers, a chunk each.
LATER = [_e(30, "A", "10:39", "view", "p1"), _e(31, "B", "12:02", "view", "p2", session_id="b-2"),
         _e(32, "C", "15:00", "view", "p2"), _e(33, "D", "16:01", "checkout")]


def _drained(workers: int) -> dict:
    derived_and_events_clear()
    with override_settings(DERIVATION_ENGINE="sql", DERIVATION_WORKERS=workers):
        ingest(MAIN)
        ingest([DUPLICATE])
        analytics_process_pending(as_of=AS_OF)
        ingest([LATE, *LATER])
        analytics_process_pending(as_of=AS_OF)
    return snapshot()


def test_helpers_derive_a_drains_chunks(monkeypatch):
    """A drain's chunks of customers (one customer each here) derived by helpers as well: the same
    sessions, carts and rollups, new and replaced, as the drain's connection alone."""
    make_catalogue()
    monkeypatch.setattr("insights.services.CUSTOMERS_PER_REDERIVE_SQL", 1)
    alone = _drained(0)
    assert alone["sessions"] and alone["carts"]

    taken, mine = _both_derive(monkeypatch, derive_sql_delta, "derive_into_temp")
    assert _drained(1) == alone
    assert len(taken) >= 2 and mine, "both connections derive chunks, in both drains"
    assert _stage_tables() == []
