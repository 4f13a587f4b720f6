"""The SQL engine's drain adds its rollups once, after every batch of customers is swapped
(insights.derive_drain, docs/derivation.md): a drain of many batches, with a window that fails in its
batch, a failure of the final rollup step, and one customer derived twice in a drain, each leaves
what a rebuild leaves."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DataError, connection

from events.models import Event
from insights import derive_drain, services
from insights.models import PendingWindow, Session
from insights.rebuild import analytics_rebuild
from insights.services import analytics_process_pending, pending_windows_queue, spans_rederive
from tests.factories import ProductFactory
from tests.insights.store_fixture import ingest
from tests.insights.test_services import snapshot
from tests.insights.test_set_aside import NOW, hostile_row, set_aside_rows

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL engine runs on PostgreSQL")]

CUSTOMERS = [f"m{i}" for i in range(9)]


def shop(n: int, customer: str, minutes_ago: int, action: str = "purchase", **kw) -> dict:
    """An event of ``customer``; purchases of two products in one order, carts, views, two traffic sources."""
    event = {"event_id": f"d{n}", "customer_id": customer, "action": action, "product_id": f"dp{n % 3}",
             "product_price": "12.50", "quantity": 1 + n % 2,
             "timestamp": (NOW - dt.timedelta(minutes=minutes_ago)).isoformat(),
             "context": {"utm_source": "google", "utm_medium": "cpc"} if n % 4 == 0 else {}, **kw}
    if action == "purchase":
        event["order_id"] = f"do-{customer}-{minutes_ago}"
    return event


def stream() -> list[dict]:
    """Each customer: a session with a view, two adds, a two-product order; a day later an abandoned cart
    whose other category's product was added and taken out again (that category still counts the cart)."""
    events, n = [], 0
    for i, customer in enumerate(CUSTOMERS):
        for minutes, action in ((3000 + i, "view"), (2999 + i, "add_to_cart"), (2998 + i, "add_to_cart"),
                                (2997 + i, "purchase"), (2996 + i, "purchase")):
            events.append(shop(n, customer, minutes, action))
            n += 1
        events.append(shop(n, customer, 300 + i, "add_to_cart", product_id="dp0", quantity=2))
        events.append(shop(n + 1, customer, 299 + i, "add_to_cart", product_id="dp1", quantity=1))
        events.append(shop(n + 2, customer, 298 + i, "remove_from_cart", product_id="dp1", quantity=1))
        n += 3
    for e in events[3::8]:  # both lines of each order under one order id
        e["order_id"] = events[events.index(e) + 1]["order_id"]
    return events


@pytest.fixture
def small_batches(monkeypatch):
    """Two customers a batch: the drain swaps many batches before its one rollup step."""
    monkeypatch.setattr(services, "CUSTOMERS_PER_REDERIVE_SQL", 2)
    for k in range(3):
        ProductFactory(external_id=f"dp{k}", price=Decimal("12.50"), category=f"cat{k % 2}")


def rebuilt_equals(incremental: dict) -> None:
    analytics_rebuild()
    assert snapshot() == incremental


def test_a_drain_of_many_batches_with_a_failing_window_equals_a_rebuild(small_batches):
    ingest(stream())
    hostile = hostile_row(minutes_ago=2000)  # its window fails in its batch: set aside, the others derived
    pending_windows_queue(spans=[(hostile.customer_id, hostile.timestamp, hostile.timestamp)], events=1)
    assert analytics_process_pending() == PendingWindow.objects.count() + 1 == 2
    [aside] = set_aside_rows()
    assert aside.windows.keys() == {str(hostile.customer_id)}
    assert sorted(set(Session.objects.values_list("customer__external_id", flat=True))) == CUSTOMERS
    hostile.delete()
    PendingWindow.objects.update(retry_at=NOW - dt.timedelta(seconds=1))
    assert analytics_process_pending() == 1 and not PendingWindow.objects.exists()
    incremental = snapshot()
    assert incremental["product_pairs_all"] and incremental["sessions_daily"]
    rebuilt_equals(incremental)


def test_a_failing_rollup_step_derives_window_by_window_and_sets_aside_only_its_window(small_batches, monkeypatch):
    ingest(stream())
    bad = Event.objects.filter(customer__external_id="m4").values_list("customer_id", flat=True).first()
    real = derive_drain.session_rollups_add
    calls = {"collected": 0}

    def failing() -> set:
        with connection.cursor() as cur:
            cur.execute("SELECT EXISTS (SELECT 1 FROM dv_ds WHERE c = %s)", [bad])
            if cur.fetchone()[0]:
                calls["collected"] += derive_drain._COLLECTING.get()
                raise DataError("numeric field overflow")
        return real()

    monkeypatch.setattr(derive_drain, "session_rollups_add", failing)
    assert analytics_process_pending() == 1
    assert calls["collected"] == 1  # the drain's one rollup step failed, then each batch added its own
    [aside] = set_aside_rows()
    assert aside.windows.keys() == {str(bad)}
    assert set(Session.objects.values_list("customer_id", flat=True)) == (
        set(Event.objects.values_list("customer_id", flat=True)) - {bad})
    monkeypatch.setattr(derive_drain, "session_rollups_add", real)
    PendingWindow.objects.update(retry_at=NOW - dt.timedelta(seconds=1))
    assert analytics_process_pending() == 1 and not PendingWindow.objects.exists()
    rebuilt_equals(snapshot())


