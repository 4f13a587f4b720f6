"""The store's behaviour model: customers, catalogue and parameters, precomputed for fast session
generation, with the seasonality (hour of day, weekday, month, in the store's time zone) that
spreads sessions over time."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from events.simulator.catalogue import Catalogue
from events.simulator.params import SimParams
from events.simulator.session import SessionMaker, Step, cart_outcome, logit
from events.simulator.shoppers import Profile, profile_draw

HOUR_MS = 3_600_000


class StoreModel:
    """Customers (``{"customer_id", "age"}`` dicts), a catalogue (``{"product_id", "title", "price",
    "category", "popularity"}`` dicts), parameters and a seed."""

    def __init__(self, customers: Sequence[Mapping], catalogue: Sequence[Mapping],
                 params: SimParams | None = None, *, seed: int = 42) -> None:
        if not customers:
            raise ValueError("the simulator needs at least one customer")
        self.catalogue = shop = Catalogue(catalogue)
        self.params = params = params or SimParams()
        if not 0 < params.abandonment_rate < 1:
            raise ValueError("abandonment_rate must be between 0 and 1")
        self.seed = seed
        self.products, self.product_ids, self.prices = shop.products, shop.product_ids, shop.prices
        self.titles, self.categories_of, self.categories = shop.titles, shop.categories_of, shop.categories
        self.profiles = [profile_draw(customer, seed=seed, categories=shop.categories,
                                      choice_table_for=shop.choice_table_for) for customer in customers]
        self.visit_rates = np.array([p.visit_rate for p in self.profiles])
        self.visit_rates_cumulative: list[float] = np.cumsum(self.visit_rates).tolist()
        # Cart outcome: P(abandon | cart not emptied), so that the closed-cart rate hits the target.
        self.sessions = SessionMaker(params, shop.prices, shop.choice_tables,
                                     abandon_log_odds=logit(params.abandonment_rate / (1 - params.emptied_rate)),
                                     reference_cart_value=shop.median_price * 1.5)
        self._hour_weights = params.hours()
        self._time_zone = ZoneInfo(params.time_zone)
        self._calibrate()
        self.mean_events_per_session = self._estimate_session_length()

    def session(self, rng: random.Random, profile: Profile, *, returning: bool, holiday: bool,
                begin_ms: int | None = None) -> list[Step]:
        """One session as (offset_ms, action, product index or -1, quantity, is_purchase_line); ``begin_ms``:
        its start, which only the nonlinear behaviour reads (weekday × hour)."""
        hour, weekday = self.hour_weekday(begin_ms)
        return self.sessions.draw(rng, profile, returning=returning, holiday=holiday, hour=hour, weekday=weekday)

    def hour_weekday(self, ms: int | None) -> tuple[int | None, int | None]:
        """(hour, weekday Monday 0) of ``ms`` in store time, or (None, None) in the linear behaviour."""
        if ms is None or self.params.behaviour != "nonlinear":
            return None, None
        local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(self._time_zone)
        return local.hour, local.weekday()

    def _calibrate(self, sessions: int = 8000, rounds: int = 4) -> None:
        """Shift the abandonment log-odds so that, over this store's mix of shoppers (weighted by
        how often they visit), the closed-cart abandonment rate lands on the parameter: the
        value, sensitivity and returning effects are not centred, and frequent visitors (who
        are mostly returning) fill more carts."""
        target = self.params.abandonment_rate
        cumulative = np.cumsum((self.visit_rates / self.visit_rates.sum()).tolist()).tolist()
        pick = random.Random(f"calibrate-pick:{self.seed}")
        sample = [self.profiles[min(len(cumulative) - 1, bisect_right(cumulative, pick.random()))]
                  for _ in range(sessions)]
        returning = [p.prior_orders > 0 or pick.random() < 0.3 for p in sample]
        for _ in range(rounds):
            rng = random.Random(f"calibrate:{self.seed}")  # common random numbers across rounds
            closed = abandoned = 0
            for profile, is_returning in zip(sample, returning, strict=True):
                outcome = cart_outcome(self.session(rng, profile, returning=is_returning, holiday=False))
                if outcome is not None:
                    closed += 1
                    abandoned += outcome == "abandoned"
            if not closed or abandoned in (0, closed):
                return
            self.sessions.abandon_log_odds += logit(target) - logit(abandoned / closed)

    def _estimate_session_length(self) -> float:
        rng = random.Random(f"estimate:{self.seed}")
        n, events = 3000, 0
        for i in range(n):
            profile = self.profiles[i % len(self.profiles)]
            events += len(self.session(rng, profile, returning=profile.prior_orders > 0, holiday=False))
        return events / n

    # --- seasonality ------------------------------------------------------------------------
    def hourly_intensity(self, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Hour bins covering [start, end): (bin start ms, relative session intensity)."""
        first = start_ms - start_ms % HOUR_MS
        starts = np.arange(first, end_ms, HOUR_MS, dtype=np.int64)
        params = self.params
        weights = np.empty(len(starts))
        for i, ms in enumerate(starts.tolist()):
            local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(self._time_zone)
            weights[i] = (self._hour_weights[local.hour] * params.weekday_weights[local.weekday()]
                          * params.month_weights[local.month - 1])
        # Partial first and last hours.
        weights[0] *= (min(end_ms, first + HOUR_MS) - start_ms) / HOUR_MS
        if len(starts) > 1:
            weights[-1] *= (end_ms - int(starts[-1])) / HOUR_MS
        return starts, weights

    def is_holiday(self, ms: int) -> bool:
        """Whether ``ms`` falls in a holiday month, store time."""
        local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(self._time_zone)
        return local.month in self.params.holiday_months
