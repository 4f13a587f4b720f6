"""Seeded simulated data for the model tests, straight from the simulator's pure behaviour model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from events.simulator import ACTIONS, SimParams, StoreModel, backfill, catalogue_from_items, synthetic_customers

END = datetime(2025, 6, 1, tzinfo=UTC)
CATALOGUE = Path(__file__).resolve().parents[2] / "products" / "fixtures" / "catalogue.json"


def catalogue() -> list[dict]:
    return catalogue_from_items(json.loads(CATALOGUE.read_text()))


@lru_cache(maxsize=4)
def simulated(seed: int = 7, customers: int = 600, days: int = 180, behaviour: str = "linear"):
    """(events frame, customers frame) as ml.features expects them, for a seeded 180-day history."""
    people = synthetic_customers(customers, seed=seed)
    model = StoreModel(people, catalogue(), SimParams(behaviour=behaviour), seed=seed)
    bf = backfill(model, start=END - timedelta(days=days), end=END, seed=seed)
    pk_of = np.array([int(p.customer_id) for p in model.profiles])
    prices = np.array(model.prices + [0.0])
    cats = np.array(model.categories_of + [""], dtype=object)
    actions = np.array(ACTIONS, dtype=object)
    prod = bf.product.astype(np.int64)
    events = pd.DataFrame({
        "pk": np.arange(1, len(bf) + 1),
        "customer": pk_of[bf.customer],
        "product": prod,
        "session_id": pd.Series(bf.session).map(lambda s: f"s-{s:x}").to_numpy(dtype=object),
        "action": actions[bf.action],
        "quantity": bf.quantity.astype(np.int64),
        "price": prices[prod],
        "order_id": np.where(bf.order >= 0, pd.Series(bf.order).map(lambda o: f"o-{o:x}"), None),
        "ts": pd.to_datetime(bf.ts, unit="ms", utc=True),
        "category": cats[prod],
    })
    custs = pd.DataFrame({"age_group": [p.age_group for p in model.profiles],
                          "signed_up_at": pd.NaT}, index=pk_of)
    custs["signed_up_at"] = pd.to_datetime(custs["signed_up_at"], utc=True)
    return events, custs


def store(seed: int = 7, customers: int = 300, days: int = 180) -> int:
    """Write a simulated history into the database (customers, products, events). Returns events stored."""
    from decimal import Decimal

    from customers.models import Customer
    from events.models import Event
    from products.models import Product

    events, custs = simulated(seed, customers, days)
    ages = {"18-25": 22, "26-35": 30, "36-45": 40, "46-55": 50, "56-65": 60, "66+": 70, "unknown": None}
    cmap = {}
    for ext, group in custs["age_group"].items():
        c = Customer(external_id=f"sim{ext}", name=f"Sim Customer {ext}", email=f"c{ext}@example.com",
                     age=ages[group])
        c.save()
        cmap[int(ext)] = c.pk
    cat = catalogue()
    pmap = {}
    for i, item in enumerate(cat):
        p = Product.objects.create(external_id=f"simp{item['product_id']}", title=item["title"][:300],
                                   category=item["category"], price=Decimal(str(item["price"])))
        pmap[i] = p.pk
    rows = [Event(event_id=f"sim-{seed}-{r.pk}", customer_id=cmap[r.customer],
                  product_id=pmap[r.product] if r.product >= 0 else None, session_id=r.session_id,
                  action=r.action, quantity=r.quantity, price=Decimal(str(round(r.price, 2))),
                  order_id=r.order_id, timestamp=r.ts.to_pydatetime())
            for r in events.itertuples(index=False)]
    Event.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