def test_a_customer_derived_twice_in_one_drain_is_counted_once(small_batches):
    ingest(stream()[:16])
    assert analytics_process_pending() == 1
    m0 = Event.objects.filter(customer__external_id="m0").values_list("customer_id", flat=True).first()
    # a late event changes m0's first session, queued twice: as new and as a set-aside window due now
    ingest([shop(90, "m0", 3010, "view", context={"utm_source": "newsletter"})])
    PendingWindow.objects.create(windows={str(m0): [int((NOW - dt.timedelta(days=3)).timestamp()),
                                                   int(NOW.timestamp())]}, attempts=1, last_error="x",
                                 retry_at=NOW - dt.timedelta(seconds=1))
    assert analytics_process_pending() == 2 and not PendingWindow.objects.exists()
    rebuilt_equals(snapshot())


def test_spans_rederive_adds_its_rollups_once_in_the_callers_transaction(small_batches):
    ingest(stream())
    assert analytics_process_pending() == 1
    # the first events' traffic source changes (as a recategorisation or an erasure would change sessions)
    Event.objects.filter(customer__external_id__in=["m1", "m6"], action="view").update(
        context={"utm_source": "bing", "utm_medium": "cpc"})
    spans = list(Event.objects.values_list("customer_id", "timestamp", "timestamp"))
    spans_rederive(spans=spans, as_of=NOW)
    rebuilt_equals(snapshot())


def _analysed_at(table: str) -> dt.datetime | None:
    with connection.cursor() as cur:
        cur.execute("SELECT GREATEST(last_analyze, last_autoanalyze) FROM pg_stat_user_tables WHERE relname = %s",
                    [table])
        return cur.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_drain_after_a_bulk_load_brings_the_events_statistics_up_to_date(monkeypatch):
    """A bulk load leaves the events' planner statistics behind until autovacuum runs: the drain (and a
    command's catch-up) analyses the table first when more than a fifth of it changed since."""
    from insights import rollup_store

    def counters_flushed() -> None:  # the row counters reach the statistics views at once
        with connection.cursor() as cur:
            cur.execute("SELECT pg_stat_force_next_flush()")

    monkeypatch.setattr(rollup_store, "_STALE_MIN_ROWS", 5)  # a test-sized bulk load
    counters_flushed()
    with connection.cursor() as cur:
        cur.execute("ANALYZE events_event")
    analysed = _analysed_at("events_event")
    ingest([shop(n, CUSTOMERS[n % 9], 200 - n) for n in range(40)])  # 40 rows on an empty table: stale
    counters_flushed()
    assert "events_event" in rollup_store.read_statistics_refresh()
    assert _analysed_at("events_event") > analysed
    assert "events_event" not in rollup_store.read_statistics_refresh()  # up to date now
    ingest([shop(n, CUSTOMERS[n % 9], 300 - n) for n in range(100, 104)])  # 4 rows of 44: not stale
    counters_flushed()
    assert "events_event" not in rollup_store.read_statistics_refresh()
    ingest([shop(n, CUSTOMERS[n % 9], 400 - n) for n in range(200, 220)])  # 24 of 64 since: stale
    counters_flushed()
    before = _analysed_at("events_event")
    analytics_process_pending()
    assert _analysed_at("events_event") > before
    assert Session.objects.exists()


def test_the_sessions_summary_is_left_out_of_their_statistics():
    """Every ANALYZE of the sessions (a drain's after a bulk load, a rebuild's, autovacuum's) samples each
    column but the summary, which no statement filters, joins or sorts on."""
    with connection.cursor() as cur:
        cur.execute("SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = 'insights_session'::regclass"
                    " AND attname IN ('summary', 'customer_id')")
        targets = dict(cur.fetchall())
    assert targets["summary"] == 0
    assert targets["customer_id"] != 0  # the server's default (-1, or NULL from PostgreSQL 17)


@pytest.mark.parametrize(("customers", "sizes"), [(1500, [375] * 4), (300, [250, 50]), (9000, [1000] * 9)])
def test_with_a_helper_a_drains_customers_are_cut_into_at_least_two_chunks_a_connection(monkeypatch, settings,
                                                                                       customers, sizes):
    """A live drain's thousand or two customers would be one or two chunks of 1,000, leaving a helper
    connection idle: with helpers the chunks are cut smaller (not under 250 customers)."""
    settings.DERIVATION_WORKERS = 1
    taken: list[list[int]] = []
    monkeypatch.setattr(services, "swap_sql_chunks", lambda chunks, as_of: taken.append([len(c) for c in chunks]))
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    services._rederive_by_customer_chunks({c: (at, at) for c in range(customers)}, as_of=at, helpers=True)
    assert taken == [sizes]
