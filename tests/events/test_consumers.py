"""The /ws/events/ consumer, through the project's real WebSocket router."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from analytics_site.routing import websocket_application
from events import consumers
from events.models import Event

TS = "2024-01-01T12:00:00Z"


@pytest.fixture(autouse=True)
def one_group_at_a_time(monkeypatch):
    # Parallel groups commit on pool threads with their own (persistent) connections, which would
    # outlive the test database; the daphne subprocess tests (test_live.py) exercise that path.
    monkeypatch.setattr(consumers, "PARALLEL_GROUPS", 1)


def event(i: int, **overrides) -> dict:
    return {"event_id": f"w-{i}", "customer_id": "c-1", "action": "view", "product_id": "p-1",
            "product_price": 10, "timestamp": TS, **overrides}


def run(coro_fn, *args):
    # Runs the scenario with database calls on this thread (the test's own connection).
    return async_to_sync(coro_fn)(*args)


def bearer(secret: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {secret}".encode())]


async def _connect(path: str, headers=None):
    communicator = WebsocketCommunicator(websocket_application, path, headers=headers or [])
    connected, _ = await communicator.connect()
    return communicator, connected


async def _exchange(path: str, messages: list, headers=None) -> list:
    communicator, connected = await _connect(path, headers)
    assert connected
    for message in messages:
        if isinstance(message, str | bytes):
            await communicator.send_to(text_data=message if isinstance(message, str) else None,
                                       bytes_data=message if isinstance(message, bytes) else None)
        else:
            await communicator.send_json_to(message)
    replies = [await communicator.receive_json_from(timeout=10) for _ in messages]
    await communicator.disconnect()
    return replies


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["none", "wrong", "revoked"])
def test_connection_without_a_valid_active_key_is_refused(how, revoked_secret):
    headers = {"none": [], "wrong": bearer("ak_wrong"), "revoked": bearer(revoked_secret)}

    async def scenario():
        communicator, connected = await _connect("/ws/events/", headers[how])
        await communicator.disconnect()
        return connected

    assert run(scenario) is False


@pytest.mark.django_db(transaction=True)
def test_batch_is_acknowledged_after_commit_and_a_resend_lists_duplicates(ingest_secret):
    batch = {"events": [event(i) for i in range(3)]}
    replies = run(_exchange, "/ws/events/", [batch, batch], bearer(ingest_secret))
    assert replies[0] == {"type": "ack", "accepted": 3, "duplicates": [], "rejected": []}
    assert replies[1]["accepted"] == 0
    assert sorted(replies[1]["duplicates"]) == ["w-0", "w-1", "w-2"]
    assert Event.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_bearer_header_authenticates(ingest_secret):
    replies = run(_exchange, "/ws/events/", [event(1)], bearer(ingest_secret))
    assert replies == [{"type": "ack", "accepted": 1, "duplicates": [], "rejected": []}]


@pytest.mark.django_db(transaction=True)
def test_bad_messages_get_error_replies_in_order_and_the_connection_stays_open(ingest_secret, settings):
    settings.INGEST_MAX_BATCH_EVENTS = 3
    settings.INGEST_MAX_MESSAGE_BYTES = 2000
    messages = [
        event(1),
        "{not json",
        "[1, 2]",
        {"events": [event(i) for i in range(10, 14)]},  # over the batch limit
        json.dumps({"events": [event(20, description="x" * 3000)]}),  # over the size limit
        {"events": "nope"},
        b'{"event_id": "w-2", "customer_id": "c-1", "action": "view", "product_id": "p", "timestamp": "2024-01-01"}',
        {"events": [event(3), {"event_id": "w-4"}]},
    ]
    replies = run(_exchange, "/ws/events/", messages, bearer(ingest_secret))
    assert [r["type"] for r in replies] == ["ack", "error", "error", "error", "error", "error", "ack", "ack"]
    assert "malformed JSON" in replies[1]["error"]
    assert "JSON object" in replies[2]["error"]
    assert "at most 3" in replies[3]["error"]
    assert "larger than 2000 bytes" in replies[4]["error"]
    assert replies[7]["accepted"] == 1
    assert replies[7]["rejected"][0]["index"] == 1
    assert set(replies[7]["rejected"][0]["errors"]) == {"customer_id", "action", "timestamp"}
    assert set(Event.objects.values_list("event_id", flat=True)) == {"w-1", "w-2", "w-3"}


@pytest.mark.django_db(transaction=True)
def test_one_event_messages_close_together_share_a_commit(ingest_secret, monkeypatch):
    calls = []
    real = consumers.events_ingest_parsed

    def counting(**kwargs):
        calls.append(len(kwargs["batches"]))
        return real(**kwargs)

    monkeypatch.setattr(consumers, "events_ingest_parsed", counting)
    replies = run(_exchange, "/ws/events/", [event(i) for i in range(60)], bearer(ingest_secret))
    assert all(r == {"type": "ack", "accepted": 1, "duplicates": [], "rejected": []} for r in replies)
    assert Event.objects.count() == 60
    assert sum(calls) == 60
    assert len(calls) < 60 / 4  # many messages per transaction


# --- issue 10: keys in URLs, revocation, rate limit, backpressure, transient failures ----------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_header", [False, True])
def test_a_key_in_the_url_is_refused_with_the_right_way_named(with_header, ingest_secret):
    headers = bearer(ingest_secret) if with_header else []

    async def scenario():
        communicator, connected = await _connect(f"/ws/events/?key={ingest_secret}", headers)
        await communicator.send_json_to(event(1))  # sent before the client read the refusal: ignored
        reply = await communicator.receive_json_from(timeout=5)
        closed = await communicator.receive_output(timeout=5)
        assert await communicator.receive_nothing(timeout=0.2)
        return connected, reply, closed

    connected, reply, closed = run(scenario)
    assert connected  # accepted only to say why
    assert reply["type"] == "error" and reply["code"] == "key_in_url"
    assert "Authorization: Bearer <key>" in reply["error"]
    assert closed["type"] == "websocket.close" and closed["code"] == 4401
    assert "Authorization: Bearer" in closed["reason"]
    assert Event.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["revoke", "rotate"])
def test_revoking_a_key_takes_effect_on_an_open_socket_at_its_next_message(change):
    from events.services import ingest_key_create, ingest_key_revoke, ingest_key_rotate

    key, secret = ingest_key_create(name="open-socket")

    async def scenario():
        communicator, connected = await _connect("/ws/events/", bearer(secret))
        assert connected
        await communicator.send_json_to(event(1))
        first = await communicator.receive_json_from(timeout=10)
        if change == "revoke":
            await database_sync_to_async(ingest_key_revoke)(key=key)
        else:
            await database_sync_to_async(ingest_key_rotate)(key=key)
        await communicator.send_json_to({"events": [event(2), event(3)]})
        second = await communicator.receive_json_from(timeout=10)
        closed = await communicator.receive_output(timeout=5)
        await communicator.wait()
        return first, second, closed

    first, second, closed = run(scenario)
    assert first["type"] == "ack" and first["accepted"] == 1
    assert second["type"] == "error" and second["code"] == "key_revoked" and "not stored" in second["error"]
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "ingest key revoked"}
    assert list(Event.objects.values_list("event_id", flat=True)) == ["w-1"]


@pytest.mark.django_db(transaction=True)
def test_over_the_rate_limit_a_message_gets_retry_after_and_the_socket_stays_open(ingest_secret, settings):
    settings.INGEST_RATE_LIMIT = 10
    settings.INGEST_RATE_BURST = 10
    settings.INGEST_MAX_BATCH_EVENTS = 10
    replies = run(_exchange, "/ws/events/", [
        {"events": [event(i) for i in range(10)]},
        {"events": [event(i) for i in range(10, 15)]},
        {"events": []},
    ], bearer(ingest_secret))
    assert replies[0]["accepted"] == 10
    assert replies[1]["type"] == "error" and replies[1]["code"] == "rate_limited"
    assert 0 < replies[1]["retry_after"] <= 0.5
    assert "10 events a second" in replies[1]["error"]
    assert replies[2]["type"] == "ack"
    assert Event.objects.count() == 10


def _gated_ingest(monkeypatch):
    """Commits wait until the test opens the gate (the storage stays real): messages pile up
    unanswered, as behind a slow database."""
    gate = asyncio.Event()
    real = consumers._ingest_in_thread

    async def gated(**kwargs):
        await gate.wait()
        return await real(**kwargs)

    monkeypatch.setattr(consumers, "_ingest_in_thread", gated)
    return gate


async def _sent(secret: str, messages: list):
    """A connection with the key that has sent these messages (replies not read)."""
    communicator, connected = await _connect("/ws/events/", bearer(secret))
    assert connected
    for message in messages:
        await communicator.send_json_to(message)
    return communicator


@pytest.mark.django_db(transaction=True)
def test_beyond_the_unanswered_events_bound_messages_get_a_retryable_busy_error(ingest_secret, settings,
                                                                                monkeypatch):
    settings.INGEST_MAX_PENDING_EVENTS = 4
    gate = _gated_ingest(monkeypatch)

    async def scenario():
        communicator = await _sent(ingest_secret, [{"events": [event(2 * m), event(2 * m + 1)]} for m in range(5)])
        await asyncio.sleep(0.5)  # all five received while the first commit waits
        gate.set()
        replies = [await communicator.receive_json_from(timeout=10) for _ in range(5)]
        await communicator.send_json_to({"events": [event(100), event(101)]})  # answered: room again
        replies.append(await communicator.receive_json_from(timeout=10))
        await communicator.disconnect()
        return replies

    replies = run(scenario)
    assert [r["type"] for r in replies] == ["ack", "ack", "error", "error", "error", "ack"]
    assert all(r["code"] == "busy" and r["retry_after"] == 1 and "resend" in r["error"] for r in replies[2:5])
    assert set(Event.objects.values_list("event_id", flat=True)) == {"w-0", "w-1", "w-2", "w-3", "w-100", "w-101"}


@pytest.mark.django_db(transaction=True)
def test_a_client_that_ignores_busy_replies_is_disconnected(ingest_secret, settings, monkeypatch):
    settings.INGEST_MAX_PENDING_MESSAGES = 2
    gate = _gated_ingest(monkeypatch)

    async def scenario():
        communicator = await _sent(ingest_secret, [event(m) for m in range(25)])
        closed = await communicator.receive_output(timeout=10)
        gate.set()
        await communicator.disconnect()
        return closed

    closed = run(scenario)
    assert closed["type"] == "websocket.close" and closed["code"] == 4429
    assert "unanswered" in closed["reason"]


def test_a_transient_database_failure_asks_for_a_resend(ingest_secret, lock_events_table):
    from events.services import ingest_key_authenticate

    ingest_key_authenticate(secret=ingest_secret)  # records last use now: connecting writes nothing
    with lock_events_table():
        replies = run(_exchange, "/ws/events/", [{"events": [event(1), event(2)]}], bearer(ingest_secret))
    assert replies[0]["type"] == "error" and replies[0]["code"] == "unavailable"
    assert "resend" in replies[0]["error"] and replies[0]["retry_after"] == 1
