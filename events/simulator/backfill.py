"""Backfill: history over a past window, sessions spread by the seasonal intensity, per customer
in order and never overlapping, held in compact arrays and materialised as events in chunks."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from events.simulator.model import HOUR_MS, StoreModel
from events.simulator.output import id_prefix, to_ms, wire_events
from events.simulator.params import MIN_SESSION_GAP_MS
from events.simulator.session import Step
from events.simulator.traffic import first_event_contexts

DAY_MS = 86_400_000


@dataclass
class Backfill:
    """Generated history, sorted by time, held in compact arrays; materialised in chunks."""

    model: StoreModel
    prefix: str
    ts: np.ndarray        # ms since epoch
    customer: np.ndarray  # profile index
    session: np.ndarray   # session number
    action: np.ndarray
    product: np.ndarray   # product index or -1
    quantity: np.ndarray
    order: np.ndarray     # order number or -1
    sessions: int

    def __len__(self) -> int:
        return len(self.ts)

    def chunks(self, size: int = 5000) -> Iterator[list[dict]]:
        for lo in range(0, len(self), size):
            yield self.events(lo, min(len(self), lo + size))

    def events(self, lo: int = 0, hi: int | None = None) -> list[dict]:
        """Events ``lo`` to ``hi`` in the wire format (timestamps in whole seconds)."""
        hi = len(self) if hi is None else hi
        customer_ids = [p.customer_id for p in self.model.profiles]
        customers = [customer_ids[c] for c in self.customer[lo:hi].tolist()]
        columns = (self.session, self.action, self.product, self.quantity, self.order)
        sessions, actions, products, quantities, orders = (column[lo:hi].tolist() for column in columns)
        stamps = np.datetime_as_string(self.ts[lo:hi].astype("datetime64[ms]"), unit="s").tolist()
        timestamps = [stamp + "Z" for stamp in stamps]
        rows = zip(range(lo, hi), customers, sessions, actions, products, quantities, orders, timestamps, strict=True)
        events = wire_events(self.model.catalogue, self.prefix, rows)
        firsts, bought = self._session_facts()
        first = {int(i) - lo for i in firsts[(firsts >= lo) & (firsts < hi)]}
        first_event_contexts(events, first=first, bought={events[i]["session_id"] for i in range(len(events))
                                                          if sessions[i] in bought})
        return events

    def _session_facts(self) -> tuple[np.ndarray, set[int]]:
        """Each session's first event index and the sessions that placed an order (computed once)."""
        facts = self.__dict__.get("_facts")
        if facts is None:
            _, firsts = np.unique(self.session, return_index=True)
            facts = self.__dict__["_facts"] = (firsts, set(self.session[self.order >= 0].tolist()))
        return facts


class _Columns:
    """Events as they are generated, one list per column, and where each kept session lies."""

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.customer: list[int] = []
        self.session: list[int] = []
        self.action: list[int] = []
        self.product: list[int] = []
        self.quantity: list[int] = []
        self.order: list[int] = []
        self.session_spans: list[tuple[int, int]] = []  # (first event index, count) per session kept
        self.orders_started = 0

    def add_session(self, customer: int, begin: int, steps: Sequence[Step], end_ms: int) -> tuple[int | None, bool]:
        """Append the session's events before ``end_ms``. Returns the last event's time (None if
        none) and whether the session placed an order."""
        ts, customers, sessions, actions = self.ts, self.customer, self.session, self.action
        products, quantities, orders = self.product, self.quantity, self.order
        first, session_no, order_no, last = len(ts), len(self.session_spans), -1, None
        for offset, action, product, quantity, line in steps:
            moment = begin + offset
            if moment >= end_ms:
                break
            if line and order_no < 0:
                order_no = self.orders_started
                self.orders_started += 1
            ts.append(moment)
            customers.append(customer)
            sessions.append(session_no)
            actions.append(action)
            products.append(product)
            quantities.append(quantity)
            orders.append(order_no if line else -1)
            last = moment
        if len(ts) > first:
            self.session_spans.append((first, len(ts) - first))
        return last, order_no >= 0

    def arrays(self) -> list[np.ndarray]:
        return [np.array(column, dtype=np.int64) for column in
                (self.ts, self.customer, self.session, self.action, self.product, self.quantity, self.order)]


