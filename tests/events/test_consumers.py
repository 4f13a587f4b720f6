"""The /ws/events/ consumer, through the project's real WebSocket router."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
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
    path = {"none": "/ws/events/", "wrong": "/ws/events/?key=ak_wrong", "revoked": f"/ws/events/?key={revoked_secret}"}

    async def scenario():
        communicator, connected = await _connect(path[how])
        await communicator.disconnect()
        return connected

    assert run(scenario) is False


@pytest.mark.django_db(transaction=True)
def test_batch_is_acknowledged_after_commit_and_a_resend_lists_duplicates(ingest_secret):
    batch = {"events": [event(i) for i in range(3)]}
    replies = run(_exchange, f"/ws/events/?key={ingest_secret}", [batch, batch])
    assert replies[0] == {"type": "ack", "accepted": 3, "duplicates": [], "rejected": []}
    assert replies[1]["accepted"] == 0
    assert sorted(replies[1]["duplicates"]) == ["w-0", "w-1", "w-2"]
    assert Event.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_bearer_header_authenticates(ingest_secret):
    replies = run(_exchange, "/ws/events/", [event(1)], [(b"authorization", f"Bearer {ingest_secret}".encode())])
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
    replies = run(_exchange, f"/ws/events/?key={ingest_secret}", messages)
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
    replies = run(_exchange, f"/ws/events/?key={ingest_secret}", [event(i) for i in range(60)])
    assert all(r == {"type": "ack", "accepted": 1, "duplicates": [], "rejected": []} for r in replies)
    assert Event.objects.count() == 60
    assert sum(calls) == 60
    assert len(calls) < 60 / 4  # many messages per transaction
