"""WebSocket ingest: ``/ws/events/`` (docs/sending-events.md).

A message is one event or ``{"events": [...]}``; each gets exactly one reply, in order, sent after
its events are committed. Messages are parsed as they arrive and queued; one writer task per
connection takes everything queued (up to INGEST_MAX_BATCH_EVENTS events) and stores it in one
transaction, so one-event messages arriving close together share a commit (group commit): a
group closes when no message came for GATHER_GAP, when it reaches the batch cap, or
INGEST_GROUP_COMMIT_MS after its first message. While groups commit (up to PARALLEL_GROUPS at
once) the next group gathers; a reply task sends the replies in message order.

The key comes only from ``Authorization: Bearer`` (a key in the URL is refused with a
reason) and is re-checked inside each group's transaction, so a revoked key stops at its next
message. Every message gets a reply, whatever it holds (a message that cannot be parsed gets an
error reply with a ``code``; the connection stays open). A key over its rate limit
(events/ratelimit.py) gets ``rate_limited`` with ``retry_after``; the unanswered backlog of a
connection is bounded (``busy`` replies, see ``_admit``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import connection

from events import wire
from events.credentials import bearer_secret, key_in_query
from events.ratelimit import ingest_rate_limit
from events.services import (
    IngestKeyRevoked,
    IngestUnavailable,
    KeyCredential,
    events_ingest_parsed,
    ingest_key_authenticate,
    source_of_key,
)

logger = logging.getLogger(__name__)

# Close codes (RFC 6455 §7.4; 4000-4999 are the application's).
# (daphne lets an application send only 1000 and 3000-4999.)
CLOSE_KEY_REFUSED = 4401  # a key in the URL
CLOSE_KEY_REVOKED = 4401  # the key was revoked (or rotated) while connected
CLOSE_TOO_MANY_UNANSWERED = 4429


def key_from_scope(scope: dict[str, Any]) -> str | None:
    """The ingest key from ``Authorization: Bearer …``."""
    for name, value in scope.get("headers", []):
        if name == b"authorization" and (secret := bearer_secret(value.decode("latin-1"))):
            return secret
    return None


def error_reply(reason: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "error": reason, "code": code, **extra}


def parse_message(data: str | bytes) -> list[Any] | dict[str, Any]:
    """A message's events, or an error reply."""
    limit = settings.INGEST_MAX_MESSAGE_BYTES
    size = len(data)
    if size > limit or (isinstance(data, str) and size * 4 > limit
                        and len(data.encode("utf-8", "surrogatepass")) > limit):
        return error_reply(f"message larger than {limit} bytes", "too_large")
    try:
        return wire.native_events(wire.loads(data), max_events=settings.INGEST_MAX_BATCH_EVENTS, noun="message")
    except (wire.MessageError, wire.EnvelopeError) as exc:
        return error_reply(exc.reason, exc.code)


_STOP = object()
ACK_ONE = json.dumps({"type": "ack", "accepted": 1, "duplicates": [], "rejected": []})
# A group keeps gathering while messages arrive less than this apart (bounded by the group-commit
# window): a lone message waits at most this long, a stream is committed in groups.
GATHER_GAP = 0.002
# Groups of one connection committing at once, each on its own database connection (PostgreSQL;
# SQLite has one writer). Replies still go out in message order. The unique event_id index, rows
# taken in sorted order and the retry on deadlock keep concurrent groups correct.
PARALLEL_GROUPS = 2



def _ingest(**kwargs: Any) -> Any:
    return events_ingest_parsed(**kwargs)


_ingest_in_thread = database_sync_to_async(_ingest)
_ingest_in_pool = database_sync_to_async(_ingest, thread_sensitive=False)


def _size(item: Any) -> int:
    if type(item) is wire.ParsedBatch:
        return len(item.events) + len(item.rejected)
    return 0


