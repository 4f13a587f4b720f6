"""One shopping session as a sequence of steps: views (product chosen from the shopper's choice
table), add_to_cart, sometimes remove_from_cart, then checkout and purchase (one line per cart
item), or abandonment (idle, or an explicit ``abandon``), or an emptied cart.

A dearer cart and a more price-sensitive shopper raise the abandonment odds; returning customers
(with earlier orders) convert better. Events of a session are always under the 30-minute idle rule
apart.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Sequence

from events.simulator.catalogue import ChoiceTable
from events.simulator.nonlinear import extra_log_odds
from events.simulator.params import MAX_GAP_MS, SimParams
from events.simulator.shoppers import Profile

ACTIONS = ("view", "add_to_cart", "remove_from_cart", "checkout", "purchase", "abandon")
VIEW, ADD, REMOVE, CHECKOUT, PURCHASE, ABANDON = range(6)

Step = tuple[int, int, int, int, bool]
"""(offset ms from the session's start, action code, product index or -1, quantity, is a purchase line)"""


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _gap(rng: random.Random, median_seconds: float) -> int:
    """Milliseconds to the next step: log-normal around the median, under the idle rule."""
    return min(MAX_GAP_MS, int(median_seconds * 1000 * math.exp(rng.gauss(0, 0.7))) + 1000)


class SessionMaker:
    """Draws sessions for a store. ``abandon_log_odds`` is the base log-odds of abandoning a cart
    (the model calibrates it so the closed-cart rate lands on the parameter)."""

    def __init__(self, params: SimParams, prices: Sequence[float], choice_tables: Sequence[ChoiceTable], *,
                 abandon_log_odds: float, reference_cart_value: float) -> None:
        self.params = params
        self.prices = prices
        self.choice_tables = choice_tables
        self.abandon_log_odds = abandon_log_odds
        self.reference_cart_value = reference_cart_value

    def draw(self, rng: random.Random, profile: Profile, *, returning: bool, holiday: bool,
             hour: int | None = None, weekday: int | None = None) -> list[Step]:
        """One session of ``profile``'s shopper (``hour``, ``weekday``: its start, store time; only the
        nonlinear behaviour reads them)."""
        r = rng.random
        cumulative, total = self.choice_tables[profile.choice_table]
        n_views = 1
        while n_views < 12 and r() < 0.6:
            n_views += 1
        cart_chance = profile.cart_propensity * self.params.cart_session_share
        if holiday:
            cart_chance *= 1.25
        if returning:
            cart_chance *= 1.3
        if r() >= cart_chance:
            return _browse(rng, cumulative, total, n_views)
        steps: list[Step] = []
        cart, t = self._fill_cart(rng, profile, cumulative, total, n_views, steps)
        if r() < self.params.emptied_rate:
            _empty_cart(rng, cart, cumulative, total, t, steps)
        else:
            self._close_cart(rng, profile, cart, t, steps, returning=returning, when=(hour, weekday))
        return steps

    def _fill_cart(self, rng: random.Random, profile: Profile, cumulative: list[float], total: float,
                   n_views: int, steps: list[Step]) -> tuple[dict[int, int], int]:
        """Views, some of them added to the cart (product index -> quantity). Returns the cart and
        the time of the last step."""
        r = rng.random
        n_items = 1
        while n_items < 4 and r() < profile.extra_item_chance:
            n_items += 1
        n_views = max(n_views, n_items)
        cart: dict[int, int] = {}
        t = 0
        for i in range(n_views):
            if i:
                t += _gap(rng, 40)
            product = bisect_right(cumulative, r() * total)
            steps.append((t, VIEW, product, 1, False))
            still = n_items - len(cart)
            if still > 0 and product not in cart and (r() < 0.55 or n_views - i <= still):
                t += _gap(rng, 20)
                quantity = 1
                if self.prices[product] < 40 and r() < 0.25:
                    quantity = 2 if r() < 0.75 else 3
                cart[product] = quantity
                steps.append((t, ADD, product, quantity, False))
        if not cart:  # every chosen view was a repeat: put the last viewed product in the cart
            product = steps[-1][2]
            t += _gap(rng, 20)
            cart[product] = 1
            steps.append((t, ADD, product, 1, False))
        return cart, t

    def _close_cart(self, rng: random.Random, profile: Profile, cart: dict[int, int], t: int, steps: list[Step],
                    *, returning: bool, when: tuple[int | None, int | None] = (None, None)) -> None:
        """Abandon the cart (perhaps after checkout, perhaps explicitly) or buy it."""
        r, params = rng.random, self.params
        value = sum(self.prices[p] * q for p, q in cart.items())
        log_odds = (self.abandon_log_odds
                    + params.value_effect * math.log(value / self.reference_cart_value)
                    + params.sensitivity_effect * (profile.price_sensitivity - 0.5)
                    + (-params.returning_effect * 0.65 if returning else params.returning_effect * 0.35))
        if params.behaviour == "nonlinear":
            views = next((i for i, step in enumerate(steps) if step[1] == ADD), len(steps))
            log_odds += extra_log_odds(age_group=profile.age_group, value_ratio=value / self.reference_cart_value,
                                       views_before_cart=views, hour=when[0], weekday=when[1],
                                       value_effect=params.value_effect)
        abandoned = r() < sigmoid(log_odds)
        if len(cart) > 1 and r() < (0.2 if abandoned else 0.12):
            product = next(iter(cart))
            t += _gap(rng, 20)
            steps.append((t, REMOVE, product, cart.pop(product), False))
        units = sum(cart.values())
        if abandoned:
            if r() < params.checkout_abandon_share:
                t += _gap(rng, 30)
                steps.append((t, CHECKOUT, -1, units, False))
            if r() < params.explicit_abandon_share:
                t += _gap(rng, 120)
                steps.append((t, ABANDON, -1, 1, False))
            return
        t += _gap(rng, 30)
        steps.append((t, CHECKOUT, -1, units, False))
        t += _gap(rng, 60)
        for product, quantity in cart.items():
            steps.append((t, PURCHASE, product, quantity, True))


def _browse(rng: random.Random, cumulative: list[float], total: float, n_views: int) -> list[Step]:
    """A session of views only."""
    steps: list[Step] = []
    t = 0
    for i in range(n_views):
        if i:
            t += _gap(rng, 40)
        steps.append((t, VIEW, bisect_right(cumulative, rng.random() * total), 1, False))
    return steps


def _empty_cart(rng: random.Random, cart: dict[int, int], cumulative: list[float], total: float, t: int,
                steps: list[Step]) -> None:
    """Remove every item, then perhaps one more view."""
    for product, quantity in list(cart.items()):
        t += _gap(rng, 15)
        steps.append((t, REMOVE, product, quantity, False))
    if rng.random() < 0.3:
        t += _gap(rng, 40)
        steps.append((t, VIEW, bisect_right(cumulative, rng.random() * total), 1, False))


def cart_outcome(steps: Sequence[Step]) -> str | None:
    """The outcome (docs/metrics.md) of one session's cart: converted, abandoned, emptied, or None (no cart)."""
    items: dict[int, int] = {}
    opened = purchased = False
    for _offset, action, product, quantity, _line in steps:
        if action == ADD:
            opened = True
            items[product] = quantity
        elif action == REMOVE:
            items.pop(product, None)
        elif action == PURCHASE:
            purchased = True
    if not opened:
        return None
    if purchased:
        return "converted"
    return "abandoned" if items else "emptied"
