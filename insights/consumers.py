"""/ws/dashboard/: live KPI and feed updates for open dashboard pages.

Session-authenticated (any role with VIEW_DASHBOARD; anonymous refused). The socket joins the
``settings.DASHBOARD_GROUP`` group, where the ingest service announces each committed batch
(``{"type": "dashboard.events", ...}``). Announcements are coalesced: a page gets at most one update
every ``MIN_INTERVAL`` seconds (2 a second), the first one right away. Each update is read from the
selectors, so it shows exactly what a reload would. When the channel layer is not shared between
processes (the embedded in-memory default), the socket also re-reads the selectors once a second
and pushes when something changed, so events written by other processes still show up live.

Each update carries ``freshness`` (selectors.derivation_status): how many events still wait to be
derived into sessions and carts. While some wait, the socket re-reads once a second on a shared layer
too (no announcement says when the worker catches up), so the page's banner and the derived figures
move, and the banner clears, by themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from accounts.roles import VIEW_DASHBOARD
from insights import charts, selectors
from insights.extensions import dashboard_notices
from insights.filters import MetricFilter

logger = logging.getLogger(__name__)

MIN_INTERVAL = 0.5  # seconds between two updates to one page
POLL_INTERVAL = 1.0  # when the channel layer is not shared
FEED_SIZE = 20
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def session_group(session_key: str) -> str:
    """The channel-layer group of the dashboard sockets opened with one login session.

    Named by a hash of the session key: group names end up in Redis keys, session keys are
    credentials."""
    return "dashboard.session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def _signed_in_user(session_key: str | None) -> Any:
    """The user the session still belongs to (password unchanged, account active), or None.

    Reads the session store afresh: a logout, an expiry or a password change elsewhere shows here."""
    if not session_key:
        return None
    from django.contrib.auth import get_user

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    user = get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    return user if user.is_authenticated and user.is_active else None


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Closes with 4401 when its login session ends (logout, expiry, password change) and with 4403
    when its user's role no longer allows dashboards: ``session.ended`` from the logout signal closes
    it at once, and the session is read again before every push."""

    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        allowed = await database_sync_to_async(lambda: user.can(VIEW_DASHBOARD))()
        if not allowed:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        # A bad filter (a date out of range, a control character) falls back to the default view,
        # as the pages do, and the reason goes to the page in the hello message.
        self.filter, self.filter_error = MetricFilter.from_query_or_default(params)
        self.last_push = 0.0
        self.last_fingerprint: Any = None
        self.pending: asyncio.Task | None = None
        self.poller: asyncio.Task | None = None
        self.deriving = False  # the last update said events wait to be derived
        self.ended = False
        session = self.scope.get("session")
        self.session_key: str | None = getattr(session, "session_key", None)
        self.user_pk = user.pk
        await self.channel_layer.group_add(settings.DASHBOARD_GROUP, self.channel_name)
        if self.session_key:
            await self.channel_layer.group_add(session_group(self.session_key), self.channel_name)
        self.joined = True
        await self.accept()
        hello: dict[str, Any] = {"type": "hello", "shared_layer": settings.CHANNEL_LAYER_SHARED}
        if self.filter_error:
            hello["filter_error"] = self.filter_error
        await self.send_json(hello)
        if not settings.CHANNEL_LAYER_SHARED:
            self.poller = asyncio.create_task(self._poll())
        else:
            # The page was rendered with the banner: watch until derivation catches up.
            freshness = await database_sync_to_async(selectors.derivation_status)()
            self._watch(freshness)

    async def disconnect(self, code: int) -> None:
        for task in (getattr(self, "pending", None), getattr(self, "poller", None)):
            if task is not None:
                task.cancel()
        if getattr(self, "joined", False):
            self.joined = False
            await self.channel_layer.group_discard(settings.DASHBOARD_GROUP, self.channel_name)
            if self.session_key:
                await self.channel_layer.group_discard(session_group(self.session_key), self.channel_name)

    # Group message sent when this socket's login session logs out (insights.services.dashboard_session_end).
    async def session_ended(self, message: dict[str, Any]) -> None:
        await self._end(CLOSE_UNAUTHENTICATED)

    async def _end(self, code: int) -> None:
        if self.ended:
            return
        self.ended = True
        current = asyncio.current_task()
        for task in (self.pending, self.poller):
            if task is not None and task is not current:
                task.cancel()
        self.pending = self.poller = None
        await self.close(code=code)
        await self.disconnect(code)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "refresh":
            self._schedule()

    # Group message from the ingest service, after its commit.
    async def dashboard_events(self, message: dict[str, Any]) -> None:
        self._schedule()

    def _schedule(self) -> None:
        """Coalesce: one push in flight at a time, never two within MIN_INTERVAL."""
        if self.ended:
            return
        if self.pending is None or self.pending.done():
            self.pending = asyncio.create_task(self._push_soon())

    async def _push_soon(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self.last_push + MIN_INTERVAL - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self.last_push = loop.time()
        self.pending = None  # announcements from now on need another push
        await self._push(force=True)

    def _watch(self, freshness: dict[str, Any]) -> None:
        """On a shared layer, poll while events wait to be derived (the unshared layer always polls)."""
        self.deriving = bool(freshness["pending_batches"])
        if self.deriving and (self.poller is None or self.poller.done()):
            self.poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            if loop.time() - self.last_push < MIN_INTERVAL:
                continue
            try:
                if not await self._push(force=False):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed read must not end the live socket
                logger.exception("dashboard poll failed")
            if settings.CHANNEL_LAYER_SHARED and not self.deriving:
                return  # caught up: announcements drive the updates again

    async def _push(self, *, force: bool) -> bool:
        """Send an update (unless unchanged and not forced). False when the socket was closed instead."""
        snapshot = await database_sync_to_async(self._snapshot)()
        if isinstance(snapshot, int):  # signed out or no longer allowed: a close code
            await self._end(snapshot)
            return False
        freshness = snapshot["freshness"]
        fingerprint = (snapshot["kpis"], [e.get("event_id") for e in snapshot["feed"]],
                       freshness["pending_events"], freshness["derived_through"], freshness["message"],
                       snapshot["notices"])
        self.deriving = bool(freshness["pending_batches"])
        if not force and fingerprint == self.last_fingerprint:
            return True
        self.last_fingerprint = fingerprint
        self.last_push = asyncio.get_running_loop().time()
        await self.send_json({"type": "update", **snapshot})
        if settings.CHANNEL_LAYER_SHARED:
            self._watch(freshness)
        return True

    def _snapshot(self) -> dict[str, Any] | int:
        user = _signed_in_user(self.session_key)
        if user is None or user.pk != self.user_pk:
            return CLOSE_UNAUTHENTICATED
        if not user.can(VIEW_DASHBOARD):
            return CLOSE_FORBIDDEN
        # KPI cards and the feed hold no personal data (the feed: the store's customer id only), so
        # every role gets the same update: nothing to mask.
        kpis = selectors.kpis_stats(self.filter, with_revenue_source=False)  # the cards show no note
        return {"kpis": charts.kpi_cards(kpis), "feed": selectors.events_latest(FEED_SIZE),
                "freshness": selectors.derivation_status(), "notices": dashboard_notices()}
