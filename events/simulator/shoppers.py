"""Shoppers: how customers differ (segment, age group, price sensitivity, loyalty, visit frequency,
favourite category, order history), drawn once per customer from the seed."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from customers.age import AGE_GROUPS, UNKNOWN, age_group_for


@dataclass(frozen=True, slots=True)
class Profile:
    customer_id: str
    age_group: str
    segment: str          # frequent | regular | occasional
    visit_rate: float     # sessions a day
    price_sensitivity: float
    loyalty: float
    favourite_category: str
    prior_orders: int     # orders before the simulated period
    cart_propensity: float
    extra_item_chance: float  # chance of one more item in the cart
    choice_table: int     # index of the product-choice table (see Catalogue.choice_table_for)
    rate_factor: float = 1.0   # the shopper's purchase rate relative to the segment's (visit_rate includes it)
    dropout: float = 0.0       # chance of lapsing after each repeat order (BG/NBD's p)
    lapse_after: int = 10**9   # repeat orders in the simulated period before the shopper lapses for good


class Segment(NamedTuple):
    visits_a_day: float
    loyalty_mean: float
    cart_factor: float
    extra_item_chance: float


# A minority of frequent buyers (12%) makes much of the revenue; then regular (33%) and occasional.
SEGMENTS = {
    "frequent": Segment(0.35, 0.78, 1.45, 0.50),
    "regular": Segment(0.10, 0.45, 1.0, 0.35),
    "occasional": Segment(0.03, 0.20, 0.75, 0.25),
}
AGE_VISITS = {"18-25": 1.15, "26-35": 1.2, "36-45": 1.0, "46-55": 0.85, "56-65": 0.7, "66+": 0.55,
              UNKNOWN: 1.0}
AGE_SENSITIVITY = {"18-25": 0.66, "26-35": 0.55, "36-45": 0.48, "46-55": 0.44, "56-65": 0.42,
                   "66+": 0.45, UNKNOWN: 0.5}
# Category affinity by age group (unlisted categories weigh 1).
AGE_AFFINITY = {
    "18-25": {"electronics": 1.8, "men's clothing": 1.5, "women's clothing": 1.5, "beauty": 1.4,
              "books": 0.7, "home & kitchen": 0.5, "jewelery": 0.8},
    "26-35": {"electronics": 1.5, "women's clothing": 1.3, "men's clothing": 1.3, "sports & outdoors": 1.3,
              "home & kitchen": 0.9},
    "36-45": {"home & kitchen": 1.5, "sports & outdoors": 1.2, "electronics": 1.1},
    "46-55": {"home & kitchen": 1.5, "books": 1.3, "jewelery": 1.2, "beauty": 0.9},
    "56-65": {"books": 1.6, "home & kitchen": 1.5, "jewelery": 1.3, "electronics": 0.7},
    "66+": {"books": 1.8, "home & kitchen": 1.4, "jewelery": 1.2, "electronics": 0.5, "men's clothing": 0.8},
}
SENSITIVITY_BUCKETS = 5
# Purchase rate and lifetime, as BG/NBD assumes: a shopper's visits (so orders) are Poisson at a
# rate that varies by a Gamma(shape, mean 1) factor across shoppers; after each repeat order the shopper
# lapses for good with probability p ~ Beta(a, b) (``lapse_after`` ~ geometric in p). Drawn from a stream of
# their own, so the other traits are as before.
PURCHASE_RATE_SHAPE = 2.0
DROPOUT_A, DROPOUT_B = 0.6, 8.0
NEVER = 10**9  # shoppers share a product-choice table per sensitivity bucket

ChoiceTableFor = Callable[[str, int, str], int]  # (age group, sensitivity bucket, favourite) -> table


def profile_draw(customer: Mapping, *, seed: int, categories: Sequence[str],
                 choice_table_for: ChoiceTableFor) -> Profile:
    """One customer's shopper profile, drawn from ``seed`` and the customer id alone."""
    customer_id = str(customer["customer_id"])
    group = customer.get("age_group") or age_group_for(customer.get("age"))
    if group not in AGE_GROUPS:
        group = UNKNOWN
    rng = random.Random(f"profile:{seed}:{customer_id}")
    roll = rng.random()
    segment_name = "frequent" if roll < 0.12 else ("regular" if roll < 0.45 else "occasional")
    segment = SEGMENTS[segment_name]
    visit_rate = segment.visits_a_day * AGE_VISITS[group] * math.exp(rng.gauss(0, 0.35))
    sensitivity_mean = AGE_SENSITIVITY[group] - (0.12 if segment_name == "frequent" else 0.0)
    sensitivity = _share(rng.betavariate(sensitivity_mean * 6, (1 - sensitivity_mean) * 6))
    loyalty = _share(rng.betavariate(segment.loyalty_mean * 5, (1 - segment.loyalty_mean) * 5))
    prior_orders = _prior_orders(rng, segment_name)
    favourite = _favourite_category(rng, group, categories)
    bucket = min(SENSITIVITY_BUCKETS - 1, int(sensitivity * SENSITIVITY_BUCKETS))
    rate_factor, dropout, lapse_after = lifetime_draw(random.Random(f"lifetime:{seed}:{customer_id}"))
    return Profile(customer_id, group, segment_name, visit_rate * rate_factor, sensitivity, loyalty, favourite,
                   prior_orders, min(0.9, segment.cart_factor * (0.75 + 0.5 * loyalty)), segment.extra_item_chance,
                   choice_table_for(group, bucket, favourite), rate_factor, dropout, lapse_after)


def lifetime_draw(rng: random.Random) -> tuple[float, float, int]:
    """(purchase-rate factor ~ Gamma(PURCHASE_RATE_SHAPE, mean 1), dropout p ~ Beta(DROPOUT_A, DROPOUT_B),
    repeat orders before lapsing ~ Geometric(p) on 1, 2, …)."""
    factor = rng.gammavariate(PURCHASE_RATE_SHAPE, 1 / PURCHASE_RATE_SHAPE)
    dropout = rng.betavariate(DROPOUT_A, DROPOUT_B)
    if dropout <= 1e-9:
        return factor, dropout, NEVER
    lapse_after = 1 + int(math.log(1.0 - rng.random()) / math.log1p(-min(dropout, 1 - 1e-12)))
    return factor, dropout, min(lapse_after, NEVER)


def _share(value: float) -> float:
    return min(0.98, max(0.02, value))


def _prior_orders(rng: random.Random, segment: str) -> int:
    if segment == "frequent":
        return rng.randint(2, 25)
    if segment == "regular":
        return rng.choice((0, 0, 1, 2, 3))
    return 1 if rng.random() < 0.15 else 0


def _favourite_category(rng: random.Random, group: str, categories: Sequence[str]) -> str:
    affinity = AGE_AFFINITY.get(group, {})
    weights = [affinity.get(category, 1.0) * rng.gammavariate(2.0, 1.0) for category in categories]
    return categories[max(range(len(weights)), key=weights.__getitem__)]
