"""Writes and orchestration for the simulator: the services module of the simulator.

The behaviour model itself is pure (``events.simulator``); this module feeds it customers and
products from the database, keeps live mode's state in the ``SimulatorState`` row, and sends the
generated events through the ingest service (``events.services.events_ingest``) or, when
``settings.SIMULATOR_TARGET`` is set (the embedded default, whose in-memory channel layer exists
only inside daphne), through the server's own ingest API, as a store would.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from customers.services import customer_seed
from events import money
from events.models import Event, ExchangeRate, SimulatorState
from events.services import events_ingest
from events.services.rates import rate_table
from events.services.sources import source_simulator
from events.signals import events_deleted
from events.simulator import (
    CUSTOMERS_PER_EVENT_RATE,
    LiveState,
    SimParams,
    StoreModel,
    backfill,
    live_step,
)
from events.simulator.experiment import ExperimentPlan, apply_experiment
from events.simulator.inputs import popularity_of
from events.simulator.money import MoneyPlan, apply_money
from products.models import Product
from products.services import catalogue_read, product_load_catalogue

logger = logging.getLogger(__name__)

TICK_TASK = "events.tasks.simulate_tick_task"
SCHEDULE_NAME = "Simulator: live events"
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class TickResult:
    sent: int          # events handed to the ingest service or API this tick
    accepted: int
    rejected: int
    pending: int       # events of sessions in progress, due in later ticks
    skipped: str = ""  # why nothing was done (paused, ...)


@dataclass(frozen=True)
class BackfillResult:
    events: int
    sessions: int
    accepted: int
    duplicates: int
    rejected: int
    customers_seeded: int
    products_created: int
    start: datetime
    end: datetime
    generate_seconds: float
    ingest_seconds: float


# --- population -----------------------------------------------------------------------------

def simulator_population_ensure(*, customers: int, seed: int = 42,
                                progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Make sure customers "1".."customers" and the catalogue's products exist (idempotent).
    Returns (customers created, products created)."""
    created_customers = 0
    if Customer.objects.count() < customers:
        created_customers = customer_seed(count=customers, seed=seed, progress=progress)
    created_products = 0
    if not Product.objects.filter(price__gt=0).exists():
        created_products, _updated = product_load_catalogue(items=catalogue_read())
    return created_customers, created_products


