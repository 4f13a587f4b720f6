"""The deployed topology, tested together: two daphne web processes, one Celery worker and one
Celery beat (DatabaseScheduler), started as separate OS processes with the commands of
docker-compose.yml, on PostgreSQL and Redis.

It shows that:
- an ingest socket and a dashboard socket left idle for 15 s still work (Redis channel layer);
- an event ingested through web-2 reaches a dashboard socket on web-1 (latency printed);
- SIGKILL of a web process mid-stream loses no acknowledged event, and a resend to the other web
  process stores each event exactly once;
- SIGKILL of the worker (and its pool) in the middle of deriving, then a restart, ends with the
  metrics ``rebuild_rollups`` computes from scratch.

Runs when DATABASE_URL and REDIS_URL are both set (CI's second pass); skipped otherwise. The
services share the pytest test database; the module flushes it at the end, as transactional tests do.
Timings go to stdout (``pytest -s``); nothing here asserts a duration, only generous deadlines.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.system.topology import (
    ROOT,
    Service,
    celery_ping,
    compose_command,
    get_json,
    http_ready,
    service_env,
)

pytestmark = [
    pytest.mark.slow,
    # Reads of what the services wrote (they commit on their own connections). The marker also
    # makes pytest-django set up the test database when this module runs alone.
    pytest.mark.django_db,
    pytest.mark.skipif(not (settings.IS_POSTGRES and settings.CHANNEL_LAYER_SHARED),
                       reason="the topology test needs DATABASE_URL (PostgreSQL) and REDIS_URL (Redis) set"),
]

IDLE_SECONDS = 15
DEADLINE = 20.0  # generous bound for anything to arrive; never a timing assertion
METRIC_PANELS = ["kpis", "funnel", "carts", "customers", "products", "seasonality"]
METRIC_RANGE = "start=2024-01-01&end=2024-06-30"  # every old-timestamped event of this module


def note(message: str) -> None:
    print(f"[topology] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Topology:
    web1: Service
    web2: Service
    worker: Service
    beat: Service
    port1: int
    port2: int
    cookie: str
    secret: str
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    def port(self, web: Service) -> int:
        return self.port1 if web is self.web1 else self.port2

    async def ingest_socket(self, web: Service) -> ClientConnection:
        return await connect(f"ws://127.0.0.1:{self.port(web)}/ws/events/", max_size=None, open_timeout=DEADLINE,
                             additional_headers={"Authorization": f"Bearer {self.secret}"})

    async def dashboard_socket(self, web: Service) -> ClientConnection:
        base = f"127.0.0.1:{self.port(web)}"
        ws = await connect(f"ws://{base}/ws/dashboard/", origin=f"http://{base}", open_timeout=DEADLINE,
                           additional_headers={"Cookie": self.cookie})
        hello = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE))
        assert hello == {"type": "hello", "shared_layer": True}
        return ws

    def metrics(self) -> dict[str, object]:
        out = {}
        for panel in METRIC_PANELS:
            status, data = get_json(f"http://127.0.0.1:{self.port1}/api/v1/metrics/{panel}?{METRIC_RANGE}",
                                    self.cookie)
            assert status == 200, (panel, data)
            out[panel] = data
        return out


def _schedule_derivation() -> None:
    """The beat schedule the metrics engine needs, as `migrate` writes it (insights migration 0002).
    No live simulator (data stays fixed) and no ML scoring (not what this test compares)."""
    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.all().delete()
    importlib.import_module("insights.migrations.0002_beat_schedule").schedule(apps, None)
    assert PeriodicTask.objects.filter(task="insights.tasks.process_pending_analytics_task", enabled=True).exists()


@pytest.fixture(scope="module")
def topology(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.core.management import call_command
    from django.test import Client

    from accounts.roles import Role
    from accounts.services import user_create
    from analytics_site.celery import app as celery_app
    from events.services import ingest_key_create

    base = tmp_path_factory.mktemp("topology")
    logs = base / "logs"
    logs.mkdir()
    with django_db_blocker.unblock():
        _schedule_derivation()
        user = user_create(username="topology-analyst", password="pw-Secret-123", role=Role.ANALYST)
        client = Client()
        client.force_login(user)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        _key, secret = ingest_key_create(name="topology")
        env = service_env(base / "local")
    celery_app.control.purge()  # tasks other runs left on this broker are not this topology's

    port1, port2 = free_port(), free_port()
    web1 = Service("web-1", compose_command("web", **{"-b": "127.0.0.1", "-p": str(port1)}), env, logs,
                   http_ready(port1))
    web2 = Service("web-2", compose_command("web", **{"-b": "127.0.0.1", "-p": str(port2)}), env, logs,
                   http_ready(port2))
    worker = Service("worker", compose_command("worker"), env, logs, celery_ping(celery_app))
    # Beat has no endpoint to ask; the derivation test shows its schedule reaching the worker.
    beat = Service("beat", compose_command("beat"), env, logs)
    services = [web1, web2, worker, beat]
    top = Topology(web1, web2, worker, beat, port1, port2, cookie, secret, env)
    started = time.monotonic()
    try:
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        assert beat.alive, beat.tail()
        top.timings["start"] = time.monotonic() - started
        note(f"4 processes up in {top.timings['start']:.1f} s (logs: {logs})")
        yield top
    finally:
        stopping = time.monotonic()
        for service in services:
            service.terminate()
        for service in services:
            service.stop()
        top.timings["stop"] = time.monotonic() - stopping
        flushing = time.monotonic()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
        top.timings["flush"] = time.monotonic() - flushing
        note("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in top.timings.items()))


def _event(event_id: str, customer: str, action: str = "view", *, product: str = "p-live",
           timestamp: str | None = None, **extra: object) -> dict:
    from django.utils import timezone

    return {"event_id": event_id, "customer_id": customer, "session_id": f"s-{customer}", "action": action,
            "product_id": product, "product_title": f"Product {product}", "product_price": 12.5, "quantity": 1,
            "timestamp": timestamp or timezone.now().isoformat(), **extra}


async def _quiet(ws: ClientConnection, seconds: float) -> str | None:
    """None when the socket stayed open and silent for ``seconds``; else what happened."""
    started = time.monotonic()
    try:
        message = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return None
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
        return f"closed by the server after {time.monotonic() - started:.1f} s idle (code {code})"
    return f"unexpected message while idle: {message[:200]}"


async def _ack(ws: ClientConnection, events: list[dict]) -> dict:
    await ws.send(json.dumps({"events": events}))
    return json.loads(await asyncio.wait_for(ws.recv(), DEADLINE))


async def _update_with(ws: ClientConnection, wanted: str | set[str]) -> dict:
    """The first dashboard update whose feed holds the event ``wanted`` (or one of them)."""
    ids = {wanted} if isinstance(wanted, str) else wanted
    deadline = time.monotonic() + DEADLINE
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if message.get("type") == "update" and any(e.get("event_id") in ids for e in message["feed"]):
            return message


# --- 1. idle sockets ----------------------------------------------------------------------------


def test_ingest_and_dashboard_sockets_left_idle_for_15_s_still_work(topology):
    async def run() -> None:
        ingest = await topology.ingest_socket(topology.web2)
        dashboard = await topology.dashboard_socket(topology.web1)
        started = time.monotonic()
        idle = await asyncio.gather(_quiet(ingest, IDLE_SECONDS), _quiet(dashboard, IDLE_SECONDS))
        topology.timings["idle"] = time.monotonic() - started
        assert idle == [None, None], (f"ingest socket on web-2: {idle[0]}; dashboard socket on web-1: {idle[1]}\n"
                                      + topology.web2.errors() + topology.web1.errors())
        # Both still work: the next message is acknowledged, and the dashboard gets its push.
        event_id = f"idle-{uuid.uuid4()}"
        ack = await _ack(ingest, [_event(event_id, "idle-customer")])
        assert ack == {"type": "ack", "accepted": 1, "duplicates": [], "rejected": []}
        update = await _update_with(dashboard, event_id)
        assert update["feed"][0]["event_id"] == event_id
        await ingest.close()
        await dashboard.close()

    asyncio.run(run())
    note(f"both sockets idle {topology.timings['idle']:.1f} s, then acked and pushed")


# --- 2. across processes ------------------------------------------------------------------------


def test_event_ingested_through_web2_reaches_a_dashboard_on_web1(topology):
    samples = 10
    latencies: list[float] = []

    async def run() -> None:
        ingest = await topology.ingest_socket(topology.web2)
        dashboard = await topology.dashboard_socket(topology.web1)
        for n in range(samples):
            event_id = f"cross-{n}-{uuid.uuid4()}"
            sent = time.perf_counter()
            await ingest.send(json.dumps(_event(event_id, f"cross-{n}")))
            await _update_with(dashboard, event_id)  # raises if it does not come within DEADLINE
            latencies.append(time.perf_counter() - sent)
            ack = json.loads(await asyncio.wait_for(ingest.recv(), DEADLINE))
            assert ack["accepted"] == 1
            await asyncio.sleep(0.6)  # past the dashboard's 0.5 s coalescing, so every push is immediate
        await ingest.close()
        await dashboard.close()

    asyncio.run(run())
    assert len(latencies) == samples
    topology.timings["cross-process median"] = statistics.median(latencies)
    topology.timings["cross-process max"] = max(latencies)
    note("web-2 ingest -> web-1 dashboard push, ms: " + ", ".join(f"{x * 1000:.0f}" for x in latencies))


# --- 3. a web process killed mid-stream ---------------------------------------------------------


def _messages(prefix: str, count: int, size: int) -> list[dict]:
    return [{"events": [{"event_id": f"{prefix}-{m}-{i}", "customer_id": f"{prefix}-c{m % 7}", "action": "view",
                         "product_id": f"p-{i}", "product_price": 1.5, "timestamp": "2024-01-01T12:00:00Z"}
                        for i in range(size)]} for m in range(count)]


async def _stream(ws: ClientConnection, messages: list[dict], *, window: int, on_ack=None) -> list[dict]:
    """Send with up to ``window`` unacknowledged messages; returns the replies received before the
    stream completed or the server went away."""
    replies: list[dict] = []
    sent = 0
    try:
        while len(replies) < len(messages):
            while sent < len(messages) and sent - len(replies) < window:
                await ws.send(json.dumps(messages[sent]))
                sent += 1
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), DEADLINE)))
            if on_ack is not None:
                on_ack(len(replies))
    except (ConnectionClosed, OSError):
        pass
    return replies


def _event_ids(messages: list[dict]) -> list[str]:
    return [e["event_id"] for m in messages for e in m["events"]]


def _stored(event_ids: list[str]) -> int:
    from events.models import Event

    return sum(Event.objects.filter(event_id__in=event_ids[i:i + 2000]).count()
               for i in range(0, len(event_ids), 2000))


def test_web_process_killed_mid_stream_loses_no_acknowledged_event_and_resend_stores_each_once(topology):
    messages = _messages("kill-web", 300, 10)
    killed_at: list[float] = []
    # One event loop for the whole test, so a dashboard on web-1 stays open across web-2's death;
    # the database checks run between its steps (no loop running then).
    loop = asyncio.new_event_loop()
    dashboard = loop.run_until_complete(topology.dashboard_socket(topology.web1))
    try:
        def kill_at(acks: int) -> None:
            if acks == 60:
                topology.web2.kill()
                killed_at.append(time.monotonic())

        async def first_pass() -> list[dict]:
            ws = await topology.ingest_socket(topology.web2)
            return await _stream(ws, messages, window=20, on_ack=kill_at)

        replies = loop.run_until_complete(first_pass())
        assert killed_at and not topology.web2.alive
        assert 60 <= len(replies) < len(messages), "the kill did not land mid-stream"
        assert all(r["type"] == "ack" and r["accepted"] == 10 for r in replies)
        acked = _event_ids(messages[:len(replies)])
        assert _stored(acked) == len(acked)  # every acknowledged event is stored

        rest = messages[len(replies):]

        async def resend() -> list[dict]:
            ws = await topology.ingest_socket(topology.web1)
            out = await _stream(ws, rest, window=20)
            await ws.close()
            return out

        resent = loop.run_until_complete(resend())
        topology.timings["web resend"] = time.monotonic() - killed_at[0]
        assert len(resent) == len(rest) and all(r["type"] == "ack" for r in resent)
        # Events committed before the kill without their ack come back as duplicates: none twice.
        assert sum(r["accepted"] + len(r["duplicates"]) for r in resent) == len(_event_ids(rest))
        assert _stored(_event_ids(messages)) == 3000
        # The dashboard opened on web-1 before the kill gets pushes of events stored after it.
        after_kill = set(_event_ids(rest)) - {d for r in resent for d in r["duplicates"]}
        loop.run_until_complete(_update_with(dashboard, after_kill))
    finally:
        loop.run_until_complete(dashboard.close())
        loop.close()

    restarted = time.monotonic()
    topology.web2.start().wait_ready()
    topology.timings["web-2 restart"] = time.monotonic() - restarted

    async def after_restart() -> dict:
        ws = await topology.ingest_socket(topology.web2)
        ack = await _ack(ws, _messages("kill-web-after", 1, 10)[0]["events"])
        await ws.close()
        return ack

    assert asyncio.run(after_restart())["accepted"] == 10  # the restarted web-2 serves the same socket
    note(f"web-2 SIGKILLed after {len(replies)} of 300 acks; resent {len(rest)} messages to web-1 "
         f"({sum(r['accepted'] for r in resent)} new, {sum(len(r['duplicates']) for r in resent)} duplicates), "
         f"pushed to a web-1 dashboard open since before the kill; web-2 back in "
         f"{topology.timings['web-2 restart']:.1f} s")


# --- 4. the worker killed while deriving --------------------------------------------------------

BULK_MESSAGES = 100  # one pending window each: 5 derivation chunks of 20
BULK_CUSTOMERS_PER_MESSAGE = 5
BULK_DAYS = 28


def _bulk() -> list[dict]:
    """Old-timestamped shopping sessions: views, carts, purchases; each message its own customers."""
    messages = []
    actions = ["view", "view", "add_to_cart", "view", "add_to_cart", "remove_from_cart", "purchase"]
    for m in range(BULK_MESSAGES):
        events = []
        for c in range(BULK_CUSTOMERS_PER_MESSAGE):
            customer = f"bulk-c{m * BULK_CUSTOMERS_PER_MESSAGE + c}"
            for s in range(2):  # two sessions a customer, days apart
                day = 1 + (m + c + s * 9) % BULK_DAYS
                hour = (m * 7 + c * 3 + s * 5) % 24
                steps = actions if (m + c + s) % 3 == 0 else actions[:5]
                for i, action in enumerate(steps):
                    product = f"bulk-p{(m + c + i) % 40}"
                    event = {"event_id": f"bulk-{m}-{c}-{s}-{i}", "customer_id": customer,
                             "session_id": f"bulk-s{m}-{c}-{s}", "action": action, "product_id": product,
                             "product_title": f"Bulk product {product[6:]}", "product_price": 5 + (m + i) % 40,
                             "quantity": 1 + i % 2, "timestamp": f"2024-03-{day:02d}T{hour:02d}:{i * 3:02d}:00Z"}
                    if action == "purchase":
                        event["order_id"] = f"bulk-o{m}-{c}-{s}"
                    events.append(event)
        messages.append({"events": events})
    return messages


# The advisory lock every derivation transaction takes first (insights.rollup_store.derivation_lock).
DERIVATION_LOCK = importlib.import_module("insights.rollup_store").DERIVATION_LOCK_ID


def _pending() -> int:
    from insights.models import PendingWindow

    return PendingWindow.objects.count()


def _drains_finished(log: str) -> bool:
    """Every drain task the last started worker received (its log since its last "ready") has finished."""
    since = log.rsplit("ready.", 1)[-1]
    received = set(re.findall(r"process_pending_analytics_task\[([0-9a-f-]+)\] received", since))
    done = set(re.findall(r"process_pending_analytics_task\[([0-9a-f-]+)\] (?:succeeded|raised|failed)", since))
    return received <= done


def _without_row_ids(data: object) -> object:
    """Metrics minus the primary keys of derived rows, which a rebuild renumbers, and the time the kept RFM
    scores were refreshed, which a rebuild moves on (the scores themselves are compared)."""
    if isinstance(data, dict):
        return {k: _without_row_ids(v) for k, v in data.items() if k not in ("cart_pk", "rfm_as_of")}
    if isinstance(data, list):
        return [_without_row_ids(v) for v in data]
    return data


def test_worker_killed_while_deriving_then_restarted_ends_with_the_metrics_of_a_full_rebuild(topology):
    messages = _bulk()

    async def ingest() -> list[dict]:
        ws = await topology.ingest_socket(topology.web1)
        replies = await _stream(ws, messages, window=1)
        await ws.close()
        return replies

    # The bulk arrives while derivation is held back (this process holds the advisory lock every
    # derivation transaction takes first, as a long derivation would), so a backlog of one pending
    # window per message builds up however fast the worker is; the worker's task waits on the lock.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [DERIVATION_LOCK])
    try:
        started = time.monotonic()
        replies = asyncio.run(ingest())
        topology.timings["bulk ingest"] = time.monotonic() - started
        backlog = _pending()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [DERIVATION_LOCK])
    released = time.monotonic()
    assert len(replies) == len(messages) and all(r["type"] == "ack" and not r["rejected"] for r in replies)
    total = sum(r["accepted"] for r in replies)
    assert backlog >= BULK_MESSAGES

    # SIGKILL the worker with its pool once it is part-way through the backlog.
    deadline = released + 60
    while not 0 < (now := _pending()) < backlog:
        assert now, f"the worker derived the whole backlog ({backlog} windows) before the kill"
        assert time.monotonic() < deadline, f"the worker never started on {now} pending windows:\n" \
                                            + topology.worker.tail()
        time.sleep(0.02)
    topology.worker.kill()
    at_kill = _pending()
    topology.timings["derivation before kill"] = time.monotonic() - released
    note(f"bulk of {total} events ingested in {topology.timings['bulk ingest']:.1f} s; worker SIGKILLed "
         f"{topology.timings['derivation before kill']:.2f} s into deriving, {at_kill} of {backlog} windows left")
    assert at_kill > 0

    restarted = time.monotonic()
    topology.timings["worker restart"] = topology.worker.start().wait_ready()
    deadline = restarted + 120
    while _pending():
        assert topology.worker.alive, topology.worker.tail()
        assert time.monotonic() < deadline, "the restarted worker did not finish the backlog:\n" \
                                            + topology.worker.tail()
        time.sleep(0.2)
    # The last window's commit empties the queue before its drain refreshes the kept RFM scores: wait for
    # every drain the restarted worker took to finish (its refreshes with it).
    while not _drains_finished(topology.worker.log()):
        assert time.monotonic() < deadline, "a drain did not finish:\n" + topology.worker.tail()
        time.sleep(0.2)
    topology.timings["worker recovery"] = time.monotonic() - restarted

    incremental = topology.metrics()
    started = time.monotonic()
    rebuild = subprocess.run([sys.executable, "manage.py", "rebuild_rollups", "--no-progress"], cwd=ROOT,
                             env=topology.env, capture_output=True, text=True, timeout=300)
    topology.timings["rebuild_rollups"] = time.monotonic() - started
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
    rebuilt = topology.metrics()
    assert incremental["kpis"] and incremental["funnel"]
    (topology.worker.log_path.parent / "metrics-incremental.json").write_text(json.dumps(incremental, indent=1))
    (topology.worker.log_path.parent / "metrics-rebuilt.json").write_text(json.dumps(rebuilt, indent=1))
    for panel in METRIC_PANELS:
        assert _without_row_ids(incremental[panel]) == _without_row_ids(rebuilt[panel]), panel
    note(f"worker answered {topology.timings['worker restart']:.1f} s after its restart and drained the backlog "
         f"{topology.timings['worker recovery']:.1f} s after it; metrics equal "
         f"rebuild_rollups' ({rebuild.stdout.strip()})")
