"""The load generator (``simulate --live``): simulated events streamed to a running server over one
WebSocket at a set rate, counting what the server acknowledges. No database: the events come from
the pure simulator over synthetic customers and the shipped catalogue."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import websockets

from events.simulator import StoreModel, backfill, catalogue_from_items, synthetic_customers
from products.services import CATALOGUE_PATH

ROUND_SECONDS = 60  # events drawn a round at a time: a minute's worth
ROUND_HISTORY = timedelta(hours=6)  # each round is history over the six hours before it
MAX_IN_FLIGHT = 15_000  # events sent and not yet answered, at most
DRAIN_SECONDS = 30  # how long to wait for the last answers


def endless_events(*, rate: float, customers: int, seed: int) -> Iterator[dict]:
    """Simulated events without end: rounds of a minute's worth, each drawn as history over the
    six hours before the round (timestamps never in the future, ids unique per round)."""
    catalogue = catalogue_from_items(json.loads(CATALOGUE_PATH.read_text()))
    model = StoreModel(synthetic_customers(customers, seed=seed), catalogue, seed=seed)
    round_no = 0
    while True:
        end = datetime.now(UTC)
        history = backfill(model, start=end - ROUND_HISTORY, end=end, seed=seed + round_no,
                           target_events=max(200, int(rate * ROUND_SECONDS)))
        round_no += 1
        yield from history.events()


@dataclass
class StreamCounts:
    acked: int = 0         # accepted or duplicates
    rejected: int = 0
    errors: int = 0        # messages answered with an error (busy, rate limited)
    sent: int = 0
    undelivered: int = 0   # events of the messages answered with an error
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return self.acked + self.rejected + self.undelivered


async def _count_replies(conn, counts: StreamCounts, sizes: deque[int]) -> None:
    """Count each reply against the message it answers (replies come in order)."""
    async for message in conn:
        reply = json.loads(message)
        size = sizes.popleft() if sizes else 0
        if reply.get("type") == "ack":
            counts.acked += int(reply.get("accepted", 0)) + len(reply.get("duplicates", []))
            counts.rejected += len(reply.get("rejected", []))
        else:
            counts.errors += 1
            counts.undelivered += size


async def _send_due(conn, source: Iterator[dict], counts: StreamCounts, sizes: deque[int], *,
                    due: int, batch: int, window: float) -> None:
    """Send ``due`` events in messages of ``batch``, keeping at most ``window`` events unanswered."""
    in_flight = counts.sent - counts.answered
    while due > 0 and in_flight < window:
        size = min(batch, due)
        events = [next(source) for _ in range(size)]
        sizes.append(size)
        await conn.send(json.dumps({"events": events}))
        counts.sent += size
        due -= size
        in_flight += size


async def _stream(conn, source: Iterator[dict], counts: StreamCounts, sizes: deque[int], *, started: float,
                  rate: float, duration: float | None, batch: int, write: Callable[[str], object]) -> None:
    """Pace the sending at ``rate`` from ``started`` until ``duration``, writing acknowledged
    events/s each second, then wait (a bounded time) for the last answers."""
    last_report, last_acked = started, 0
    window = min(max(rate * 5, batch * 4), MAX_IN_FLIGHT)
    while True:
        now = time.perf_counter()
        elapsed = now - started
        if duration is not None and elapsed >= duration:
            break
        await _send_due(conn, source, counts, sizes, due=int(rate * elapsed) - counts.sent, batch=batch,
                        window=window)
        if now - last_report >= 1.0:
            write(f"{elapsed:6.1f} s  sent {counts.sent:>9}  acknowledged {counts.acked:>9}  "
                  f"{(counts.acked - last_acked) / (now - last_report):>9,.0f} acked events/s")
            last_report, last_acked = now, counts.acked
        await asyncio.sleep(0.005)
    deadline = time.perf_counter() + DRAIN_SECONDS
    while counts.answered < counts.sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)


async def stream_events(*, ws: str, key: str, rate: float, duration: float | None, batch: int, customers: int,
                        seed: int, write: Callable[[str], object] = print) -> dict:
    """Send simulated events at ``rate`` events/s in messages of ``batch`` over one WebSocket (the
    key in an ``Authorization: Bearer`` header); count the acknowledgements (sent after commit) and
    report acknowledged events/s each second. Events of a message answered with an error (busy,
    rate limited) are counted as not delivered. Returns the counts and the seconds taken."""
    source = endless_events(rate=rate, customers=customers, seed=seed)
    counts = StreamCounts()
    sizes: deque[int] = deque()  # events of each unanswered message
    async with websockets.connect(ws, max_size=None, additional_headers={"Authorization": f"Bearer {key}"}) as conn:
        receiver = asyncio.create_task(_count_replies(conn, counts, sizes))
        started = time.perf_counter()
        try:
            await _stream(conn, source, counts, sizes, started=started, rate=rate, duration=duration, batch=batch,
                          write=write)
        finally:
            receiver.cancel()
        counts.seconds = time.perf_counter() - started
    return asdict(counts)