def _model_catalogue() -> list[dict]:
    """Every priced product as the model's catalogue entry; popularity from the shipped catalogue's
    ratings (the median where a product is not in it)."""
    popularity: dict[str, float] = {}
    try:
        popularity = {str(item["id"]): popularity_of(item) for item in catalogue_read()}
    except (OSError, ValueError, KeyError):  # the fixture only adds popularity; it is optional
        pass
    default = sorted(popularity.values())[len(popularity) // 2] if popularity else 100.0
    rows = Product.objects.filter(price__gt=0).order_by("id").values_list("external_id", "title", "price", "category")
    return [{"product_id": pid, "title": title, "price": float(price), "category": category,
             "popularity": popularity.get(pid, default)} for pid, title, price, category in rows]


_model_cache: dict[tuple, StoreModel] = {}
_model_lock = threading.Lock()


def simulator_model(*, customers: int, seed: int, params: SimParams | None = None) -> StoreModel:
    """The behaviour model over the first ``customers`` customers and every priced product,
    cached per process while those do not change (a tick runs every few seconds)."""
    params = params or SimParams(behaviour=settings.SIMULATOR_BEHAVIOUR)
    ids_and_ages = list(Customer.objects.order_by("id").values_list("external_id", "age")[:customers])
    catalogue = _model_catalogue()
    key = (seed, params, hash(tuple(ids_and_ages)), hash(tuple(tuple(sorted(p.items())) for p in catalogue)))
    with _model_lock:
        model = _model_cache.get(key)
        if model is None:
            customer_dicts = [{"customer_id": cid, "age": age} for cid, age in ids_and_ages]
            model = StoreModel(customer_dicts, catalogue, params, seed=seed)
            _model_cache.clear()
            _model_cache[key] = model
        return model


# --- money ----------------------------------------------------------------------------------

def simulator_money_plan(*, on: datetime) -> MoneyPlan:
    """Coupons and refunds always; a second currency (EUR, or USD for a EUR store) only when the
    rates to convert it are stored (``manage.py import_rates``), priced at the latest rate on ``on``."""
    store = settings.STORE_CURRENCY
    second = "USD" if store == money.EUR else money.EUR
    needed = {store, second} - {money.EUR}
    if not ExchangeRate.objects.filter(currency__in=needed).exists():
        return MoneyPlan()
    table = rate_table(currencies=needed, first=on.date(), last=on.date())
    rate = money.rate_between(table, second, store, on.date())
    if isinstance(rate, money.Reason) or not rate:
        return MoneyPlan()
    return MoneyPlan(currency=second, per_store_unit=(1 / rate).quantize(money.RATE_PLACES))


# --- live -----------------------------------------------------------------------------------

def simulator_population(*, customers: int, rate: float) -> int:
    """Shoppers live mode uses: the configured number, raised so the rate can be met while each
    shopper's sessions stay more than 30 minutes apart."""
    return max(customers, math.ceil(rate * CUSTOMERS_PER_EVENT_RATE))


def simulator_experiment() -> ExperimentPlan | None:
    """The A/B experiment simulated shoppers run (``SIMULATOR_EXPERIMENT``: ``name:lift[:value_lift]``)."""
    return ExperimentPlan.parse(settings.SIMULATOR_EXPERIMENT)


def simulator_state_get() -> SimulatorState:
    state, _created = SimulatorState.objects.get_or_create(pk=1)
    return state


@transaction.atomic
def simulator_configure(*, enabled: bool | None = None, rate: float | None = None,
                        customers: int | None = None) -> SimulatorState:
    state = simulator_state_get()
    state = SimulatorState.objects.select_for_update().get(pk=state.pk)
    if enabled is not None:
        state.enabled = enabled
    if rate is not None:
        if rate < 0:
            raise ValueError("rate must be >= 0")
        state.rate = rate
    if customers is not None:
        state.customers = customers
    state.save()
    return state


@transaction.atomic
def _tick_advance(*, now: datetime) -> tuple[list[dict], int, str]:
    """Lock the state row, advance live mode to ``now`` and save it. Returns the events due, the
    number still pending, and why nothing was done (if so)."""
    simulator_state_get()
    row = SimulatorState.objects.select_for_update().get(pk=1)
    if not row.enabled:
        return [], len(row.state.get("pending", [])), "paused"
    rate = settings.SIMULATOR_RATE if row.rate is None else row.rate
    population = simulator_population(customers=row.customers, rate=rate)
    simulator_population_ensure(customers=population, seed=row.seed)
    model = simulator_model(customers=population, seed=row.seed)
    live = LiveState.from_json(row.state) if row.state.get("prefix") else LiveState.new(seed=row.seed, started=now)
    events = live_step(model, live, now=now, rate=rate, seed=row.seed)
    if (experiment := simulator_experiment()) is not None:
        events = apply_experiment(events, experiment)
    for when, refund in apply_money(events, simulator_money_plan(on=now)):  # due days later
        live.pending.append([int(when.timestamp() * 1000), refund])
    row.state = live.to_json()
    row.last_tick_at = now
    row.save(update_fields=["state", "last_tick_at", "updated_at"])
    return events, len(live.pending), ""


@transaction.atomic
def _tick_record(*, accepted: int, error: str, requeue: list[dict]) -> None:
    row = SimulatorState.objects.select_for_update().get(pk=1)
    row.events_sent += accepted
    row.last_error = error
    if requeue:  # the send failed: try these again next tick (event ids make a retry idempotent)
        state = dict(row.state)
        pending = [[0, event] for event in requeue] + list(state.get("pending", []))
        state["pending"] = pending
        row.state = state
    row.save(update_fields=["events_sent", "last_error", "state", "updated_at"])


def _post(*, target: str, key: str | None, events: list[dict]) -> dict:
    request = urllib.request.Request(
        target.rstrip("/") + "/api/v1/events",
        data=json.dumps({"events": events}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key or ''}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - our own server
        return json.loads(response.read())


def _send(*, events: list[dict], target: str | None, key: str | None) -> tuple[int, int]:
    """Send events to ``target``'s ingest API, or through ``events_ingest`` in this process when
    there is no target. Returns (accepted, rejected); duplicates count as accepted."""
    if target:
        ack = _post(target=target, key=key, events=events)
        return int(ack.get("accepted", 0)) + len(ack.get("duplicates", [])), len(ack.get("rejected", []))
    result = events_ingest(raw_events=events, source=source_simulator(), broadcast=True)
    return result.accepted + len(result.duplicates), len(result.rejected)


def simulator_tick(*, now: datetime | None = None, target: str | None = None, key: str | None = None) -> TickResult:
    """One beat tick: emit the events whose time has come and send them (after the state's commit,
    so an HTTP call to our own server never waits on our lock). ``target``/``key`` default to
    settings.SIMULATOR_TARGET / SIMULATOR_KEY; without a target, events go through
    ``events_ingest`` in this process."""
    now = now or timezone.now()
    target = target if target is not None else settings.SIMULATOR_TARGET
    key = key if key is not None else settings.SIMULATOR_KEY
    events, pending, skipped = _tick_advance(now=now)
    if not events:
        return TickResult(0, 0, 0, pending, skipped)
    try:
        accepted, rejected = _send(events=events, target=target, key=key)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logger.warning("simulator: could not send %d events: %s", len(events), exc)
        _tick_record(accepted=0, error=f"{timezone.now():%Y-%m-%d %H:%M:%S} {exc}"[:2000], requeue=events)
        return TickResult(0, 0, 0, pending + len(events), f"send failed: {exc}")
    _tick_record(accepted=accepted, error=f"{rejected} events rejected" if rejected else "", requeue=[])
    return TickResult(len(events), accepted, rejected, pending)


def simulator_schedule_ensure(*, every_seconds: int = 5):
    """The django-celery-beat PeriodicTask that runs ``simulate_tick_task`` (idempotent: an
    existing task keeps the schedule an admin gave it)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    with transaction.atomic():
        task = PeriodicTask.objects.filter(task=TICK_TASK).first()
        if task is not None:
            return task
        interval, _ = IntervalSchedule.objects.get_or_create(every=every_seconds, period=IntervalSchedule.SECONDS)
        return PeriodicTask.objects.create(
            name=SCHEDULE_NAME, task=TICK_TASK, interval=interval,
            description="Emits simulated shoppers' events. Pause or change the rate in "
                        "Events › Simulator; change the schedule here.",
        )


def simulator_reset_demo() -> int:
    """Delete every event and what the metrics engine derived from them; customers, products and
    users stay. The live simulator starts afresh. Returns the number of events deleted."""
    with transaction.atomic():
        count = Event.objects.count()
        Event.objects.all()._raw_delete(Event.objects.db)  # no per-row signals or cascades to collect
        events_deleted.send(sender=Event)  # what was derived from them is re-derived (emptied)
        SimulatorState.objects.filter(pk=1).update(state={}, events_sent=0, last_error="")
    return count


# --- backfill -------------------------------------------------------------------------------

def simulator_history_extend(*, days: float, customers: int = 2000, seed: int = 42, chunk_size: int = 20_000,
                             progress: Callable[[int], None] | None = None) -> BackfillResult | None:
    """Backfill the time before the earliest stored event so that history reaches ``days`` back from now
    (make run's 13 months, filled in the background); None when it already does."""
    first = Event.objects.order_by("timestamp").values_list("timestamp", flat=True).first()
    if first is None:
        return simulator_backfill(days=days, customers=customers, seed=seed, chunk_size=chunk_size, progress=progress)
    missing = (first - (timezone.now() - timedelta(days=days))) / timedelta(days=1)
    if missing < 1:
        return None
    return simulator_backfill(days=missing, end=first, customers=customers, seed=seed, chunk_size=chunk_size,
                              progress=progress)


def simulator_backfill(*, days: float = 30, customers: int = 2000, events: int | None = None, seed: int = 42,
                       end: datetime | None = None, chunk_size: int = 20_000,
                       params: SimParams | None = None, experiment: ExperimentPlan | None = None,
                       progress: Callable[[int], None] | None = None) -> BackfillResult:
    """History over the ``days`` before ``end`` (default now), written through the ingest
    service in chunks (each its own transaction, without live broadcasts), with ``experiment`` (default:
    ``SIMULATOR_EXPERIMENT``) applied to its visitors and orders. Seeds missing
    customers and products first. The same seed and window give the same events (and ids), so
    running it twice stores nothing new."""
    end = end or timezone.now()
    start = end - timedelta(days=days)
    seeded, products = simulator_population_ensure(customers=customers, seed=seed)
    t0 = time.perf_counter()
    model = simulator_model(customers=customers, seed=seed, params=params)
    history = backfill(model, start=start, end=end, seed=seed, target_events=events)
    generate = time.perf_counter() - t0
    accepted = duplicates = rejected = 0
    ingest = 0.0
    chunks = history.chunks(chunk_size)
    plan = simulator_money_plan(on=end)
    experiment = experiment or simulator_experiment()
    refunds: list[tuple[datetime, dict]] = []
    sent = 0
    while True:
        t1 = time.perf_counter()
        chunk = next(chunks, None)  # materialising event dicts is part of generation
        if chunk is not None:
            chunk = apply_experiment(chunk, experiment) if experiment is not None else chunk
            refunds += apply_money(chunk, plan)
        elif refunds:  # refunds days after their orders, sent last (none after the window's end)
            chunk = [event for when, event in sorted(refunds, key=lambda r: r[0]) if when < end]
            refunds = []
        t2 = time.perf_counter()
        generate += t2 - t1
        if not chunk:
            break
        result = events_ingest(raw_events=chunk, source=source_simulator(), broadcast=False)
        sent += len(chunk)
        ingest += time.perf_counter() - t2
        accepted += result.accepted
        duplicates += len(result.duplicates)
        rejected += len(result.rejected)
        if progress:
            progress(len(chunk))
    return BackfillResult(sent, history.sessions, accepted, duplicates, rejected, seeded, products,
                          start, end, generate, ingest)
