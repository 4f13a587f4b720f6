"""Input adapters: customers and a product catalogue in the shapes the model takes.

Customers are ``{"customer_id", "age"}`` dicts (or ``"age_group"``); catalogue entries are
``{"product_id", "title", "price", "category", "popularity"}`` dicts.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence


def synthetic_customers(count: int, *, seed: int = 42) -> list[dict]:
    """Customers "1".."count" with plausible ages, for runs without a database."""
    rng = random.Random(f"customers:{seed}")
    out = []
    for i in range(1, count + 1):
        age = max(18, min(80, round(rng.gauss(35, 8)))) if rng.random() < 0.8 else rng.randint(46, 80)
        out.append({"customer_id": str(i), "age": age})
    return out


def popularity_of(item: Mapping) -> float:
    """A FakeStore item's popularity: its rating count weighted by the squared rating share."""
    rating = item.get("rating") or {}
    count = float(rating.get("count", 100) or 100)
    rate = float(rating.get("rate", 4.0) or 4.0)
    return count * (rate / 5.0) ** 2


def catalogue_from_items(items: Sequence[Mapping]) -> list[dict]:
    """FakeStore-shaped items (id, title, price, category, rating) → catalogue dicts."""
    return [{
        "product_id": str(item["id"]),
        "title": str(item.get("title", "")),
        "price": round(float(item["price"]), 2),
        "category": str(item.get("category", "")),
        "popularity": popularity_of(item),
    } for item in items]
