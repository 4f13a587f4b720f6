"""manage.py simulate: backfill simulated history, run one live tick, ensure the beat schedule,
reset the demo data, or stream simulated events to a running server as a load generator."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm


class Command(BaseCommand):
    help = (
        "Simulated shoppers (issue 4). Default: backfill history, e.g. "
        "`simulate --days 180 --customers 2000 [--events N] [--seed S]`, through the ingest service. "
        "`--live --ws ws://HOST/ws/events/ --key KEY --rate R [--duration S]` streams to a running "
        "server over a WebSocket and prints acknowledged events/s. `--schedule` creates the beat "
        "task (idempotent), `--tick` runs one live tick, `--reset` deletes the demo events."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=30, help="history window before now (default 30)")
        parser.add_argument("--customers", type=int, default=2000, help="shoppers 1..N, seeded if missing")
        parser.add_argument("--events", type=int, default=None,
                            help="about this many events (whole sessions; default: follows visit rates)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--chunk-size", type=int, default=20_000)
        parser.add_argument("--if-empty", action="store_true", help="backfill only when there are no events yet")
        parser.add_argument("--schedule", action="store_true",
                            help="ensure the django-celery-beat task for the live simulator, then stop "
                                 "(or backfill too with --backfill)")
        parser.add_argument("--backfill", action="store_true", help="with --schedule/--tick: also backfill")
        parser.add_argument("--tick", action="store_true", help="run one live tick now")
        parser.add_argument("--reset", action="store_true", help="delete every event and derived metric")
        parser.add_argument("--live", action="store_true", help="load generator: stream over a WebSocket")
        parser.add_argument("--ws", default="ws://127.0.0.1:8000/ws/events/", help="WebSocket URL (--live)")
        parser.add_argument("--key", default=None, help="ingest key (--live)")
        parser.add_argument("--rate", type=float, default=1000.0, help="events a second (--live)")
        parser.add_argument("--duration", type=float, default=None, help="seconds (--live; default: until Ctrl-C)")
        parser.add_argument("--batch", type=int, default=100, help="events per message (--live)")

    def handle(self, *args, **o):
        if o["live"]:
            if not o["key"]:
                raise CommandError("--live needs --key (an ingest key)")
            return self._live(o)
        did_something = False
        if o["reset"]:
            from events.simulation import simulator_reset_demo

            self.stdout.write(f"Demo data reset: {simulator_reset_demo()} events deleted.")
            did_something = True
        if o["schedule"]:
            from events.simulation import simulator_schedule_ensure, simulator_state_get

            task = simulator_schedule_ensure()
            state = simulator_state_get()
            self.stdout.write(f"Beat task {task.name!r} ({task.interval}); simulator "
                              f"{'running' if state.enabled else 'paused'}.")
            did_something = True
        if o["tick"]:
            from events.simulation import simulator_tick

            self.stdout.write(str(simulator_tick()))
            did_something = True
        if did_something and not o["backfill"]:
            return None
        return self._backfill(o)

    def _backfill(self, o):
        from events.models import Event
        from events.simulation import simulator_backfill

        if o["if_empty"] and Event.objects.exists():
            self.stdout.write("Events already present: no backfill.")
            return None
        total = o["events"]
        with tqdm(total=total, desc="events", unit="ev", unit_scale=True, disable=None) as bar:
            result = simulator_backfill(days=o["days"], customers=o["customers"], events=o["events"],
                                        seed=o["seed"], chunk_size=o["chunk_size"], progress=bar.update)
        seconds = result.generate_seconds + result.ingest_seconds
        self.stdout.write(self.style.SUCCESS(
            f"{result.events} events in {result.sessions} sessions, {result.start:%Y-%m-%d %H:%M} → "
            f"{result.end:%Y-%m-%d %H:%M} UTC: {result.accepted} stored, {result.duplicates} duplicates, "
            f"{result.rejected} rejected; {result.customers_seeded} customers and {result.products_created} "
            f"products seeded. Generation {result.generate_seconds:.1f} s, ingest {result.ingest_seconds:.1f} s "
            f"({result.events / max(seconds, 1e-9):,.0f} events/s)."))
        if result.rejected:
            raise CommandError(f"{result.rejected} events were rejected")
        return None

    # --- load generator --------------------------------------------------------------------
    def _live(self, o):
        try:
            summary = asyncio.run(stream_events(ws=o["ws"], key=o["key"], rate=o["rate"], duration=o["duration"],
                                                batch=o["batch"], customers=o["customers"], seed=o["seed"],
                                                write=self.stdout.write))
        except KeyboardInterrupt:
            return None
        except OSError as exc:
            raise CommandError(f"could not stream to {o['ws']}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(
            f"{summary['acked']} events acknowledged in {summary['seconds']:.1f} s "
            f"({summary['acked'] / max(summary['seconds'], 1e-9):,.0f} events/s), "
            f"{summary['rejected']} rejected, {summary['errors']} error replies."))
        return None


def _event_source(*, rate: float, customers: int, seed: int):
    """Endless simulated events: rounds of a minute's worth, each drawn as history over the six
    hours before the round (timestamps never in the future, ids unique per round)."""
    import json as _json
    from datetime import UTC, datetime

    from events.simulator import StoreModel, backfill, catalogue_from_items, synthetic_customers
    from products.services import CATALOGUE_PATH

    model = StoreModel(synthetic_customers(customers, seed=seed),
                       catalogue_from_items(_json.loads(CATALOGUE_PATH.read_text())), seed=seed)
    round_no = 0
    while True:
        end = datetime.now(UTC)
        history = backfill(model, start=end - timedelta(hours=6), end=end, seed=seed + round_no,
                           target_events=max(200, int(rate * 60)))
        round_no += 1
        yield from history.events()


async def stream_events(*, ws: str, key: str, rate: float, duration: float | None, batch: int, customers: int,
                        seed: int, write=print) -> dict:
    """Send simulated events at ``rate`` events/s in messages of ``batch`` over one WebSocket (the
    key in an ``Authorization: Bearer`` header); count the acknowledgements (sent after commit) and
    report acknowledged events/s each second. Events of a message answered with an error (busy,
    rate limited) are counted as not delivered."""
    from collections import deque

    import websockets

    source = _event_source(rate=rate, customers=customers, seed=seed)
    counts = {"acked": 0, "rejected": 0, "errors": 0, "sent": 0, "undelivered": 0}
    sizes: deque[int] = deque()  # events of each unanswered message (replies come in order)
    async with websockets.connect(ws, max_size=None, additional_headers={"Authorization": f"Bearer {key}"}) as conn:
        async def receive():
            async for message in conn:
                reply = json.loads(message)
                size = sizes.popleft() if sizes else 0
                if reply.get("type") == "ack":
                    counts["acked"] += int(reply.get("accepted", 0)) + len(reply.get("duplicates", []))
                    counts["rejected"] += len(reply.get("rejected", []))
                else:
                    counts["errors"] += 1
                    counts["undelivered"] += size

        receiver = asyncio.create_task(receive())
        started = time.perf_counter()
        last_report, last_acked = started, 0
        try:
            while True:
                now = time.perf_counter()
                elapsed = now - started
                if duration is not None and elapsed >= duration:
                    break
                due = int(rate * elapsed) - counts["sent"]
                in_flight = counts["sent"] - counts["acked"] - counts["rejected"] - counts["undelivered"]
                while due > 0 and in_flight < min(max(rate * 5, batch * 4), 15_000):
                    size = min(batch, due)
                    events = [next(source) for _ in range(size)]
                    sizes.append(size)
                    await conn.send(json.dumps({"events": events}))
                    counts["sent"] += size
                    due -= size
                    in_flight += size
                if now - last_report >= 1.0:
                    write(f"{elapsed:6.1f} s  sent {counts['sent']:>9}  acknowledged {counts['acked']:>9}  "
                          f"{(counts['acked'] - last_acked) / (now - last_report):>9,.0f} acked events/s")
                    last_report, last_acked = now, counts["acked"]
                await asyncio.sleep(0.005)
            deadline = time.perf_counter() + 30
            while (counts["acked"] + counts["rejected"] + counts["undelivered"] < counts["sent"]
                   and time.perf_counter() < deadline):
                await asyncio.sleep(0.01)
        finally:
            receiver.cancel()
        counts["seconds"] = time.perf_counter() - started
    return counts
