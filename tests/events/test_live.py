"""Against a real server: daphne as a subprocess (killed mid-stream; the Segment client library)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from events.models import Event
from events.services import ingest_key_create

ROOT = Path(__file__).resolve().parents[2]
TS = "2024-01-01T12:00:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env() -> dict[str, str]:
    """The environment of this test run, pointed at the test database this test is using."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(TESTING="1", DJANGO_SETTINGS_MODULE="analytics_site.settings", LOCAL_DIR=str(settings.LOCAL_DIR))
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        env["SQLITE_PATH"] = str(db["NAME"])  # a file (settings TEST NAME), shared with this process
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    return env


class Daphne:
    def __init__(self, port: int):
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "analytics_site.asgi:application"],
            # stderr to a file, not a pipe: a server kept for a whole module must never block on a full pipe
            cwd=ROOT, env=server_env(), stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("daphne exited: " + self.log.read().decode()[-2000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("daphne did not start")
            time.sleep(0.2)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def messages_of(count: int, size: int) -> list[dict]:
    return [{"events": [{"event_id": f"k-{m}-{i}", "customer_id": f"c-{m % 7}", "action": "view",
                         "product_id": f"p-{i}", "product_price": 1.5, "timestamp": TS}
                        for i in range(size)]} for m in range(count)]


async def stream(url: str, secret: str, messages: list[dict], *, window: int, on_ack=None) -> list[dict]:
    """Send with up to ``window`` unacknowledged messages; replies come in order. Returns the
    replies received before the stream ended (completed, or the server went away)."""
    replies: list[dict] = []
    async with connect(url, max_size=None, additional_headers={"Authorization": f"Bearer {secret}"}) as ws:
        sent = 0
        try:
            while len(replies) < len(messages):
                while sent < len(messages) and sent - len(replies) < window:
                    await ws.send(json.dumps(messages[sent]))
                    sent += 1
                replies.append(json.loads(await ws.recv()))
                if on_ack is not None:
                    on_ack(len(replies))
        except (ConnectionClosed, OSError):
            pass
    return replies


def event_ids(messages: list[dict]) -> list[str]:
    return [e["event_id"] for m in messages for e in m["events"]]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_server_killed_mid_stream_loses_no_acknowledged_event_and_resend_stores_each_once():
    _key, secret = ingest_key_create(name="kill-test")
    messages = messages_of(300, 10)
    server = Daphne(free_port())
    try:
        def kill_at(acks: int) -> None:
            if acks == 60:
                server.kill()

        replies = asyncio.run(stream(f"ws://127.0.0.1:{server.port}/ws/events/", secret, messages,
                                     window=20, on_ack=kill_at))
    finally:
        server.stop()
    assert 60 <= len(replies) < len(messages)  # killed mid-stream
    assert all(r["type"] == "ack" and r["accepted"] == 10 for r in replies)
    acked = event_ids(messages[:len(replies)])
    assert Event.objects.filter(event_id__in=acked).count() == len(acked)  # every acknowledged event, once

    server = Daphne(free_port())
    try:
        rest = messages[len(replies):]
        resent = asyncio.run(stream(f"ws://127.0.0.1:{server.port}/ws/events/", secret, rest, window=20))
    finally:
        server.stop()
    assert len(resent) == len(rest)
    # Some resent events may have been committed before the kill without their ack: duplicates.
    assert sum(r["accepted"] + len(r["duplicates"]) for r in resent) == len(event_ids(rest))
    assert Event.objects.count() == len(event_ids(messages))
    assert Event.objects.filter(event_id__in=event_ids(messages)).count() == 3000


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_segment_client_library_delivers_order_completed_as_two_purchase_events():
    from segment.analytics.client import Client

    _key, secret = ingest_key_create(name="segment-test")
    errors = []
    server = Daphne(free_port())
    try:
        client = Client(write_key=secret, host=f"http://127.0.0.1:{server.port}", sync_mode=True, gzip=True,
                        on_error=lambda e, batch: errors.append(e))
        client.track(user_id="u-1", event="Order Completed", message_id="order-msg-1", properties={
            "order_id": "o-77", "revenue": 23.0,
            "products": [{"product_id": "sku-1", "name": "Lamp", "price": 20.0, "quantity": 1},
                         {"product_id": "sku-2", "name": "Bulb", "price": 1.5, "quantity": 2}]})
        client.flush()
    finally:
        server.stop()
    assert errors == []
    lines = list(Event.objects.select_related("customer", "product").order_by("event_id"))
    assert [(e.event_id, e.action, e.product.external_id, str(e.price), e.quantity, e.order_id) for e in lines] == [
        ("order-msg-1:0", "purchase", "sku-1", "20.00", 1, "o-77"),
        ("order-msg-1:1", "purchase", "sku-2", "1.50", 2, "o-77")]
    assert {e.customer.external_id for e in lines} == {"u-1"}