class IngestConsumer(AsyncWebsocketConsumer):
    writer: asyncio.Future[None] | None = None
    closing = True  # until a key is accepted: a refused connection processes no message

    async def connect(self) -> None:
        if key_in_query(self.scope.get("query_string", b"").decode("latin-1")):
            # Accepted only to say why: a key in the URL is refused even when it is valid.
            await self.accept()
            await self.send(text_data=json.dumps(error_reply(
                "ingest keys are not accepted in the URL (proxies and servers log URLs): "
                "send the header 'Authorization: Bearer <key>'", "key_in_url")))
            await self.close(code=CLOSE_KEY_REFUSED, reason="key in URL refused; send Authorization: Bearer <key>")
            return
        key = await database_sync_to_async(ingest_key_authenticate)(secret=key_from_scope(self.scope))
        if key is None or key.is_public:  # public (browser) keys send over HTTP only, from their origins
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.key_name = key.name
        self.credential = KeyCredential.of(key)
        self.source = await database_sync_to_async(source_of_key)(key)
        self.limit_key = key.secret_hash[:16]
        self.limit = ingest_rate_limit()
        self.pending: asyncio.Queue[Any] = asyncio.Queue()
        self.committing: asyncio.Queue[Any] = asyncio.Queue()  # (group, future) in message order
        parallel = PARALLEL_GROUPS if connection.vendor == "postgresql" else 1
        self.slots = asyncio.Semaphore(parallel)
        self.ingest = _ingest_in_pool if parallel > 1 else _ingest_in_thread
        self.client_gone = False
        self.closing = False
        # Received, not yet answered: bounded (backpressure), see _admit.
        self.unanswered_events = 0
        self.unanswered_messages = 0
        self.writer = asyncio.ensure_future(self._write_loop())
        self.replier = asyncio.ensure_future(self._reply_loop())
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        try:
            item = await self._admit(text_data if text_data is not None else bytes_data)
        except Exception:  # noqa: BLE001 - one message must never end the connection
            logger.exception("ingest message from %s not processed", self.key_name)
            item = error_reply("message not processed (server error)", "server_error")
        if item is None:
            return
        self.unanswered_messages += 1
        self.pending.put_nowait(item)

    async def _admit(self, data: str | bytes | None) -> Any:
        """What to queue for a message: its validated batch, or the error to reply (in order).

        Backpressure: while more than INGEST_MAX_PENDING_EVENTS events (or
        INGEST_MAX_PENDING_MESSAGES messages) wait for their reply, a message is not stored and
        gets a retryable "busy" error (the client resends it once acks come back). Daphne reads
        the socket whatever the application does, so not reading would only move the queue into
        daphne; a client that keeps sending past ten times the message limit is disconnected.
        """
        max_messages = settings.INGEST_MAX_PENDING_MESSAGES
        if self.unanswered_messages >= 10 * max_messages:
            self.closing = True
            logger.warning("ingest client %s disconnected: %d messages unanswered", self.key_name,
                           self.unanswered_messages)
            await self.close(code=CLOSE_TOO_MANY_UNANSWERED,
                             reason=f"over {10 * max_messages} messages unanswered; wait for replies")
            return None
        parsed = parse_message(data if data is not None else "")
        if type(parsed) is not list:
            return parsed
        count = len(parsed)
        max_events = settings.INGEST_MAX_PENDING_EVENTS
        if self.unanswered_messages >= max_messages or (
                self.unanswered_events and self.unanswered_events + count > max_events):
            return error_reply(
                f"busy: {self.unanswered_events} events in {self.unanswered_messages} messages await their "
                f"reply on this connection (at most {max_events} events, {max_messages} messages); this "
                f"message was not stored: resend it after replies arrive", "busy", retry_after=1)
        limit = self.limit
        if limit is not None and count:
            wait = await limit.atake(self.limit_key, count)
            if wait:
                return error_reply(
                    f"rate limit of {limit.rate:,.0f} events a second for this key exceeded; this message was "
                    f"not stored: resend it in {wait:.2f} s", "rate_limited", retry_after=round(wait, 3))
        # Validate now, while earlier groups commit on database threads.
        self.unanswered_events += count
        return wire.parse_batch(parsed, wire.latest_allowed())

    async def disconnect(self, code: int) -> None:
        writer = self.writer
        if writer is None:
            return
        self.client_gone = True
        self.pending.put_nowait(_STOP)
        try:
            # Store what was received; the client gets no reply and may resend (idempotent).
            await asyncio.wait_for(asyncio.shield(asyncio.gather(writer, self.replier)), timeout=30)
        except TimeoutError:
            logger.warning("ingest writer for %s still busy after disconnect", self.key_name)

    async def _write_loop(self) -> None:
        """Gather messages into groups and start their commits (at most PARALLEL_GROUPS at once)."""
        try:
            nxt = await self.pending.get()
            while nxt is not _STOP:
                # Wait for a free commit slot first: what arrives meanwhile joins this group.
                await self.slots.acquire()
                group, nxt = await self._gather(nxt)
                self._start(group)
                if nxt is None:
                    nxt = await self.pending.get()
        finally:
            self.committing.put_nowait(_STOP)

    async def _gather(self, first: Any) -> tuple[list[Any], Any]:
        """A group from ``first``: everything already queued, then whatever keeps arriving close
        together (gaps under GATHER_GAP), for at most the group-commit window from the first one
        and up to INGEST_MAX_BATCH_EVENTS events. Returns it and the item that did not fit (the
        next group's first, or _STOP), or None."""
        cap = settings.INGEST_MAX_BATCH_EVENTS
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.INGEST_GROUP_COMMIT_MS / 1000
        pending = self.pending
        group, count = [first], _size(first)
        while count < cap:
            if pending.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    nxt = await asyncio.wait_for(pending.get(), min(remaining, GATHER_GAP))
                except TimeoutError:
                    break
            else:
                nxt = pending.get_nowait()
            size = _size(nxt)
            if nxt is _STOP or count + size > cap:
                return group, nxt
            group.append(nxt)
            count += size
        return group, None

    def _start(self, group: list[Any]) -> None:
        """Start committing a group (its slot is taken); the reply task awaits it in order."""
        batches = [item for item in group if type(item) is wire.ParsedBatch]
        future = asyncio.ensure_future(
            self.ingest(batches=batches, source=self.source, credential=self.credential)) if batches else None
        self.committing.put_nowait((group, future))

    async def _reply_loop(self) -> None:
        """One reply per message, in message order, each after its group committed."""
        while True:
            entry = await self.committing.get()
            if entry is _STOP:
                return
            group, future = entry
            results, failure = await self._outcome(future) if future is not None else ([], None)
            self.slots.release()
            if not self.client_gone and not self.closing:
                await self._reply(group, results, failure)
            for item in group:
                self.unanswered_messages -= 1
                self.unanswered_events -= _size(item)
            if failure is not None and failure["code"] == "key_revoked" and not self.closing:
                self.closing = True
                await self.close(code=CLOSE_KEY_REVOKED, reason="ingest key revoked")

    async def _outcome(self, future: asyncio.Future[Any]) -> tuple[list[Any], dict[str, Any] | None]:
        """A group's results, or the error reply every message of it gets."""
        try:
            return await future, None
        except IngestKeyRevoked:
            return [], error_reply("this ingest key was revoked (or given a new secret): events not stored",
                                   "key_revoked")
        except IngestUnavailable as exc:
            logger.warning("ingest for %s not stored: %s", self.key_name, exc)
            return [], error_reply(IngestUnavailable.reason, "unavailable", retry_after=1)
        except Exception:  # noqa: BLE001 - answer every message
            logger.exception("ingest failed for %s", self.key_name)
            return [], error_reply("events not stored (server error)", "server_error")

    async def _reply(self, group: list[Any], results: list[Any], failure: dict[str, Any] | None) -> None:
        it = iter(results)
        for item in group:
            if type(item) is wire.ParsedBatch:
                if failure is not None:
                    text = json.dumps(failure)
                else:
                    result = next(it)
                    if result.accepted == 1 and not result.duplicates and not result.rejected:
                        text = ACK_ONE
                    else:
                        text = json.dumps(result.as_ack())
            else:
                text = json.dumps(item)
            try:
                await self.send(text_data=text)
            except Exception:  # noqa: BLE001 - the client went away; what was stored stays stored
                logger.info("ingest client %s gone before its reply", self.key_name)
                self.client_gone = True
                return
