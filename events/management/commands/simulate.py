"""manage.py simulate: backfill simulated history, run one live tick, ensure the beat schedule,
reset the demo data, or stream simulated events to a running server as a load generator."""

from __future__ import annotations

import asyncio

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from events.load_generator import stream_events
from events.management.derive_step import derive_stored
from events.models import Event
from events.simulation import (
    BackfillResult,
    simulator_backfill,
    simulator_history_extend,
    simulator_reset_demo,
    simulator_schedule_ensure,
    simulator_state_get,
    simulator_tick,
)
from events.simulator.experiment import ExperimentPlan

__all__ = ["Command", "stream_events"]  # stream_events: importable from here too (the load generator)


class Command(BaseCommand):
    help = (
        "Simulated shoppers. Default: backfill history, e.g. "
        "`simulate --days 180 --customers 2000 [--events N] [--seed S]`, through the ingest service, "
        "and derive it (sessions, carts, funnel) before returning. "
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
        parser.add_argument("--extend-back", action="store_true",
                            help="backfill before the earliest stored event until history covers --days")
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
        parser.add_argument("--experiment", default=None,
                            help="backfill: simulated visitors run this A/B experiment (A control, B treatment)")
        parser.add_argument("--lift", type=float, default=0.0, help="--experiment: B's true lift on orders (0.1)")
        parser.add_argument("--value-lift", type=float, default=0.0,
                            help="--experiment: B's true lift on order value (0.05)")

    def handle(self, *args, **o):
        if o["live"]:
            return self._live(o)
        did_something = False
        for wanted, step in ((o["reset"], self._reset), (o["schedule"], self._schedule), (o["tick"], self._tick)):
            if wanted:
                step()
                did_something = True
        if did_something and not o["backfill"]:
            return None
        return self._backfill(o)

    def _reset(self) -> None:
        self.stdout.write(f"Demo data reset: {simulator_reset_demo()} events deleted.")

    def _schedule(self) -> None:
        task = simulator_schedule_ensure()
        running = "running" if simulator_state_get().enabled else "paused"
        self.stdout.write(f"Beat task {task.name!r} ({task.interval}); simulator {running}.")

    def _tick(self) -> None:
        self.stdout.write(str(simulator_tick()))

    def _backfill(self, o):
        if o["if_empty"] and Event.objects.exists():
            self.stdout.write("Events already present: no backfill.")
            return None
        if o["extend_back"]:
            extended = simulator_history_extend(days=o["days"], customers=o["customers"], seed=o["seed"],
                                                chunk_size=o["chunk_size"])
            self.stdout.write(_backfill_summary(extended) if extended
                              else f"History covers {o['days']:g} days already.")
            if extended:
                derive_stored(self.stdout.write)
            return None
        with tqdm(total=o["events"], desc="events", unit="ev", unit_scale=True, disable=None) as bar:
            result = simulator_backfill(days=o["days"], customers=o["customers"], events=o["events"],
                                        seed=o["seed"], chunk_size=o["chunk_size"], progress=bar.update,
                                        experiment=_plan(o))
        self.stdout.write(self.style.SUCCESS(_backfill_summary(result)))
        self.stdout.flush()
        derive_stored(self.stdout.write)
        if result.rejected:
            raise CommandError(f"{result.rejected} events were rejected")
        return None

    def _live(self, o):
        if not o["key"]:
            raise CommandError("--live needs --key (an ingest key)")
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


def _plan(o) -> ExperimentPlan | None:
    if not o["experiment"]:
        return None
    if o["lift"] <= -1 or o["value_lift"] <= -1:
        raise CommandError("--lift and --value-lift must be above -1")
    return ExperimentPlan(o["experiment"], o["lift"], o["value_lift"])


def _backfill_summary(result: BackfillResult) -> str:
    seconds = result.generate_seconds + result.ingest_seconds
    return (f"{result.events} events in {result.sessions} sessions, {result.start:%Y-%m-%d %H:%M} → "
            f"{result.end:%Y-%m-%d %H:%M} UTC: {result.accepted} stored, {result.duplicates} duplicates, "
            f"{result.rejected} rejected; {result.customers_seeded} customers and {result.products_created} "
            f"products seeded. Generation {result.generate_seconds:.1f} s, ingest {result.ingest_seconds:.1f} s "
            f"({result.events / max(seconds, 1e-9):,.0f} events/s).")
