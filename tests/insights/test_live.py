"""/ws/dashboard/: session-authenticated live updates, coalesced, for every role; anonymous refused."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.roles import Role
from analytics_site.routing import websocket_application
from events.services import events_ingest

pytestmark = pytest.mark.django_db(transaction=True)


def _headers(user=None, origin: bytes = b"http://testserver") -> list[tuple[bytes, bytes]]:
    """Browser-like headers; with a user, the session cookie of a real login (built outside the loop)."""
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


def _communicator(headers, path="/ws/dashboard/") -> WebsocketCommunicator:
    return WebsocketCommunicator(websocket_application, path, headers=headers)


async def _open(headers) -> tuple[WebsocketCommunicator, dict]:
    """A connected dashboard socket and its hello message."""
    comm = _communicator(headers)
    connected, _ = await comm.connect()
    assert connected
    return comm, await comm.receive_json_from(timeout=5)


async def _updates(comm: WebsocketCommunicator, quiet: float = 1.5) -> list[dict]:
    """Every update until the socket has been quiet for ``quiet`` seconds."""
    out = []
    while not await comm.receive_nothing(timeout=quiet, interval=0.02):
        message = await comm.receive_json_from(timeout=5)
        if message.get("type") == "update":
            out.append(message)
    return out


def _event(n: int) -> dict:
    from django.utils import timezone

    return {"event_id": f"live-{n}", "customer_id": "7", "session_id": "s-live", "action": "view",
            "product_id": "p-live", "product_title": "Live lamp", "product_price": 12.5, "quantity": 1,
            "timestamp": timezone.now().isoformat()}


def test_anonymous_socket_is_refused():
    async def run():
        comm = _communicator(_headers())
        connected, code = await comm.connect()
        assert not connected
        assert code == 4401

    async_to_sync(run)()


def test_socket_without_role_is_refused(make_user):
    headers = _headers(make_user(None))

    async def run():
        comm = _communicator(headers)
        connected, code = await comm.connect()
        assert not connected
        assert code == 4403

    async_to_sync(run)()


def test_foreign_origin_is_refused(make_user):
    headers = _headers(make_user(Role.VIEWER), origin=b"http://evil.example")

    async def run():
        comm = _communicator(headers)
        connected, _ = await comm.connect()
        assert not connected

    async_to_sync(run)()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST, Role.ADMIN])
def test_each_role_gets_kpis_and_feed_after_a_committed_batch(make_user, role):
    headers = _headers(make_user(role))

    async def run():
        comm, hello = await _open(headers)
        assert hello == {"type": "hello", "shared_layer": settings.CHANNEL_LAYER_SHARED}
        # The real ingest service commits and broadcasts {"type": "dashboard.events"} on commit.
        result = await sync_to_async(events_ingest)(raw_events=[_event(1), _event(2)])
        assert result.accepted == 2
        update = await comm.receive_json_from(timeout=5)
        assert update["type"] == "update"
        kpis = {c["key"]: c for c in update["kpis"]}
        assert kpis["events"]["value"] == 2 and kpis["events"]["display"] == "2"
        assert [e["event_id"] for e in update["feed"]][:2] == ["live-2", "live-1"] or \
            {e["event_id"] for e in update["feed"]} == {"live-1", "live-2"}
        assert update["feed"][0]["product_title"] == "Live lamp"
        await comm.disconnect()

    async_to_sync(run)()


def test_announcements_are_coalesced(make_user):
    headers = _headers(make_user(Role.VIEWER))

    async def run():
        comm, _hello = await _open(headers)
        await sync_to_async(events_ingest)(raw_events=[_event(10)], broadcast=False)
        layer = get_channel_layer()
        for _ in range(10):
            await layer.group_send(settings.DASHBOARD_GROUP, {"type": "dashboard.events", "accepted": 1, "events": []})
        updates = await _updates(comm)
        # Ten announcements sent back to back: the first is answered at once, the rest folded into
        # one more update (plus at most one from the once-a-second refresh on an unshared layer).
        assert 1 <= len(updates) <= 3
        assert updates[-1]["kpis"][0]["value"] == 1
        await comm.disconnect()

    async_to_sync(run)()


@pytest.mark.skipif(settings.CHANNEL_LAYER_SHARED, reason="the once-a-second refresh runs only on an unshared layer")
def test_unshared_layer_refreshes_from_the_selectors(make_user):
    """Events written by another process (no broadcast reaches this one) still show up."""
    headers = _headers(make_user(Role.VIEWER))

    async def run():
        comm, _hello = await _open(headers)
        await sync_to_async(events_ingest)(raw_events=[_event(20)], broadcast=False)
        update = await comm.receive_json_from(timeout=5)
        assert update["type"] == "update"
        assert update["feed"][0]["event_id"] == "live-20"
        await comm.disconnect()

    async_to_sync(run)()


def test_updates_say_what_waits_to_be_derived_and_clear_by_themselves(make_user):
    """The banner's data rides on every update; when the worker catches up, an update clears it with no
    new event and no announcement (on a shared layer too)."""
    import datetime as dt

    from django.utils import timezone

    from insights.models import PendingWindow
    from insights.services import analytics_process_pending

    headers = _headers(make_user(Role.VIEWER))
    assert events_ingest(raw_events=[_event(30), _event(31), _event(32)], broadcast=False).accepted == 3
    PendingWindow.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))  # the worker is behind

    async def run():
        comm, _hello = await _open(headers)
        await comm.send_json_to({"type": "refresh"})
        update = await comm.receive_json_from(timeout=5)
        assert update["type"] == "update"
        fresh = update["freshness"]
        assert (fresh["pending_events"], fresh["pending_batches"]) == (3, 1)
        assert "3 events being processed" in fresh["message"]
        await sync_to_async(analytics_process_pending)()  # what the worker's beat task does
        cleared = await comm.receive_json_from(timeout=5)
        assert cleared["type"] == "update"
        assert cleared["freshness"] == {"pending_events": 0, "pending_batches": 0, "derived_through": None,
                                        "lag_seconds": 0, "set_aside_windows": 0, "message": None}
        assert {c["key"]: c for c in cleared["kpis"]}["sessions"]["value"] == 1  # derived now
        await comm.disconnect()

    async_to_sync(run)()
