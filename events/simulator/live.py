"""Live mode: sessions unfold over real time between ticks; no event is ever emitted in the future.

Each tick starts the sessions due since the last one (about ``rate`` events a second) and returns
every event whose time has come; later events of those sessions wait in the state for later ticks.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from events.simulator.model import StoreModel
from events.simulator.output import id_prefix, iso_ms, to_ms, wire_events
from events.simulator.params import MIN_SESSION_GAP_MS
from events.simulator.shoppers import Profile
from events.simulator.traffic import first_event_contexts

CUSTOMERS_PER_EVENT_RATE = 1000
"""Live mode needs about this many shoppers per event a second: a shopper's sessions are kept
more than 30 minutes apart (the session idle rule, docs/metrics.md), so each can start only a few sessions an hour."""

_PICKS_BY_VISITS, _PICKS = 12, 24  # shopper draws a session tries: by visit frequency, then any
_LEGACY_KEYS = {"session_remainder": "carry", "busy_until": "busy"}  # older stored state's names; read only


@dataclass
class LiveState:
    """What live mode keeps between ticks (JSON-serialisable through to_json/from_json)."""

    prefix: str
    next_event: int = 0
    next_session: int = 0
    next_order: int = 0
    tick: int = 0
    last_tick_ms: int | None = None
    session_remainder: float = 0.0  # the fraction of a session due but not started yet (< 1)
    pending: list[list] = field(default_factory=list)   # [ts_ms, event dict], events not yet due
    busy_until: dict[str, int] = field(default_factory=dict)  # customer_id -> ms before which no new session
    orders: dict[str, int] = field(default_factory=dict)  # customer_id -> orders placed in live mode

    @classmethod
    def new(cls, *, seed: int, started: datetime) -> LiveState:
        return cls(prefix=id_prefix("live", seed, to_ms(started)))

    def to_json(self) -> dict:
        return {"prefix": self.prefix, "next_event": self.next_event, "next_session": self.next_session,
                "next_order": self.next_order, "tick": self.tick, "last_tick_ms": self.last_tick_ms,
                "session_remainder": self.session_remainder, "pending": self.pending,
                "busy_until": self.busy_until, "orders": self.orders}

    @classmethod
    def from_json(cls, data: Mapping) -> LiveState:
        def read(key: str, default):
            return data.get(key, data.get(_LEGACY_KEYS.get(key, key), default))

        return cls(prefix=data["prefix"], next_event=data.get("next_event", 0),
                   next_session=data.get("next_session", 0), next_order=data.get("next_order", 0),
                   tick=data.get("tick", 0), last_tick_ms=data.get("last_tick_ms"),
                   session_remainder=read("session_remainder", 0.0), pending=list(data.get("pending", [])),
                   busy_until=dict(read("busy_until", {})), orders=dict(data.get("orders", {})))


def live_step(model: StoreModel, state: LiveState, *, now: datetime, rate: float, seed: int = 42,
              first_tick_seconds: float = 5.0, max_catchup_seconds: float = 60.0) -> list[dict]:
    """Advance live mode to ``now``: start the sessions due since the last tick (about ``rate``
    events a second on average) and return, in time order, every event whose time has come.
    Events later in those sessions wait in ``state.pending`` for later ticks, so sessions unfold
    over real time. No returned event is later than ``now``. Mutates ``state``."""
    now_ms = to_ms(now)
    elapsed = first_tick_seconds * 1000 if state.last_tick_ms is None else now_ms - state.last_tick_ms
    elapsed = max(0.0, min(elapsed, max_catchup_seconds * 1000))  # a pause catches up a bounded slice
    window_start = now_ms - elapsed
    state.tick += 1
    rng = random.Random(f"live:{seed}:{state.prefix}:{state.tick}")
    state.busy_until = {cid: until for cid, until in state.busy_until.items() if until > now_ms}
    expected = state.session_remainder + max(rate, 0.0) * elapsed / 1000 / model.mean_events_per_session
    n_new = int(expected)
    state.session_remainder = expected - n_new
    due: list[list] = []
    for _ in range(n_new):
        begin = int(window_start + rng.random() * elapsed)
        profile = _free_shopper(model, state, rng, begin)
        if profile is not None:  # None: every shopper tried is mid-session (too few for the rate)
            due += _start_session(model, state, rng, profile, begin)
    return _release_due(state, due, now_ms)


def _free_shopper(model: StoreModel, state: LiveState, rng: random.Random, begin: int) -> Profile | None:
    """A shopper not mid-session at ``begin``: drawn by visit frequency first; frequent shoppers
    are often mid-session, so then any shopper."""
    profiles, cumulative = model.profiles, model.visit_rates_cumulative
    total = cumulative[-1]
    for attempt in range(_PICKS):
        if attempt < _PICKS_BY_VISITS:
            profile = profiles[min(len(profiles) - 1, bisect_right(cumulative, rng.random() * total))]
        else:
            profile = profiles[rng.randrange(len(profiles))]
        lapsed = state.orders.get(profile.customer_id, 0) > profile.lapse_after  # shoppers.lifetime_draw
        if not lapsed and state.busy_until.get(profile.customer_id, 0) <= begin:
            return profile
    return None


def _start_session(model: StoreModel, state: LiveState, rng: random.Random, profile: Profile,
                   begin: int) -> list[list]:
    """Draw a session of ``profile``'s shopper starting at ``begin``: its events as [ts_ms, event]."""
    customer_id = profile.customer_id
    returning = profile.prior_orders + state.orders.get(customer_id, 0) > 0
    steps = model.session(rng, profile, returning=returning, holiday=model.is_holiday(begin), begin_ms=begin)
    session_no, order_no = state.next_session, -1
    state.next_session += 1
    rows, moments = [], []
    for offset, action, product, quantity, line in steps:
        if line and order_no < 0:
            order_no = state.next_order
            state.next_order += 1
            state.orders[customer_id] = state.orders.get(customer_id, 0) + 1
        moment = begin + offset
        rows.append((state.next_event, customer_id, session_no, action, product, quantity,
                     order_no if line else -1, iso_ms(moment)))
        moments.append(moment)
        state.next_event += 1
    state.busy_until[customer_id] = begin + steps[-1][0] + MIN_SESSION_GAP_MS
    events = wire_events(model.catalogue, state.prefix, rows)
    first_event_contexts(events)  # the whole session is drawn here: its first event says where it came from
    return [[moment, event] for moment, event in zip(moments, events, strict=True)]


def _release_due(state: LiveState, due: list[list], now_ms: int) -> list[dict]:
    """Every waiting event up to ``now_ms``, in time order; the rest stay pending."""
    waiting = state.pending + due
    waiting.sort(key=lambda item: item[0])
    cut = bisect_right([item[0] for item in waiting], now_ms)
    state.pending = waiting[cut:]
    state.last_tick_ms = now_ms
    return [event for _ms, event in waiting[:cut]]