def backfill(model: StoreModel, *, start: datetime, end: datetime, seed: int = 42,
             target_events: int | None = None) -> Backfill:
    """History over [start, end): sessions spread by the seasonal intensity, per customer in
    order and never overlapping; events at or after ``end`` are cut (sessions still in progress).

    Without ``target_events`` the number of sessions follows the customers' visit rates; with it,
    sessions are added or dropped whole so the count comes to at most ``target_events`` (within
    one session of it)."""
    start_ms, end_ms = to_ms(start), to_ms(end)
    start_ms = -(-start_ms // 1000) * 1000  # timestamps are written in whole seconds
    if end_ms <= start_ms:
        raise ValueError("end must be after start")
    behaviour = () if model.params.behaviour == "linear" else (model.params.behaviour,)
    prefix = id_prefix("backfill", seed, start_ms, end_ms, target_events, len(model.profiles),
                       len(model.products), model.params, *behaviour)
    draws = np.random.default_rng([seed, start_ms % 2**32, end_ms % 2**32])
    rng = random.Random(f"backfill:{seed}:{start_ms}:{end_ms}")
    begins, shoppers = _session_starts(model, draws, start_ms, end_ms, target_events)
    columns = _generate(model, rng, begins, shoppers, end_ms)
    arrays = columns.arrays()
    if target_events and len(columns.ts) > target_events:
        arrays = _drop_sessions(arrays, columns.session_spans, len(columns.ts) - target_events, draws)
    by_time = np.argsort(arrays[0], kind="stable")
    ts, customer, session, action, product, quantity, order = (column[by_time] for column in arrays)
    return Backfill(model, prefix, ts, customer, session, action, product, quantity, order,
                    sessions=len(np.unique(session)))


def _session_starts(model: StoreModel, draws: np.random.Generator, start_ms: int, end_ms: int,
                    target_events: int | None) -> tuple[list[int], list[int]]:
    """Session start times (by seasonal intensity) and shoppers (by visit rate), ordered by
    shopper, then time."""
    if target_events:
        n_sessions = math.ceil(target_events / model.mean_events_per_session * 1.06) + 10
    else:
        days = (end_ms - start_ms) / DAY_MS
        n_sessions = int(draws.poisson(float(model.visit_rates.sum()) * days))
    bins, weights = model.hourly_intensity(start_ms, end_ms)
    chosen = draws.choice(len(bins), size=n_sessions, p=weights / weights.sum())
    begins = np.clip(bins[chosen] + draws.integers(0, HOUR_MS, size=n_sessions), start_ms, end_ms - 1)
    shoppers = draws.choice(len(model.profiles), size=n_sessions, p=model.visit_rates / model.visit_rates.sum())
    order = np.lexsort((begins, shoppers))
    return begins[order].tolist(), shoppers[order].tolist()


def _generate(model: StoreModel, rng: random.Random, begins: list[int], shoppers: list[int],
              end_ms: int) -> _Columns:
    """Each shopper's sessions in order, moved later where they would come too soon after the
    shopper's previous one (the idle rule), and cut at ``end_ms``."""
    columns, profiles, draw_session = _Columns(), model.profiles, model.sessions.draw
    holiday_by_day: dict[int, bool] = {}  # one look-up a (UTC) day
    previous_shopper, previous_end, purchases = -1, 0, 0
    for begin, shopper in zip(begins, shoppers, strict=True):
        profile = profiles[shopper]
        if shopper != previous_shopper:
            previous_shopper, previous_end, purchases = shopper, -(10**15), profile.prior_orders
        if purchases - profile.prior_orders > profile.lapse_after:
            continue  # lapsed after their last repeat order (shoppers.lifetime_draw)
        if begin < previous_end + MIN_SESSION_GAP_MS:
            begin = previous_end + MIN_SESSION_GAP_MS + rng.randrange(600_000)
        if begin >= end_ms:
            continue
        holiday = holiday_by_day.get(begin // DAY_MS)
        if holiday is None:
            holiday = holiday_by_day[begin // DAY_MS] = model.is_holiday(begin)
        hour, weekday = model.hour_weekday(begin)
        steps = draw_session(rng, profile, returning=purchases > 0, holiday=holiday, hour=hour, weekday=weekday)
        last, ordered = columns.add_session(shopper, begin, steps, end_ms)
        if last is not None:
            previous_end = last
        purchases += ordered
    return columns


def _drop_sessions(arrays: list[np.ndarray], session_spans: list[tuple[int, int]], excess: int,
                   draws: np.random.Generator) -> list[np.ndarray]:
    """Drop whole sessions, chosen at random, until at least ``excess`` events are gone."""
    order = draws.permutation(len(session_spans))
    lengths = np.array([session_spans[i][1] for i in order])
    n_drop = int(np.searchsorted(np.cumsum(lengths), excess) + 1)
    keep = np.ones(len(arrays[0]), dtype=bool)
    for i in order[:n_drop].tolist():
        first, count = session_spans[i]
        keep[first:first + count] = False
    return [column[keep] for column in arrays]
