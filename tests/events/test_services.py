"""The ingest service: formats, validation, dedupe, storage, metrics hook and broadcast."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction

from customers.models import Customer
from events.models import Event
from events.services import IngestResult, events_ingest, events_ingest_batches
from products.models import Product
from products.services import title_external_id
from tests.factories import CustomerFactory, EventFactory, ProductFactory

TS = "2024-01-01T12:00:00Z"


def native(i: int, **overrides) -> dict:
    event = {"event_id": f"e-{i}", "customer_id": "c-1", "session_id": "s-1", "action": "add_to_cart",
             "product_id": "p-1", "quantity": 2, "product_price": 29.99, "timestamp": TS,
             "product_title": "Blue mug"}
    event.update(overrides)
    return event


@pytest.mark.django_db
def test_native_event_lands_with_customer_product_price_quantity_timestamp():
    result = events_ingest(raw_events=[native(1, timestamp="2024-03-04T05:06:07+02:00", order_id="o-9")])
    assert result == IngestResult(accepted=1, duplicates=[], rejected=[])
    event = Event.objects.select_related("customer", "product").get(event_id="e-1")
    assert event.customer.external_id == "c-1"
    assert event.customer.age_group == "unknown"
    assert event.product.external_id == "p-1"
    assert event.product.title == "Blue mug"
    assert event.product.price == Decimal("29.99")
    assert event.price == Decimal("29.99")
    assert event.quantity == 2
    assert event.action == "add_to_cart"
    assert event.session_id == "s-1"
    assert event.order_id == "o-9"
    assert event.timestamp == datetime(2024, 3, 4, 3, 6, 7, tzinfo=UTC)


@pytest.mark.django_db
def test_existing_customer_and_product_are_reused():
    customer = CustomerFactory(external_id="42", age=30)
    product = ProductFactory(external_id="17", price=Decimal("5.00"))
    events_ingest(raw_events=[native(1, customer_id=42, product_id=17, product_price=None)])
    event = Event.objects.get(event_id="e-1")
    assert event.customer_id == customer.pk
    assert event.product_id == product.pk
    assert event.price == Decimal("5.00")  # no price sent: the product's price
    assert Customer.objects.count() == 1 and Product.objects.count() == 1


@pytest.mark.django_db
def test_original_system_format_finds_product_by_title_and_reads_purchase_cart():
    mug = ProductFactory(external_id="7", title="Blue mug", price=Decimal("9.00"))
    original = [
        {"event_id": "o-1", "customer_id": "123", "action": "purchase_cart", "product_title": "Blue mug",
         "product_price": 12.5, "product_image": "https://img/1.png", "description": "A mug",
         "timestamp": "2024-01-01T12:00:00"},
        {"event_id": "o-2", "customer_id": "123", "action": "view", "product_title": "Red lamp",
         "product_price": 40, "product_image": "https://img/2.png", "description": "A lamp",
         "timestamp": "2024-01-01T12:01:00"},
        {"event_id": "o-3", "customer_id": "124", "action": "view", "product_title": "Red lamp",
         "product_price": 41, "timestamp": "2024-01-01T12:02:00"},
    ]
    result = events_ingest(raw_events=original)
    assert result.accepted == 3
    first = Event.objects.get(event_id="o-1")
    assert first.action == "purchase"
    assert first.product_id == mug.pk
    assert first.price == Decimal("12.50")
    assert first.timestamp == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)  # naive read as UTC
    lamp = Product.objects.get(title="Red lamp")
    assert lamp.external_id == title_external_id("Red lamp")
    assert (lamp.price, lamp.image_url, lamp.description) == (Decimal("40.00"), "https://img/2.png", "A lamp")
    assert set(Event.objects.filter(event_id__in=["o-2", "o-3"]).values_list("product_id", flat=True)) == {lamp.pk}
    # A later batch finds the product it created by title.
    events_ingest(raw_events=[{**original[2], "event_id": "o-4"}])
    assert Product.objects.filter(title="Red lamp").count() == 1


@pytest.mark.django_db
def test_same_batch_twice_is_stored_once_and_second_result_lists_duplicates():
    batch = [native(i) for i in range(5)]
    first = events_ingest(raw_events=batch)
    second = events_ingest(raw_events=batch)
    assert first.accepted == 5 and first.duplicates == []
    assert second.accepted == 0
    assert sorted(second.duplicates) == [f"e-{i}" for i in range(5)]
    assert Event.objects.count() == 5


@pytest.mark.django_db
def test_event_id_repeated_inside_a_batch_is_stored_once():
    result = events_ingest(raw_events=[native(1), native(1, quantity=5), native(2)])
    assert result.accepted == 2
    assert result.duplicates == ["e-1"]
    assert Event.objects.get(event_id="e-1").quantity == 2


@pytest.mark.django_db
def test_batch_of_ten_with_three_bad_stores_seven_and_rejects_three_with_reasons():
    batch = [native(i) for i in range(10)]
    batch[2]["quantity"] = 0
    batch[5] = "not an event"
    batch[7].update(timestamp="yesterday", product_price=-1, action="teleport")
    result = events_ingest(raw_events=batch)
    assert result.accepted == 7
    assert Event.objects.count() == 7
    rejected = {r["index"]: r for r in result.rejected}
    assert set(rejected) == {2, 5, 7}
    assert rejected[2] == {"index": 2, "event_id": "e-2", "errors": {"quantity": "must be >= 1"}}
    assert rejected[5]["event_id"] is None and "event" in rejected[5]["errors"]
    assert set(rejected[7]["errors"]) == {"timestamp", "product_price", "action"}
    assert result.as_ack() == {"type": "ack", "accepted": 7, "duplicates": [], "rejected": result.rejected}


@pytest.mark.django_db
def test_future_timestamps_and_missing_products_are_rejected():
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    result = events_ingest(raw_events=[
        native(1, timestamp=soon),
        native(2, timestamp=later),
        native(3, product_id=None, product_title=None),
        {"event_id": "e-4", "customer_id": "c-1", "action": "checkout", "timestamp": TS},
    ])
    assert result.accepted == 2
    errors = {r["index"]: r["errors"] for r in result.rejected}
    assert errors == {1: {"timestamp": "more than 5 minutes in the future"},
                      2: {"product_id": "required for add_to_cart (or product_title)"}}
    assert Event.objects.get(event_id="e-4").product_id is None


@pytest.mark.django_db
def test_an_event_id_already_stored_by_another_path_is_a_duplicate():
    EventFactory(event_id="e-1")
    result = events_ingest(raw_events=[native(1), native(2)])
    assert (result.accepted, result.duplicates) == (1, ["e-1"])


@pytest.mark.django_db
def test_batches_ingested_together_get_one_result_each():
    results = events_ingest_batches(batches=[[native(1)], [native(1), native(2)], ["bad"]])
    assert [r.accepted for r in results] == [1, 1, 0]
    assert results[1].duplicates == ["e-1"]
    assert results[2].rejected[0]["index"] == 0
    assert Event.objects.count() == 2


@pytest.mark.django_db
def test_metrics_hook_gets_only_newly_stored_events(monkeypatch):
    from insights import services as insights_services

    calls = []
    monkeypatch.setattr(insights_services, "analytics_apply_events", lambda *, events: calls.append(list(events)))
    EventFactory(event_id="e-0")
    events_ingest(raw_events=[native(0), native(1, product_price="3.455"), native(2)])
    assert len(calls) == 1
    stored = {e.event_id: e for e in calls[0]}
    assert set(stored) == {"e-1", "e-2"}
    e1 = stored["e-1"]
    db = Event.objects.get(event_id="e-1")
    assert (e1.pk, e1.customer_pk, e1.product_pk, e1.price, e1.quantity, e1.timestamp) == (
        db.pk, db.customer_id, db.product_id, Decimal("3.46"), 2, db.timestamp)


async def _receive_or_none(layer, channel: str, timeout: float):
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout)
    except TimeoutError:
        return None


@pytest.mark.django_db(transaction=True)
def test_dashboard_listener_receives_the_broadcast_only_after_commit():
    """Real channel layer (in-memory on SQLite, Redis in the PostgreSQL run)."""
    asyncio.run(_broadcast_after_commit_scenario())


async def _broadcast_after_commit_scenario():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(settings.DASHBOARD_GROUP, channel)
    commit = asyncio.Event()
    committed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def ingest_in_open_transaction():
        try:
            with transaction.atomic():
                events_ingest(raw_events=[native(i) for i in range(25)])
                # Still inside the transaction: tell the test, then wait until it says commit.
                loop.call_soon_threadsafe(committed.set)
                asyncio.run_coroutine_threadsafe(commit.wait(), loop).result(timeout=10)
        finally:
            connection.close()  # this worker thread's connection (test database teardown needs it gone)

    task = asyncio.ensure_future(database_sync_to_async(ingest_in_open_transaction)())
    await committed.wait()
    assert await _receive_or_none(layer, channel, 0.3) is None  # nothing before commit
    commit.set()
    await task
    message = await _receive_or_none(layer, channel, 5)
    await layer.group_discard(settings.DASHBOARD_GROUP, channel)
    assert message is not None
    assert message["type"] == "dashboard.events"
    assert message["accepted"] == 25
    assert len(message["events"]) == 20
    first = message["events"][0]
    assert first["customer_id"] == "c-1" and first["product_id"] == "p-1"
    assert first["product_title"] == "Blue mug" and first["price"] == 29.99 and first["quantity"] == 2
    assert await database_sync_to_async(_count_and_close)() == 25


def _count_and_close() -> int:
    try:
        return Event.objects.count()
    finally:
        connection.close()


# --- issue 10: the database refusing events, transient failures, revoked keys -------------------

@pytest.mark.django_db
def test_events_the_database_refuses_are_rejected_alone_and_the_rest_is_stored(poison_trigger):
    batch = [native(i) for i in range(10)]
    batch[3]["event_id"] = "poison-3"
    batch[8]["event_id"] = "poison-8"
    result = events_ingest(raw_events=batch)
    assert result.accepted == 8
    assert [(r["index"], r["event_id"]) for r in result.rejected] == [(3, "poison-3"), (8, "poison-8")]
    assert all(r["errors"]["event"].startswith("refused by the database: ") and "poisoned event refused"
               in r["errors"]["event"] for r in result.rejected)
    assert result.rejected[0]["errors"]["event"].code == "refused_by_database"
    assert sorted(Event.objects.values_list("event_id", flat=True)) == sorted(
        f"e-{i}" for i in range(10) if i not in (3, 8))
    # A resend stores nothing new and rejects the same culprits again (no "resend" loop).
    again = events_ingest(raw_events=batch)
    assert (again.accepted, len(again.duplicates), [r["index"] for r in again.rejected]) == (0, 8, [3, 8])


@pytest.mark.django_db
def test_batches_gathered_in_one_commit_each_get_their_own_refusals(poison_trigger):
    results = events_ingest_batches(batches=[[native(1), native(2, event_id="poison-a")], [native(3)],
                                             ["bad", native(4, event_id="poison-b"), native(5)]])
    assert [r.accepted for r in results] == [1, 1, 1]
    assert [[(x["index"], x["event_id"]) for x in r.rejected] for r in results] == [
        [(1, "poison-a")], [], [(0, None), (1, "poison-b")]]


@pytest.mark.django_db
def test_a_value_no_driver_can_encode_is_refused_alone_even_past_validation(monkeypatch):
    # Validation is bypassed to show the last line of defence: a lone surrogate reaching the
    # database driver (psycopg2 and sqlite3 both fail to encode it) costs only its own event.
    from events.wire import values

    monkeypatch.setattr(values, "_bad_character", lambda value, pattern: None)
    result = events_ingest(raw_events=[native(1), native(2, session_id="s-\ud800"), native(3)])
    assert result.accepted == 2
    assert [r["index"] for r in result.rejected] == [1]
    assert "refused by the database" in result.rejected[0]["errors"]["event"]
    assert set(Event.objects.values_list("event_id", flat=True)) == {"e-1", "e-3"}


@pytest.mark.django_db
def test_a_nul_past_validation_is_refused_alone_by_postgresql(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores NUL characters; PostgreSQL text cannot hold them")
    from events.wire import values

    monkeypatch.setattr(values, "_bad_character", lambda value, pattern: None)
    result = events_ingest(raw_events=[native(1), native(2, event_id="e-\x00"), native(3, customer_id="c-\x00"),
                                       native(4)])
    assert result.accepted == 2
    assert [r["index"] for r in result.rejected] == [1, 2]
    assert all("0x00" in r["errors"]["event"] for r in result.rejected)


def test_a_transient_failure_stores_nothing_and_says_resend(lock_events_table):
    from events.services import IngestUnavailable

    with lock_events_table(), pytest.raises(IngestUnavailable):
        events_ingest(raw_events=[native(1), native(2)])
    assert Event.objects.count() == 0


def test_failure_kinds():
    from django.db import DataError, IntegrityError, InterfaceError, OperationalError, ProgrammingError

    from events.persistence import _failure_kind

    def pg(exc, code):
        cause = Exception()
        cause.pgcode = code
        exc.__cause__ = cause
        return exc

    assert _failure_kind(InterfaceError("connection already closed")) == "transient"
    assert _failure_kind(pg(OperationalError(), "40P01")) == "retry"
    assert _failure_kind(pg(OperationalError(), "55P03")) == "transient"  # lock timeout
    assert _failure_kind(pg(OperationalError(), "08006")) == "transient"  # connection failure
    assert _failure_kind(pg(OperationalError(), "54000")) == "data"  # program limit (e.g. index row size)
    assert _failure_kind(OperationalError("database is locked")) == "transient"
    assert _failure_kind(pg(DataError(), "22021")) == "data"  # NUL / bad encoding
    assert _failure_kind(pg(IntegrityError(), "23514")) == "data"
    assert _failure_kind(pg(ProgrammingError(), "42P01")) == "bug"
    assert _failure_kind(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")) == "data"
    assert _failure_kind(TypeError()) == "bug"


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["revoke", "rotate", "delete"])
def test_a_credential_is_rechecked_in_the_ingest_transaction(change):
    from events import wire
    from events.models import IngestKey
    from events.services import (
        IngestKeyRevoked,
        KeyCredential,
        events_ingest_parsed,
        ingest_key_create,
        ingest_key_revoke,
        ingest_key_rotate,
    )

    key, _secret = ingest_key_create(name="socket")
    credential = KeyCredential.of(key)
    latest = wire.latest_allowed()
    [ok] = events_ingest_parsed(batches=[wire.parse_batch([native(1)], latest)], credential=credential)
    assert ok.accepted == 1
    if change == "revoke":
        ingest_key_revoke(key=key)
    elif change == "rotate":
        ingest_key_rotate(key=key)
    else:
        IngestKey.objects.filter(pk=key.pk).delete()
    for events in ([native(2)], ["invalid"]):  # checked even when nothing in the message is valid
        with pytest.raises(IngestKeyRevoked):
            events_ingest_parsed(batches=[wire.parse_batch(events, latest)], credential=credential)
    assert list(Event.objects.values_list("event_id", flat=True)) == ["e-1"]


def test_a_batch_naming_a_new_customer_does_not_wait_for_another_batchs_transaction(transactional_db):
    """Two batches name the same new shopper. The first is held open inside its events' transaction
    (at the metrics hook, after its customers and events are written); the second must still store
    and commit: the new customer was committed on its own before the first batch's events."""
    import threading

    from events.signals import events_stored

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one transaction at a time: a second batch waits whatever it names")
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def hold(sender, events, **kwargs):
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(60)

    def store(name: str, event: dict) -> None:
        try:
            events_ingest(raw_events=[event])
            order.append(name)
        finally:
            connection.close()

    events_stored.connect(hold, weak=False)
    first = threading.Thread(target=store, name="first", args=("first", native(1, customer_id="new-shopper")))
    second = threading.Thread(target=store, name="second", args=("second", native(2, customer_id="new-shopper",
                                                                            timestamp="2024-01-03T09:00:00Z")))
    try:
        first.start()
        assert inside.wait(60)
        second.start()
        second.join(60)  # waits out the minute only if the second batch waits for the first's commit
        release.set()
        first.join(60)
    finally:
        release.set()
        events_stored.disconnect(hold)
    assert order == ["second", "first"]
    assert Customer.objects.filter(external_id="new-shopper").count() == 1
    assert set(Event.objects.filter(customer__external_id="new-shopper").values_list("event_id", flat=True)) == {
        "e-1", "e-2"}
