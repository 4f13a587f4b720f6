"""Hostile input against a real daphne (issue 10): what only the server sees.

Messages over daphne's frame and message limit, text frames that are not UTF-8, keys in the URL,
depth bombs, and the corpus of test_hostile.py in text and binary frames, over a real socket.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from events.models import Event
from events.services import ingest_key_create
from tests.events.test_hostile import CORPUS, INVALID_UTF8_CASES, Batch, encode, good
from tests.events.test_live import Daphne, free_port

DAPHNE_MAX_MESSAGE = 1024 * 1024  # daphne's --websocket_max_message_size default


@pytest.fixture(scope="module")
def server(django_db_setup):
    """One daphne for the module (its tests are transactional: the server reads the database per request)."""
    daphne = Daphne(free_port())
    yield daphne
    daphne.stop()


def _headers(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def _closed(ws) -> ConnectionClosed:
    """Wait for the server to close; the exception says with what code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as exc:
        return exc
    raise AssertionError("the connection stayed open")


async def _still_open(ws) -> dict:
    await ws.send(json.dumps(good(99_999) | {"event_id": "still-open"}))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_size_limits_answer_with_the_limit_named(server, settings):
    _key, secret = ingest_key_create(name="limits")
    url = f"ws://127.0.0.1:{server.port}/ws/events/"

    async def scenario():
        async with connect(url, max_size=None, additional_headers=_headers(secret)) as ws:
            # Over INGEST_MAX_MESSAGE_BYTES, under daphne's limit: an error reply, the socket stays.
            await ws.send(json.dumps({"events": [good(1) | {"description": "x" * 1_020_000}]}))
            over_ours = json.loads(await asyncio.wait_for(ws.recv(), 10))
            after = await _still_open(ws)
            # Over daphne's limit (the 2.3 MB): a close frame naming the limit, not a drop.
            await ws.send("x" * 2_300_000)
            closed = await _closed(ws)
        return over_ours, after, closed

    over_ours, after, closed = asyncio.run(scenario())
    assert over_ours["code"] == "too_large"
    assert f"larger than {settings.INGEST_MAX_MESSAGE_BYTES} bytes" in over_ours["error"]
    assert after["accepted"] == 1
    assert closed.rcvd is not None and closed.rcvd.code == 1009
    assert f"exceeds payload limit of {DAPHNE_MAX_MESSAGE} octets" in closed.rcvd.reason


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_protocol_violations_and_keys_in_urls_get_a_code_and_a_reason(server):
    _key, secret = ingest_key_create(name="protocol")
    url = f"ws://127.0.0.1:{server.port}/ws/events/"

    async def scenario():
        async with connect(url, additional_headers=_headers(secret)) as ws:
            await ws.send(b'{"events": [{"event_id": "a\xff"}]}', text=True)  # a text frame that is not UTF-8
            not_utf8 = await _closed(ws)
        async with connect(f"{url}?key={secret}") as ws:
            key_reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            key_closed = await _closed(ws)
        return not_utf8, key_reply, key_closed

    not_utf8, key_reply, key_closed = asyncio.run(scenario())
    # RFC 6455 §8.1: invalid UTF-8 in a text frame fails the connection; it now says so.
    assert not_utf8.rcvd is not None and not_utf8.rcvd.code == 1007 and "UTF-8" in not_utf8.rcvd.reason
    assert key_reply["code"] == "key_in_url" and "Authorization: Bearer <key>" in key_reply["error"]
    assert key_closed.rcvd is not None and key_closed.rcvd.code == 4401
    assert "Authorization: Bearer" in key_closed.rcvd.reason
    assert Event.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_corpus_and_depth_bombs_over_a_real_socket(server):
    _key, secret = ingest_key_create(name="corpus")
    url = f"ws://127.0.0.1:{server.port}/ws/events/"
    text_batch = Batch.of(CORPUS)
    binary_batch = Batch.of(INVALID_UTF8_CASES)

    async def scenario():
        async with connect(url, max_size=None, additional_headers=_headers(secret)) as ws:
            await ws.send(b"[" * 5000, text=True)
            bomb = json.loads(await asyncio.wait_for(ws.recv(), 10))
            await ws.send(encode({"events": text_batch.events}), text=True)
            text_ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
            after = await _still_open(ws)
        return bomb, text_ack, after

    async def binary_scenario():
        async with connect(url, max_size=None, additional_headers=_headers(secret)) as ws:
            await ws.send(encode({"events": binary_batch.events}))  # bytes: a binary frame
            return json.loads(await asyncio.wait_for(ws.recv(), 30))

    bomb, text_ack, after = asyncio.run(scenario())
    assert bomb["type"] == "error" and bomb["code"] == "too_deep"
    assert after["accepted"] == 1
    Event.objects.filter(event_id="still-open").delete()
    text_batch.check(text_ack)
    Event.objects.all().delete()
    binary_batch.check(asyncio.run(binary_scenario()))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_load_generator_sends_its_key_in_a_header(server):
    from events.management.commands.simulate import stream_events

    _key, secret = ingest_key_create(name="load")
    summary = asyncio.run(stream_events(ws=f"ws://127.0.0.1:{server.port}/ws/events/", key=secret, rate=200,
                                        duration=1.5, batch=20, customers=50, seed=1, write=lambda _line: None))
    assert summary["acked"] > 0 and summary["errors"] == 0 and summary["undelivered"] == 0
    assert Event.objects.count() == summary["acked"]
